//! `rvf index build|status`: the seam where the ANN index will plug in. There is no ANN
//! index yet, so status says so and build refuses.

use rvf_runtime::RvfStore;
use serde_json::{json, Value};

use crate::error::{CliError, Result};

pub const NO_INDEX: &str = "this store has no ANN index; queries are exact (a full scan)";

#[derive(Debug, Clone, PartialEq)]
pub struct IndexStatus {
    pub exists: bool,
    pub detail: String,
}

impl IndexStatus {
    pub fn to_json(&self) -> Value {
        json!({ "exists": self.exists, "detail": self.detail })
    }
}

pub fn status(_store: &RvfStore) -> IndexStatus {
    IndexStatus {
        exists: false,
        detail: NO_INDEX.to_string(),
    }
}

pub fn build(_store: &mut RvfStore) -> Result<IndexStatus> {
    Err(CliError::NoIndex(
        "cannot build an ANN index: this version of RVF has none yet; queries are exact (a full scan)"
            .to_string(),
    ))
}
