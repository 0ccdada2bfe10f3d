//! `rvf serve`: the stores of a directory over HTTP/JSON (axum on tokio). Store calls
//! run on the blocking pool under a per-collection read-write lock, so queries run in
//! parallel and a write is seen whole or not at all.

mod auth;
mod collections;
mod error;
mod extract;
pub mod openapi;
pub mod routes;
mod state;
mod vectors;

use std::future::Future;
use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use tokio::net::TcpListener;

use crate::cli::args::ServeArgs;
use crate::error::{CliError, Result};
pub use state::{new_state, valid_name, AppState};

/// What `rvf serve` was asked for.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub dir: PathBuf,
    pub api_key: Option<String>,
    pub read_only: bool,
    pub max_body_bytes: usize,
}

/// The application: routes, body limit and authentication.
pub fn app(state: AppState, max_body_bytes: usize) -> Router {
    routes::router()
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_key,
        ))
        .with_state(state)
}

/// Serves until `shutdown` completes, lets in-flight requests finish, then closes every
/// open store. Returns the names of stores whose close failed, with the error.
pub async fn serve(
    listener: TcpListener,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Vec<String>> {
    let state = new_state(&config.dir, config.read_only, config.api_key.clone())
        .map_err(|e| CliError::io(&config.dir, e))?;
    axum::serve(listener, app(state.clone(), config.max_body_bytes))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| CliError::Server(format!("serving: {e}")))?;
    let mut failures = Vec::new();
    for (name, c) in state.drain() {
        let store = state::write(&c).take();
        if let Some(s) = store {
            if let Err(e) = s.close() {
                failures.push(format!("{name}: {e}"));
            }
        }
    }
    Ok(failures)
}

/// Refuses to expose unauthenticated stores beyond this machine by accident.
pub fn check_bind(addr: &str, has_key: bool, allow_remote: bool) -> Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| CliError::InvalidArgument(format!("--addr {addr:?}: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(CliError::InvalidArgument(format!(
            "--addr {addr:?} resolves to nothing"
        )));
    }
    let remote = addrs.iter().any(|a| !a.ip().is_loopback());
    if remote && !has_key && !allow_remote {
        return Err(CliError::InvalidArgument(format!(
            "refusing to serve {addr} (reachable from other machines) without --api-key; \
             give a key, or --allow-unauthenticated-remote if that is really intended"
        )));
    }
    Ok(addrs)
}

pub fn run_cli(a: ServeArgs) -> Result<()> {
    if a.api_key.as_deref().is_some_and(|k| k.trim().is_empty()) {
        return Err(CliError::InvalidArgument(
            "--api-key must not be empty".into(),
        ));
    }
    if !a.dir.is_dir() {
        return Err(CliError::InvalidArgument(format!(
            "{}: not a directory",
            a.dir.display()
        )));
    }
    let addrs = check_bind(&a.addr, a.api_key.is_some(), a.allow_unauthenticated_remote)?;
    let config = ServerConfig {
        dir: a.dir.clone(),
        api_key: a.api_key.clone(),
        read_only: a.read_only,
        max_body_bytes: a.max_body_bytes,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Server(format!("starting the runtime: {e}")))?;
    rt.block_on(async move {
        let listener = TcpListener::bind(&addrs[..])
            .await
            .map_err(|e| CliError::Server(format!("binding {}: {e}", a.addr)))?;
        let local = listener
            .local_addr()
            .map_err(|e| CliError::Server(format!("binding {}: {e}", a.addr)))?;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "rvf serve: listening on http://{local} (directory {}, {}{})",
            a.dir.display(),
            if a.api_key.is_some() {
                "API key required"
            } else {
                "no API key"
            },
            if a.read_only { ", read-only" } else { "" }
        );
        let _ = out.flush();
        drop(out);
        let failures = serve(listener, &config, shutdown_signal()).await?;
        if failures.is_empty() {
            eprintln!("rvf serve: stopped; every store closed cleanly");
            Ok(())
        } else {
            Err(CliError::Server(format!(
                "stopped, but closing failed for {}",
                failures.join("; ")
            )))
        }
    })
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::check_bind;

    #[test]
    fn remote_addresses_need_a_key_or_an_explicit_flag() {
        assert!(check_bind("127.0.0.1:0", false, false).is_ok());
        assert!(check_bind("[::1]:0", false, false).is_ok());
        assert!(check_bind("localhost:0", false, false).is_ok());
        assert!(check_bind("0.0.0.0:0", false, false).is_err());
        assert!(check_bind("0.0.0.0:0", true, false).is_ok());
        assert!(check_bind("0.0.0.0:0", false, true).is_ok());
        assert!(check_bind("nonsense", true, true).is_err());
    }
}
