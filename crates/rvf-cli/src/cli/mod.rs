//! The command line: argument definitions and dispatch. Each subcommand lives in its own
//! module; they share `open_*` helpers and print through [`crate::output`].

pub mod args;
mod branching;
mod files;
mod ingest;
pub mod progress;
mod query;
mod records;
mod store;

use std::path::Path;
use std::process::ExitCode;

use rvf_runtime::{OpenOptions, RvfStore};

pub use args::{Cli, Command};

use crate::error::Result;

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let json = cli.json;
    match cli.command {
        Command::Create(a) => store::create(a, json),
        Command::Ingest(a) => ingest::run(a, json),
        Command::Query(a) => query::run(a, json),
        Command::Get(a) => records::get(a, json),
        Command::Delete(a) => records::delete(a, json),
        Command::Status(a) => store::status(&a.store, json),
        Command::Inspect(a) => files::inspect(&a.store, json),
        Command::Verify(a) => files::verify(&a.store, json),
        Command::Lineage(a) => files::lineage(&a.store, json),
        Command::Compact(a) => branching::compact(&a.store, false, json),
        Command::Materialize(a) => branching::compact(&a.store, true, json),
        Command::Branch(a) => branching::branch(a, json),
        Command::Freeze(a) => branching::freeze(&a.store, json),
        Command::Membership(a) => branching::membership(a, json),
        Command::Index(a) => store::index(a, json),
        Command::Serve(a) => crate::server::run_cli(a),
    }
    .map(|()| ExitCode::SUCCESS)
}

/// Reports a command line clap rejected as one `error[RVF_E_USAGE]` line (help and
/// version requests print normally).
pub fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        };
    }
    let text = e.render().to_string();
    let body: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Usage:"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let msg = body.join(" ");
    let msg = msg.strip_prefix("error: ").unwrap_or(&msg);
    eprintln!("error[RVF_E_USAGE]: {msg} (see `rvf --help`)");
    ExitCode::from(2)
}

pub(crate) fn open_read(path: &Path) -> Result<RvfStore> {
    Ok(RvfStore::open_readonly(path)?)
}

pub(crate) fn open_write(path: &Path) -> Result<RvfStore> {
    Ok(RvfStore::open_with(path, OpenOptions::default())?)
}
