//! The CLI's and server's errors: each has a stable code, printed as
//! `error[CODE]: message` by the CLI and returned as `{"error": {"code", "message"}}` by
//! the server.

use std::path::PathBuf;

use rvf_runtime::RvfError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CliError {
    /// An error of the store library; keeps its code.
    #[error(transparent)]
    Store(#[from] RvfError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An input file that does not parse (`at` says where: a line, row or byte).
    #[error("{path}: {at}: {detail}")]
    Parse {
        path: PathBuf,
        at: String,
        detail: String,
    },
    #[error("{0}")]
    UnsupportedFormat(String),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("no vector with id {id} in {path}")]
    IdNotFound { path: PathBuf, id: u64 },
    #[error("{0}")]
    VerifyFailed(String),
    #[error("{0}")]
    Server(String),
}

impl CliError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CliError::Store(e) => e.code(),
            CliError::Io { .. } => "RVF_E_IO",
            CliError::Parse { .. } => "RVF_E_PARSE",
            CliError::UnsupportedFormat(_) => "RVF_E_UNSUPPORTED_FORMAT",
            CliError::Usage(_) => "RVF_E_USAGE",
            CliError::InvalidArgument(_) => "RVF_E_INVALID_ARGUMENT",
            CliError::IdNotFound { .. } => "RVF_E_ID_NOT_FOUND",
            CliError::VerifyFailed(_) => "RVF_E_VERIFY",
            CliError::Server(_) => "RVF_E_SERVER",
        }
    }

    /// The process exit status: 2 for a command line that does not parse, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> CliError {
        CliError::Io {
            path: path.into(),
            source,
        }
    }

    pub fn parse(
        path: impl Into<PathBuf>,
        at: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        CliError::Parse {
            path: path.into(),
            at: at.into(),
            detail: detail.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, CliError>;
