//! `silo company create | list | delete`: manage companies from the command line.

use anyhow::bail;

use crate::app::{App, AppOptions};
use crate::config::DataOpts;
use crate::http::views::companies::Company as CompanyView;
use crate::store::primary::companies;
use crate::tenant::provision::{self, NewCompany, ProvisionError};

#[derive(clap::Subcommand, Debug)]
pub enum CompanyCommand {
    /// Create a company: its row in primary.db, its database and its index directory.
    Create {
        /// Display name, e.g. "Acme, Inc.".
        #[arg(long)]
        name: String,
        /// Directory-safe identifier (a-z, 0-9, '-', '_'); derived from the name if omitted.
        #[arg(long)]
        slug: Option<String>,
        #[arg(long)]
        industry: Option<String>,
        /// Print the created company as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List companies.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete a company and all its files (database, index, uploads). Irreversible.
    Delete {
        /// The company's id (UUID) or slug.
        id: String,
    },
}

pub fn run(data: &DataOpts, cmd: CompanyCommand) -> anyhow::Result<()> {
    let app = App::open(&data.data_dir, AppOptions::default())?;
    match cmd {
        CompanyCommand::Create {
            name,
            slug,
            industry,
            json,
        } => {
            let input = NewCompany {
                name,
                slug,
                industry,
            };
            let company = match provision::create_company(&app.primary, &app.data_dir, &input) {
                Ok(company) => company,
                Err(ProvisionError::Invalid(e)) => bail!("invalid {}: {}", e.field, e.message),
                Err(e) => return Err(e.into()),
            };
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&CompanyView::from(company))?
                );
            } else {
                println!(
                    "created company {} ({}) id {}",
                    company.name, company.slug, company.uuid
                );
            }
        }
        CompanyCommand::List { json } => {
            let conn = app.primary.get()?;
            let all = companies::all(&conn)?;
            if json {
                let all: Vec<CompanyView> = all.into_iter().map(CompanyView::from).collect();
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                println!("{:<36}  {:<24}  {:<6}  NAME", "ID", "SLUG", "ACTIVE");
                for c in &all {
                    println!(
                        "{:<36}  {:<24}  {:<6}  {}",
                        c.uuid, c.slug, c.is_active, c.name
                    );
                }
            }
        }
        CompanyCommand::Delete { id } => {
            let conn = app.primary.get()?;
            let company = super::find_company(&conn, &id)?;
            super::runtime()?.block_on(provision::delete_company(
                &app.registry,
                &app.primary,
                &app.data_dir,
                &company,
            ))?;
            println!("deleted company {} ({})", company.name, company.slug);
        }
    }
    Ok(())
}
