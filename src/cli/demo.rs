//! `silo demo`: creates the demo company (see `service::demo`) in the data directory,
//! ingests its documents with the configured embedder, and prints its accounts once.
//! `silo serve --demo` does the same on an install without companies before serving.

use anyhow::Context;

use crate::app::{App, AppOptions, AppState};
use crate::config::DataOpts;
use crate::embed::{EmbedderConfig, select_embedder};
use crate::service::demo;

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Print the company and its accounts as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub embedder: EmbedderConfig,
}

pub fn run(data: &DataOpts, args: DemoArgs) -> anyhow::Result<()> {
    let mut app = App::open(&data.data_dir, AppOptions::default())?;
    let embedder =
        select_embedder(&app.data_dir, &args.embedder).context("choosing the embedder")?;
    app.set_embedder(embedder);
    let state = std::sync::Arc::new(app);
    super::runtime()?.block_on(async {
        let made = create(&state).await?;
        print(&made, args.json)?;
        // The indexes were built here: saved, a server loads them instead of rebuilding.
        let registry = state.registry.clone();
        tokio::task::spawn_blocking(move || {
            for db in registry.open_handles() {
                crate::index::lifecycle::persist(&*db);
            }
        })
        .await?;
        anyhow::Ok(())
    })
}

/// Creates the demo company, with the error a person at a terminal can act on.
pub async fn create(app: &AppState) -> anyhow::Result<demo::Demo> {
    demo::create(app)
        .await
        .map_err(|e| anyhow::anyhow!("creating the demo company: {e}"))
}

/// Prints what was made; the passwords appear here only.
pub fn print(made: &demo::Demo, json: bool) -> anyhow::Result<()> {
    if json {
        let users: Vec<_> = made
            .users
            .iter()
            .map(|u| serde_json::json!({"email": u.email, "password": u.password, "role": u.role}))
            .collect();
        let out = serde_json::json!({
            "company": {"id": made.company.uuid, "name": made.company.name, "slug": made.company.slug},
            "documents": made.documents,
            "failed": made.failed,
            "users": users,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "Created the demo company {} (slug {}) with {} documents{}.",
        made.company.name,
        made.company.slug,
        made.documents,
        if made.failed > 0 {
            format!(" ({} failed to process)", made.failed)
        } else {
            String::new()
        }
    );
    for u in &made.users {
        println!("  {:<8} {:<24} {}", u.role, u.email, u.password);
    }
    println!("Store the passwords now: they are not shown again.");
    Ok(())
}
