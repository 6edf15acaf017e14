//! `silo user create`: add an account from the command line (e.g. a second super admin, or
//! the first admin of a company).

use anyhow::bail;

use crate::app::{App, AppOptions};
use crate::config::DataOpts;
use crate::identity::{accounts, password};
use crate::store::primary::users;

#[derive(clap::Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user. Company roles (admin, analyst, viewer) need --company; super_admin
    /// must not have one.
    Create {
        #[arg(long)]
        email: String,
        /// At least 8 characters. Prefer SILO_NEW_USER_PASSWORD to keep it out of shell history.
        #[arg(long, env = "SILO_NEW_USER_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long, value_parser = ["super_admin", "admin", "analyst", "viewer"])]
        role: String,
        /// The company's id (UUID) or slug.
        #[arg(long)]
        company: Option<String>,
        #[arg(long)]
        full_name: Option<String>,
    },
}

pub fn run(data: &DataOpts, cmd: UserCommand) -> anyhow::Result<()> {
    let UserCommand::Create {
        email,
        password: secret,
        role,
        company,
        full_name,
    } = cmd;
    let app = App::open(&data.data_dir, AppOptions::default())?;
    let conn = app.primary.get()?;
    let email = accounts::parse_email(&email)?;
    let full_name = accounts::parse_full_name(full_name.as_deref())?;
    let company_id = match &company {
        Some(key) => Some(super::find_company(&conn, key)?.id),
        None => None,
    };
    accounts::check_role(&role, company_id.is_some())?;
    password::check_strength(&secret).map_err(|m| anyhow::anyhow!("password {m}"))?;
    let hashed = password::hash(&secret).map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
    let uuid = uuid::Uuid::new_v4().to_string();
    let new = users::NewUser {
        uuid: &uuid,
        email: &email,
        username: &email,
        hashed_password: &hashed,
        full_name: full_name.as_deref(),
        company_id,
        role: &role,
    };
    match users::insert(&conn, &new) {
        Ok(_) => println!("created {role} {email} id {uuid}"),
        Err(e) if e.is_unique_violation() => bail!("a user with email {email} already exists"),
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
