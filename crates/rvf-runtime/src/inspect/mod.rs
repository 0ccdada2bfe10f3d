//! Read-only walks of `.rvf` files for tools (`rvf inspect`, `rvf verify`,
//! `rvf lineage`): what every segment and root slot holds, whether every checksum of a
//! committed generation and its ancestors holds, and a store's family tree.
//!
//! Nothing here writes, locks or maps a file: bytes are read with positioned reads, so a
//! writer truncating an uncommitted tail meanwhile causes an I/O error, not a crash.
//! Every length read from the file is checked against the file's size before use.

mod lineage;
mod reader;
mod segments;
mod verify;

pub use lineage::{lineage, LineageEntry};
pub use segments::{segments, FileLayout, RootSlotInfo, SegmentInfo};
pub use verify::{verify, Problem, VerifiedFile, VerifyReport};

/// A file id as the errors and tools print it (lowercase hex).
pub fn hex_id(id: &[u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
