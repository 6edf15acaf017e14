//! `silo user create`: add an account from the command line (e.g. a second super admin, or
//! the first admin of a company).

use std::sync::Arc;

use anyhow::bail;

use crate::app::{App, AppOptions};
use crate::config::DataOpts;
use crate::error::Error;
use crate::identity::accounts::parse_email;
use crate::service::accounts::{self, NewAccount};

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
        password,
        role,
        company,
        full_name,
    } = cmd;
    let app = Arc::new(App::open(&data.data_dir, AppOptions::default())?);
    let company_id = match &company {
        Some(key) => Some(super::find_company(&*app.primary.get()?, key)?.id),
        None => None,
    };
    let account = NewAccount {
        email: email.clone(),
        password,
        full_name,
        role,
    };
    let created =
        super::runtime()?.block_on(accounts::create_by_operator(&app, account, company_id));
    match created {
        Ok(user) => println!("created {} {} id {}", user.role, user.email, user.uuid),
        Err(Error::Conflict(_)) => {
            let email = parse_email(&email).unwrap_or(email);
            bail!("a user with email {email} already exists")
        }
        Err(Error::Invalid { field, message }) if field == "password" => {
            bail!("password {message}")
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
