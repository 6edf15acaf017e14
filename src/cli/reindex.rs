//! `silo reindex --company ID`: embed a company's chunks again with the configured embedder
//! (after changing it) and rebuild its vector index. Run it with the server stopped, or
//! restart the server afterwards so it loads the new index.

use std::io::IsTerminal;

use anyhow::Context;

use crate::app::{App, AppOptions};
use crate::config::DataOpts;
use crate::embed::usage::SYSTEM_USER;
use crate::embed::{EmbedderConfig, select_embedder};
use crate::index::reembed::{self as reindex, Charge};
use crate::tenant::{TenantCtx, context};

#[derive(clap::Args, Debug)]
pub struct ReindexArgs {
    /// The company's id (UUID) or slug.
    #[arg(long)]
    pub company: String,
    #[command(flatten)]
    pub embedder: EmbedderConfig,
}

pub fn run(data: &DataOpts, args: ReindexArgs) -> anyhow::Result<()> {
    let app = App::open(&data.data_dir, AppOptions::default())?;
    let company = super::find_company(&*app.primary.get()?, &args.company)?;
    let embedder =
        select_embedder(&app.data_dir, &args.embedder).context("choosing the embedder")?;
    let report = super::runtime()?.block_on(async {
        let db = app.registry.get(company.id).await?;
        let dir = db.dir().to_path_buf();
        let ctx = TenantCtx::new(db, None);
        let bar = std::io::stderr().is_terminal().then(|| {
            indicatif::ProgressBar::new(0).with_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} chunks {eta}")
                    .expect("a valid template"),
            )
        });
        let embedder = embedder.clone();
        let prices = app.workspace.prices.clone();
        let report = tokio::task::spawn_blocking(move || {
            context::sync_scope(ctx, || {
                context::with_conn(|conn| {
                    let charge = Charge {
                        prices: &prices,
                        user_id: SYSTEM_USER,
                    };
                    reindex::reindex(conn, &dir, embedder.as_ref(), charge, &mut |done, total| {
                        match &bar {
                            Some(bar) => {
                                bar.set_length(total as u64);
                                bar.set_position(done as u64);
                            }
                            None if done % 1024 < 8 || done == total => {
                                eprintln!("{done}/{total} chunks")
                            }
                            None => {}
                        }
                    })
                })
            })
        })
        .await??;
        anyhow::Ok(report)
    })?;
    println!(
        "company {}: {} chunks embedded with {} ({} already its own), {} in the index",
        company.slug,
        report.reembedded,
        embedder.id(),
        report.adopted,
        report.indexed
    );
    Ok(())
}
