//! `sillage-collector`: see the library docs and collector/README.md.

use std::io::Write;
use std::net::SocketAddr;

use clap::Parser;
use sillage_collector::cli::{Cli, Command};
use sillage_collector::report;
use sillage_collector::{app, AppState};

#[tokio::main]
async fn main() {
    // --help and --version print to stdout and exit 0; a bad flag exits 2.
    let cli = Cli::parse();
    let serve = match cli.command {
        Some(Command::Report { args }) => std::process::exit(report::cli::report(&args)),
        Some(Command::Fixture { args }) => std::process::exit(report::cli::fixture_cmd(&args)),
        Some(Command::Serve(a)) => *a,
        None => cli.serve,
    };
    let (addr, options) = serve.into_options();
    for (what, dir) in [("--www", &options.www), ("--sdk", &options.sdk)] {
        if !dir.is_dir() {
            eprintln!(
                "sillage-collector: warning: {what} {} is not a directory",
                dir.display()
            );
        }
    }
    if options.admin_token.is_none() {
        eprintln!(
            "sillage-collector: no admin token: the read and admin routes answer 401 (set --admin-token or SILLAGE_ADMIN_TOKEN)"
        );
    }
    let state = match AppState::open(options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sillage-collector: {e}");
            std::process::exit(1);
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("sillage-collector: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    let addr = listener.local_addr().expect("bound address");
    // Listen for the signals before saying where we listen: a harness may
    // send SIGTERM as soon as it reads that line.
    let stop = shutdown();
    let background = state.start_background();
    println!("sillage-collector listening on http://{addr}");
    let _ = std::io::stdout().flush();
    let served = axum::serve(
        listener,
        app(state.clone()).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stop)
    .await;
    // In-flight requests have finished: every acknowledged event is committed.
    background.stop().await;
    state.checkpoint();
    if let Err(e) = served {
        eprintln!("sillage-collector: {e}");
        std::process::exit(1);
    }
    // stdout may be a closed pipe by now (a harness that read the first line).
    let _ = writeln!(std::io::stdout(), "sillage-collector stopped");
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed when
/// this is called, not when the future is first polled.
fn shutdown() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let int = signal(SignalKind::interrupt());
        let term = signal(SignalKind::terminate());
        async move {
            match (int, term) {
                (Ok(mut int), Ok(mut term)) => {
                    tokio::select! {
                        _ = int.recv() => {},
                        _ = term.recv() => {},
                    }
                }
                _ => {
                    eprintln!("sillage-collector: cannot listen for signals; Ctrl-C may not stop it gracefully");
                    std::future::pending::<()>().await
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
