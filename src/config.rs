//! Typed configuration, loaded once from flags and environment (clap with `env`).

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::tenant::OnSchemaBehind;

/// Where Silo keeps its files; shared by every subcommand.
#[derive(clap::Args, Clone, Debug)]
pub struct DataOpts {
    /// Data directory: primary.db, companies/<slug>/, backups/, the JWT secret.
    #[arg(long, env = "SILO_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
}

/// Settings of a running server.
#[derive(clap::Args, Clone, Debug)]
pub struct ServerOpts {
    /// Address and port to listen on.
    #[arg(long, env = "SILO_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Most company databases kept open at once; idle ones past this are closed (LRU).
    #[arg(long, env = "SILO_MAX_OPEN_COMPANIES", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_open_companies: u32,

    /// What to do when a company's schema is behind this binary on open.
    #[arg(
        long,
        env = "SILO_ON_SCHEMA_BEHIND",
        value_enum,
        default_value = "migrate"
    )]
    pub on_schema_behind: OnSchemaBehind,

    /// Email of the first super admin, created when the installation has none.
    #[arg(long, env = "SILO_ADMIN_EMAIL", default_value = "admin@localhost")]
    pub admin_email: String,

    /// Password of the first super admin; generated and printed once if unset.
    #[arg(long, env = "SILO_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
}
