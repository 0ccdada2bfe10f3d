use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// Every error `rvf_runtime` returns. Each variant has a stable [`RvfError::code`] and a
/// message naming the file (where there is one) and what is wrong.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RvfError {
    #[error("{path}: I/O error while {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{path}: file is damaged: {detail} ({})", display_offset(*.offset))]
    Corrupt {
        path: PathBuf,
        /// Where the damage was found, when a byte offset is known.
        offset: Option<u64>,
        detail: String,
    },
    #[error("{path}: {detail}")]
    Incompatible { path: PathBuf, detail: String },
    #[error("{path}: the file ends at byte {file_len}, but its last commit (epoch {epoch}) extends to byte {committed_end}: its tail is lost (an interrupted copy or a failing disk?). Open it with OpenOptions {{ recover: true, .. }} to read the newest generation it still holds")]
    Truncated {
        path: PathBuf,
        epoch: u64,
        committed_end: u64,
        file_len: u64,
    },
    #[error("{path}: not an RVF store (no valid root; {detail})")]
    NotAStore { path: PathBuf, detail: String },
    #[error("{path}: a file already exists there")]
    AlreadyExists { path: PathBuf },
    #[error("{path}: no such file")]
    FileNotFound { path: PathBuf },
    #[error("{path}: another writer holds this store open (open it read-only, or close the other writer)")]
    Locked { path: PathBuf },
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("vector has dimension {got}, the store has dimension {expected}")]
    DimensionMismatch { expected: u16, got: usize },
    #[error("{path}: the store is frozen; branch from it to write")]
    Frozen { path: PathBuf },
    #[error("{path}: the store was opened read-only")]
    ReadOnly { path: PathBuf },
    #[error("{path}: an earlier write failed ({detail}); reopen the store before writing again")]
    Poisoned { path: PathBuf, detail: String },
    #[error("{path}: operation needs a copy-on-write child, and this store has no parent")]
    NotAChild { path: PathBuf },
    #[error("parent {file_id} of {child} not found (tried: {})", display_paths(.tried))]
    ParentMissing {
        child: PathBuf,
        file_id: String,
        tried: Vec<PathBuf>,
    },
    #[error("parent {file_id} of {child} at {path} cannot be used: {reason}")]
    ParentMismatch {
        child: PathBuf,
        file_id: String,
        path: PathBuf,
        reason: String,
    },
    #[error("lineage too deep: a branch may have at most {max} ancestors")]
    LineageTooDeep { max: u16 },
    /// A broken invariant of this library (a bug), not a problem of the caller or file.
    #[error("internal error (please report): {0}")]
    Internal(String),
}

fn display_offset(offset: Option<u64>) -> String {
    match offset {
        Some(o) => format!("at byte offset {o}"),
        None => "offset unknown".into(),
    }
}

fn display_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "no candidate paths".into();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl RvfError {
    /// A stable, machine-readable code for the error kind.
    pub fn code(&self) -> &'static str {
        match self {
            RvfError::Io { .. } => "RVF_E_IO",
            RvfError::Corrupt { .. } => "RVF_E_CORRUPT",
            RvfError::Incompatible { .. } => "RVF_E_INCOMPATIBLE",
            RvfError::Truncated { .. } => "RVF_E_TRUNCATED",
            RvfError::NotAStore { .. } => "RVF_E_NOT_A_STORE",
            RvfError::AlreadyExists { .. } => "RVF_E_EXISTS",
            RvfError::FileNotFound { .. } => "RVF_E_NOT_FOUND",
            RvfError::Locked { .. } => "RVF_E_LOCKED",
            RvfError::InvalidArgument(_) => "RVF_E_INVALID_ARGUMENT",
            RvfError::DimensionMismatch { .. } => "RVF_E_DIMENSION",
            RvfError::Frozen { .. } => "RVF_E_FROZEN",
            RvfError::ReadOnly { .. } => "RVF_E_READ_ONLY",
            RvfError::Poisoned { .. } => "RVF_E_POISONED",
            RvfError::NotAChild { .. } => "RVF_E_NOT_A_CHILD",
            RvfError::ParentMissing { .. } => "RVF_E_PARENT_MISSING",
            RvfError::ParentMismatch { .. } => "RVF_E_PARENT_MISMATCH",
            RvfError::LineageTooDeep { .. } => "RVF_E_LINEAGE_DEPTH",
            RvfError::Internal(_) => "RVF_E_INTERNAL",
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, op: &'static str, source: io::Error) -> Self {
        RvfError::Io {
            path: path.into(),
            op,
            source,
        }
    }

    /// Damage found at a known byte offset.
    pub(crate) fn corrupt(path: impl Into<PathBuf>, offset: u64, detail: impl ToString) -> Self {
        RvfError::Corrupt {
            path: path.into(),
            offset: Some(offset),
            detail: detail.to_string(),
        }
    }

    /// Damage found in the state the file describes, at no single offset (e.g. a slot
    /// that no run covers).
    pub(crate) fn corrupt_state(path: impl Into<PathBuf>, detail: impl ToString) -> Self {
        RvfError::Corrupt {
            path: path.into(),
            offset: None,
            detail: detail.to_string(),
        }
    }

    pub(crate) fn internal(detail: impl ToString) -> Self {
        RvfError::Internal(detail.to_string())
    }
}

pub type Result<T> = std::result::Result<T, RvfError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_file_and_codes_are_distinct() {
        let e = RvfError::Locked {
            path: "/x/a.rvf".into(),
        };
        assert!(e.to_string().contains("/x/a.rvf"));
        assert_eq!(e.code(), "RVF_E_LOCKED");
        let missing = RvfError::ParentMissing {
            child: "c.rvf".into(),
            file_id: "ab".into(),
            tried: vec!["p1.rvf".into(), "p2.rvf".into()],
        };
        assert!(missing.to_string().contains("p1.rvf, p2.rvf"));
        assert_ne!(missing.code(), e.code());
        let known = RvfError::corrupt("a.rvf", 4096, "bad");
        assert!(
            known.to_string().ends_with("(at byte offset 4096)"),
            "{known}"
        );
        let unknown = RvfError::corrupt_state("a.rvf", "bad");
        assert!(
            unknown.to_string().ends_with("(offset unknown)"),
            "{unknown}"
        );
        assert_eq!(RvfError::internal("x").code(), "RVF_E_INTERNAL");
    }
}
