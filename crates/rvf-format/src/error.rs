use thiserror::Error;

/// Why a sequence of bytes is not a valid piece of an RVF file.
///
/// Decoders never panic and never allocate more than the input can hold; every
/// failure ends up here, naming the structure that was being read.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FormatError {
    #[error("{what}: truncated (need {need} bytes, have {have})")]
    Truncated {
        what: &'static str,
        need: u64,
        have: u64,
    },
    #[error("{what}: bad magic bytes")]
    BadMagic { what: &'static str },
    #[error("{what}: checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    Checksum {
        what: &'static str,
        stored: u32,
        computed: u32,
    },
    #[error("format version {found} is not supported (this build reads versions {min}..={max})")]
    UnsupportedVersion { found: u16, min: u16, max: u16 },
    #[error("unknown segment type {0:#04x}")]
    UnknownSegmentType(u8),
    #[error("file needs {kind} features {unknown:#x} that this build (format version {version}) does not know")]
    UnknownFeatures {
        kind: &'static str,
        unknown: u64,
        version: u16,
    },
    #[error("{what}: {detail}")]
    Invalid { what: &'static str, detail: String },
    #[error("{what}: length {len} exceeds the limit {max}")]
    TooLarge {
        what: &'static str,
        len: u64,
        max: u64,
    },
}

impl FormatError {
    pub(crate) fn invalid(what: &'static str, detail: impl Into<String>) -> Self {
        FormatError::Invalid {
            what,
            detail: detail.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, FormatError>;
