//! Server settings, from flags or environment variables.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Parser;

#[derive(Debug, Clone, Parser)]
#[command(name = "cairn-server", version, about = "Cairn sync server")]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "CAIRN_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one; the chosen URL is printed).
    #[arg(long, env = "CAIRN_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Directory for the server's data (the SQLite database file lives here).
    #[arg(long, env = "CAIRN_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Database URL: `postgres://...` for PostgreSQL, `sqlite://...` for another SQLite
    /// file. Default: `<data-dir>/cairn.db`.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Directory of the built app to serve.
    #[arg(long, env = "CAIRN_STATIC_DIR", default_value = "dist")]
    pub static_dir: PathBuf,
}

impl Config {
    /// The database URL in use: the given one, or the SQLite file in the data dir.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("cairn.db").display()),
        }
    }
}
