//! `sillage-collector`: see the library docs and collector/README.md.

use std::io::Write;

use sillage_collector::{app, parse_args, AppState, USAGE};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(code) = sillage_collector::report::cli::dispatch(&args) {
        std::process::exit(code);
    }
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return;
    }
    let cli = match parse_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sillage-collector: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    for (what, dir) in [("--www", &cli.options.www), ("--sdk", &cli.options.sdk)] {
        if !dir.is_dir() {
            eprintln!(
                "sillage-collector: warning: {what} {} is not a directory",
                dir.display()
            );
        }
    }
    let state = match AppState::open(cli.options.clone()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sillage-collector: {e}");
            std::process::exit(1);
        }
    };
    let listener = match tokio::net::TcpListener::bind(cli.addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("sillage-collector: cannot listen on {}: {e}", cli.addr);
            std::process::exit(1);
        }
    };
    let addr = listener.local_addr().expect("bound address");
    println!("sillage-collector listening on http://{addr}");
    let _ = std::io::stdout().flush();
    let served = axum::serve(listener, app(state.clone()))
        .with_graceful_shutdown(shutdown())
        .await;
    // In-flight requests have finished: every acknowledged event is committed.
    state.checkpoint();
    if let Err(e) = served {
        eprintln!("sillage-collector: {e}");
        std::process::exit(1);
    }
    // stdout may be a closed pipe by now (a harness that read the first line).
    let _ = writeln!(std::io::stdout(), "sillage-collector stopped");
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
