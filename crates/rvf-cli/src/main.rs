//! `rvf`: create, fill, query, inspect, branch and serve RVF stores.

use std::process::ExitCode;

use clap::Parser;
use rvf_cli::cli::{self, Cli};
use rvf_cli::CliError;

fn main() -> ExitCode {
    // A bug must still end in one readable line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info.to_string().replace('\n', " ");
        eprintln!("error[RVF_E_INTERNAL]: internal error (a bug in rvf, please report it): {msg}");
    }));
    let args = match Cli::try_parse() {
        Ok(a) => a,
        Err(e) => return cli::usage_error(e),
    };
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            report(&e);
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn report(e: &CliError) {
    if let CliError::Io { source, .. } = e {
        // `rvf query … | head` closing the pipe is not an error worth a message.
        if source.kind() == std::io::ErrorKind::BrokenPipe {
            return;
        }
    }
    let msg = e.to_string().replace('\n', " ");
    eprintln!("error[{}]: {msg}", e.code());
}
