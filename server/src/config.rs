//! Server settings, from flags or environment variables.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{Parser, ValueEnum};

use crate::auth::PasswordCost;
pub use crate::db::DbOptions;
pub use crate::rate_limit::Cidr;
use crate::rate_limit::RateLimit;

/// Days a session token stays valid unless configured otherwise.
pub const DEFAULT_SESSION_DAYS: u32 = 30;
/// Sessions one account may have; signing in once more ends its least recently used.
pub const DEFAULT_MAX_SESSIONS_PER_USER: usize = 50;
/// Seconds between two purges of expired sessions.
pub const DEFAULT_SESSION_PURGE_SECS: u64 = 5 * 60;
/// A session's `last_used_at` is written at most this often.
pub const SESSION_TOUCH_INTERVAL: Duration = Duration::from_secs(60);
/// Per account: 10 requests a second on average, 120 at once (a first sync of a large
/// account pushes and pulls in quick succession).
pub const DEFAULT_USER_RATE: RateLimit = RateLimit {
    per_minute: 600,
    burst: 120,
};
/// Per client address, registration and log-in: one every 3 s on average, 10 at once.
pub const DEFAULT_AUTH_RATE: RateLimit = RateLimit {
    per_minute: 20,
    burst: 10,
};
/// Per account (by e-mail address, known or not), failed log-ins: one every 6 s on
/// average after 10 at once. Guessing a password from many addresses is as slow as from
/// one; its owner, who knows it, is not kept out once the wrong guesses stop.
pub const DEFAULT_LOGIN_FAILURE_RATE: RateLimit = RateLimit {
    per_minute: 10,
    burst: 10,
};
/// API requests being answered at once, over all accounts; more get `503 server_busy`.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 512;
/// API requests of one account being answered at once; more get `429 rate_limited`. Each
/// may hold a push body of up to 4 MiB, or a pull page of up to 4 MiB, while it waits.
pub const DEFAULT_MAX_IN_FLIGHT_PER_ACCOUNT: usize = 16;
/// PostgreSQL connections per server process.
pub const DEFAULT_DB_POOL_SIZE: u32 = 10;
/// Change streams (`GET /api/v1/sync/events`) open at once per server process; more get
/// `503 server_busy`. An idle stream costs a connection and a few KiB.
pub const DEFAULT_MAX_EVENT_STREAMS: usize = 10_000;
/// Change streams one account may hold open at once (one per visible page of each of its
/// devices); more get `429 rate_limited`. So one account cannot take every stream.
pub const DEFAULT_MAX_EVENT_STREAMS_PER_ACCOUNT: usize = 32;
/// Seconds between two heartbeats (`: heartbeat` comments) on an idle change stream,
/// so proxies keep it open (many close a connection silent for 30-60 s).
pub const DEFAULT_EVENT_HEARTBEAT_SECS: u64 = 25;

/// Megabytes (MiB) of blobs one account may hold on the server.
pub const DEFAULT_BLOB_QUOTA_MB: u64 = 1024;
/// The largest blob taken, in megabytes (MiB): [`cairn_protocol::blobs::MAX_BLOB_BYTES`].
pub const DEFAULT_MAX_BLOB_MB: u64 = cairn_protocol::blobs::MAX_BLOB_BYTES / MIB;
/// Hours a blob no stored record names is kept before the sweep deletes it: long enough
/// for a device that uploaded it to push the record naming it, or for an undo.
pub const DEFAULT_BLOB_GRACE_HOURS: u64 = 72;
/// A megabyte, as the blob flags count it.
pub const MIB: u64 = 1024 * 1024;

/// Argon2 hashes computed at once (each takes 19 MiB and a core for tens of ms): one per
/// core; more wait their turn.
pub fn default_max_concurrent_hashes() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

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
    /// Log format: `pretty` (human-readable lines) or `json` (one object per line).
    #[arg(long, env = "CAIRN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
    /// Days a session token stays valid.
    #[arg(long, env = "CAIRN_SESSION_DAYS", default_value_t = DEFAULT_SESSION_DAYS)]
    pub session_days: u32,
    /// Sessions one account may have at once; signing in once more ends its least
    /// recently used others (0: no limit).
    #[arg(long, env = "CAIRN_MAX_SESSIONS_PER_USER", default_value_t = DEFAULT_MAX_SESSIONS_PER_USER)]
    pub max_sessions_per_user: usize,
    /// Seconds between two purges of expired sessions (0: never purged; expired
    /// sessions still stop working, and a user's are deleted when that user signs in).
    #[arg(long, env = "CAIRN_SESSION_PURGE_SECS", default_value_t = DEFAULT_SESSION_PURGE_SECS)]
    pub session_purge_secs: u64,
    /// Requests a minute one account may make on average (0: no limit).
    #[arg(long, env = "CAIRN_USER_RATE_PER_MINUTE", default_value_t = DEFAULT_USER_RATE.per_minute)]
    pub user_rate_per_minute: u32,
    /// Requests one account may make in a burst.
    #[arg(long, env = "CAIRN_USER_RATE_BURST", default_value_t = DEFAULT_USER_RATE.burst)]
    pub user_rate_burst: u32,
    /// Registrations and log-ins a minute from one client address (0: no limit).
    #[arg(long, env = "CAIRN_AUTH_RATE_PER_MINUTE", default_value_t = DEFAULT_AUTH_RATE.per_minute)]
    pub auth_rate_per_minute: u32,
    /// Registrations and log-ins from one client address in a burst.
    #[arg(long, env = "CAIRN_AUTH_RATE_BURST", default_value_t = DEFAULT_AUTH_RATE.burst)]
    pub auth_rate_burst: u32,
    /// Failed log-ins a minute for one account (by e-mail address) once its burst is
    /// spent (0: no limit).
    #[arg(long, env = "CAIRN_LOGIN_FAILURES_PER_MINUTE", default_value_t = DEFAULT_LOGIN_FAILURE_RATE.per_minute)]
    pub login_failures_per_minute: u32,
    /// Failed log-ins one account may have in a burst.
    #[arg(long, env = "CAIRN_LOGIN_FAILURES_BURST", default_value_t = DEFAULT_LOGIN_FAILURE_RATE.burst)]
    pub login_failures_burst: u32,
    /// Reverse proxies whose `X-Forwarded-For` is believed, as CIDR blocks or addresses
    /// (`10.0.0.0/8`, `::1`), separated by commas or given several times. Without one,
    /// the client's address is the TCP peer's and `X-Forwarded-For` is ignored.
    #[arg(long = "trusted-proxy", env = "CAIRN_TRUSTED_PROXIES", value_delimiter = ',', num_args = 1..)]
    pub trusted_proxies: Vec<Cidr>,
    /// API requests answered at once over all accounts; more get `503 server_busy`
    /// (0: no limit).
    #[arg(long, env = "CAIRN_MAX_IN_FLIGHT", default_value_t = DEFAULT_MAX_IN_FLIGHT)]
    pub max_in_flight: usize,
    /// API requests of one account answered at once; more get `429 rate_limited`
    /// (0: no limit).
    #[arg(long, env = "CAIRN_MAX_IN_FLIGHT_PER_ACCOUNT", default_value_t = DEFAULT_MAX_IN_FLIGHT_PER_ACCOUNT)]
    pub max_in_flight_per_account: usize,
    /// Argon2 password hashes computed at once (default: one per core).
    #[arg(long, env = "CAIRN_MAX_CONCURRENT_HASHES", default_value_t = default_max_concurrent_hashes())]
    pub max_concurrent_hashes: usize,
    /// PostgreSQL connections this process keeps at most.
    #[arg(long, env = "CAIRN_DB_POOL_SIZE", default_value_t = DEFAULT_DB_POOL_SIZE)]
    pub db_pool_size: u32,
    /// Change streams (`GET /api/v1/sync/events`) open at once in this process; more
    /// get `503 server_busy` (0: no limit). They do not count as requests in flight.
    #[arg(long, env = "CAIRN_MAX_EVENT_STREAMS", default_value_t = DEFAULT_MAX_EVENT_STREAMS)]
    pub max_event_streams: usize,
    /// Change streams one account may hold open at once in this process; more get
    /// `429 rate_limited` (0: no limit).
    #[arg(long, env = "CAIRN_MAX_EVENT_STREAMS_PER_ACCOUNT", default_value_t = DEFAULT_MAX_EVENT_STREAMS_PER_ACCOUNT)]
    pub max_event_streams_per_account: usize,
    /// Seconds between two heartbeats on an idle change stream (at least 1).
    #[arg(long, env = "CAIRN_EVENT_HEARTBEAT_SECS", default_value_t = DEFAULT_EVENT_HEARTBEAT_SECS)]
    pub event_heartbeat_secs: u64,
    /// Megabytes (MiB) of blobs (a note's images) one account may hold; an upload past
    /// it is `507 quota_exceeded`.
    #[arg(long, env = "CAIRN_BLOB_QUOTA_MB", default_value_t = DEFAULT_BLOB_QUOTA_MB)]
    pub blob_quota_mb: u64,
    /// The largest blob taken, in megabytes (MiB); a larger upload is `413 blob_too_large`.
    #[arg(long, env = "CAIRN_MAX_BLOB_MB", default_value_t = DEFAULT_MAX_BLOB_MB)]
    pub max_blob_mb: u64,
    /// Hours a blob no stored record names is kept before it is deleted (checked with
    /// each purge of expired sessions, `--session-purge-secs`).
    #[arg(long, env = "CAIRN_BLOB_GRACE_HOURS", default_value_t = DEFAULT_BLOB_GRACE_HOURS)]
    pub blob_grace_hours: u64,
    /// Give the database a new epoch at start, after restoring it from a backup: every
    /// device then pulls from the start and pushes again everything it holds, so what
    /// the backup lacks comes back. Use it for one start of one server (with every other
    /// server on the database stopped), not for every start.
    #[arg(long, env = "CAIRN_NEW_EPOCH", value_parser = BoolishValueParser::new())]
    pub new_epoch: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

impl Config {
    /// The database URL in use: the given one, or the SQLite file in the data dir.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("cairn.db").display()),
        }
    }

    pub fn settings(&self) -> Settings {
        Settings {
            session_ttl: Duration::from_secs(u64::from(self.session_days) * 24 * 60 * 60),
            max_sessions_per_user: self.max_sessions_per_user,
            session_purge_interval: Duration::from_secs(self.session_purge_secs),
            session_touch_interval: SESSION_TOUCH_INTERVAL,
            user_rate: RateLimit {
                per_minute: self.user_rate_per_minute,
                burst: self.user_rate_burst,
            },
            auth_rate: RateLimit {
                per_minute: self.auth_rate_per_minute,
                burst: self.auth_rate_burst,
            },
            login_failure_rate: RateLimit {
                per_minute: self.login_failures_per_minute,
                burst: self.login_failures_burst,
            },
            trusted_proxies: self.trusted_proxies.clone(),
            max_in_flight: self.max_in_flight,
            max_in_flight_per_account: self.max_in_flight_per_account,
            max_concurrent_hashes: self.max_concurrent_hashes.max(1),
            password_cost: PasswordCost::default(),
            max_event_streams: self.max_event_streams,
            max_event_streams_per_account: self.max_event_streams_per_account,
            event_heartbeat: Duration::from_secs(self.event_heartbeat_secs.max(1)),
            blob_quota_bytes: self.blob_quota_mb.saturating_mul(MIB),
            max_blob_bytes: self.max_blob_mb.saturating_mul(MIB),
            blob_grace: Duration::from_secs(self.blob_grace_hours.saturating_mul(60 * 60)),
        }
    }

    /// How to connect to the database.
    pub fn db_options(&self) -> DbOptions {
        DbOptions {
            pool_size: self.db_pool_size.max(1),
            ..DbOptions::default()
        }
    }
}

/// What the handlers need to know besides the database: limits, lifetimes, costs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// How long a session token stays valid.
    pub session_ttl: Duration,
    /// Sessions one account may have at once (0: no limit).
    pub max_sessions_per_user: usize,
    /// How often [`crate::serve`] deletes expired sessions (zero: never).
    pub session_purge_interval: Duration,
    /// A session's `last_used_at` is written at most this often (zero: on every
    /// request).
    pub session_touch_interval: Duration,
    /// Per account, on every authenticated request.
    pub user_rate: RateLimit,
    /// Per client address, on registration and log-in.
    pub auth_rate: RateLimit,
    /// Per account (e-mail address), on failed log-ins.
    pub login_failure_rate: RateLimit,
    /// The reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<Cidr>,
    /// API requests answered at once (0: no limit).
    pub max_in_flight: usize,
    /// API requests of one account answered at once (0: no limit).
    pub max_in_flight_per_account: usize,
    /// Argon2 hashes computed at once.
    pub max_concurrent_hashes: usize,
    /// Argon2id cost of new password hashes.
    pub password_cost: PasswordCost,
    /// Change streams open at once (0: no limit).
    pub max_event_streams: usize,
    /// Change streams of one account open at once (0: no limit).
    pub max_event_streams_per_account: usize,
    /// How long an idle change stream stays silent before a heartbeat comment.
    pub event_heartbeat: Duration,
    /// Bytes of blobs one account may hold.
    pub blob_quota_bytes: u64,
    /// The largest blob taken, in bytes.
    pub max_blob_bytes: u64,
    /// How long a blob no stored record names is kept; [`crate::serve`] sweeps the
    /// older ones with each purge of expired sessions.
    pub blob_grace: Duration,
}

impl Default for Settings {
    /// The defaults of the command-line flags.
    fn default() -> Self {
        Settings {
            session_ttl: Duration::from_secs(u64::from(DEFAULT_SESSION_DAYS) * 24 * 60 * 60),
            max_sessions_per_user: DEFAULT_MAX_SESSIONS_PER_USER,
            session_purge_interval: Duration::from_secs(DEFAULT_SESSION_PURGE_SECS),
            session_touch_interval: SESSION_TOUCH_INTERVAL,
            user_rate: DEFAULT_USER_RATE,
            auth_rate: DEFAULT_AUTH_RATE,
            login_failure_rate: DEFAULT_LOGIN_FAILURE_RATE,
            trusted_proxies: Vec::new(),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_in_flight_per_account: DEFAULT_MAX_IN_FLIGHT_PER_ACCOUNT,
            max_concurrent_hashes: default_max_concurrent_hashes(),
            password_cost: PasswordCost::default(),
            max_event_streams: DEFAULT_MAX_EVENT_STREAMS,
            max_event_streams_per_account: DEFAULT_MAX_EVENT_STREAMS_PER_ACCOUNT,
            event_heartbeat: Duration::from_secs(DEFAULT_EVENT_HEARTBEAT_SECS),
            blob_quota_bytes: DEFAULT_BLOB_QUOTA_MB * MIB,
            max_blob_bytes: DEFAULT_MAX_BLOB_MB * MIB,
            blob_grace: Duration::from_secs(DEFAULT_BLOB_GRACE_HOURS * 60 * 60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_epoch_is_asked_for_by_flag_only() {
        let parse = |args: &[&str]| {
            Config::try_parse_from(std::iter::once("cairn-server").chain(args.iter().copied()))
        };
        assert!(!parse(&[]).unwrap().new_epoch);
        assert!(parse(&["--new-epoch"]).unwrap().new_epoch);
        // A flag: it takes no value (CAIRN_NEW_EPOCH=1 or =true sets it too).
        assert!(parse(&["--new-epoch=no"]).is_err());
    }

    #[test]
    fn blob_limits_are_flags_in_mebibytes_and_hours() {
        let parse = |args: &[&str]| {
            Config::try_parse_from(std::iter::once("cairn-server").chain(args.iter().copied()))
                .unwrap()
                .settings()
        };
        let defaults = parse(&[]);
        assert_eq!(defaults, Settings::default());
        assert_eq!(defaults.blob_quota_bytes, 1024 * 1024 * 1024);
        assert_eq!(
            defaults.max_blob_bytes,
            cairn_protocol::blobs::MAX_BLOB_BYTES
        );
        assert_eq!(defaults.blob_grace, Duration::from_secs(72 * 60 * 60));
        let set = parse(&[
            "--blob-quota-mb",
            "5",
            "--max-blob-mb",
            "2",
            "--blob-grace-hours",
            "1",
        ]);
        assert_eq!(set.blob_quota_bytes, 5 * MIB);
        assert_eq!(set.max_blob_bytes, 2 * MIB);
        assert_eq!(set.blob_grace, Duration::from_secs(3600));
    }

    #[test]
    fn trusted_proxies_are_cidr_blocks_given_in_a_list_or_one_by_one() {
        let parse = |args: &[&str]| {
            Config::try_parse_from(std::iter::once("cairn-server").chain(args.iter().copied()))
        };
        assert!(parse(&[]).unwrap().trusted_proxies.is_empty());
        let config = parse(&[
            "--trusted-proxy",
            "10.0.0.0/8,::1",
            "--trusted-proxy",
            "192.168.1.7",
        ])
        .unwrap();
        assert_eq!(config.trusted_proxies.len(), 3);
        assert!(parse(&["--trusted-proxy", "10.0.0.0/33"]).is_err());
        assert!(parse(&["--trusted-proxy", "example.org"]).is_err());
    }
}
