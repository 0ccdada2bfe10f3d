//! The `rvf` command-line tool and `rvf serve` HTTP server: a thin layer over
//! `rvf_runtime`. The binary is `src/main.rs`; this library holds its parts so that
//! tests and the load example can drive them.

pub mod cli;
pub mod error;
pub mod formats;
pub mod index;
pub mod output;
pub mod report;
pub mod search;
pub mod server;

pub use error::{CliError, Result};
