use std::error::Error;
use std::net::SocketAddr;

use cairn_server::config::LogFormat;
use cairn_server::{serve, AppState, Config, Database};
use clap::Parser;

#[tokio::main]
async fn main() {
    let config = Config::parse();
    init_logging(config.log_format);
    if let Err(err) = run(config).await {
        eprintln!("cairn-server: {err}");
        std::process::exit(1);
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,tower_http=warn,sqlx=warn".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        LogFormat::Pretty => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
}

async fn run(config: Config) -> Result<(), Box<dyn Error>> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        format!(
            "cannot create the data directory {}: {e}",
            config.data_dir.display()
        )
    })?;
    let mut db = Database::connect_with(&config.database_url(), &config.db_options())
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    if config.new_epoch {
        let old = db
            .renew_epoch()
            .await
            .map_err(|e| format!("cannot give the database a new epoch: {e}"))?;
        tracing::warn!(
            old_epoch = %old,
            epoch = db.epoch(),
            "the database has a new epoch (--new-epoch): every device will pull from the \
             start and push again everything it holds"
        );
    }
    if !config.static_dir.join("index.html").is_file() {
        tracing::warn!(
            dir = %config.static_dir.display(),
            "no built app found (index.html missing); only the API is served"
        );
    }
    let state = AppState::new(db.clone(), config.static_dir.clone(), config.settings());
    state
        .prepare()
        .await
        .map_err(|e| format!("cannot prepare password hashing: {e:?}"))?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(config.host, config.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", config.host, config.port))?;
    let addr = listener.local_addr()?;
    tracing::info!(
        database = db.kind(),
        epoch = db.epoch(),
        "listening on {addr}"
    );
    // The e2e tests and xtask read this line to learn the port.
    println!("Cairn is running at http://{addr}/");
    serve(listener, state, shutdown_signal()).await?;
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM; in-flight requests then finish before the server exits.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutting down: finishing the requests in flight");
}
