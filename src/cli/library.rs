//! `silo library add | list | delete`: the global document library from the command line,
//! through the same services as /api/admin/library (acting as a super admin).

use std::path::PathBuf;

use anyhow::Context;

use crate::app::{App, AppOptions, AppState};
use crate::config::DataOpts;
use crate::embed::{EmbedderConfig, select_embedder};
use crate::http::validate;
use crate::http::views::documents::Document as DocumentView;
use crate::identity::Actor;
use crate::ingest::uploads::StagedFile;
use crate::service::documents::{self, UploadMeta};
use crate::service::{library, trash};
use crate::store::company::Page;
use crate::store::company::documents::DocumentFilter;
use crate::store::company::trash::Kind;
use crate::tenant::context;
use crate::tenant::provision::UPLOADS_DIR;

/// How long `add` waits for its documents to be processed.
const PROCESSING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1800);

#[derive(clap::Subcommand, Debug)]
pub enum LibraryCommand {
    /// Add files to the library (txt, md, html, csv, json, pdf, docx) and wait until they
    /// are processed: every company's users can then read and search them. Run it with the
    /// server stopped, or use POST /api/admin/library/documents on a running server (a
    /// server already holding the library's index sees the new chunks after a restart).
    Add(Box<AddArgs>),
    /// List the library's documents.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Move a library document to the library's trash (restorable for the retention
    /// period), or purge it now with --permanent.
    Delete {
        /// The document's id.
        id: String,
        #[arg(long)]
        permanent: bool,
        /// The super admin who deletes it (default: the first one created).
        #[arg(long = "as", value_name = "EMAIL")]
        as_user: Option<String>,
    },
}

#[derive(clap::Args, Debug)]
pub struct AddArgs {
    /// The files to add.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Title (only with a single file).
    #[arg(long)]
    title: Option<String>,
    #[arg(long)]
    category: Option<String>,
    /// Tags, comma-separated.
    #[arg(long, value_delimiter = ',')]
    tags: Vec<String>,
    /// The super admin recorded as the uploader (default: the first one created).
    #[arg(long = "as", value_name = "EMAIL")]
    as_user: Option<String>,
    /// Print the added documents as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    embedder: EmbedderConfig,
}

pub fn run(data: &DataOpts, cmd: LibraryCommand) -> anyhow::Result<()> {
    let mut app = App::open(&data.data_dir, AppOptions::default())?;
    if let LibraryCommand::Add(args) = &cmd {
        let embedder =
            select_embedder(&app.data_dir, &args.embedder).context("choosing the embedder")?;
        app.set_embedder(embedder);
    }
    let app: AppState = std::sync::Arc::new(app);
    super::runtime()?.block_on(async {
        match cmd {
            LibraryCommand::Add(args) => {
                let AddArgs {
                    files,
                    title,
                    category,
                    tags,
                    as_user,
                    json,
                    embedder: _,
                } = *args;
                anyhow::ensure!(
                    title.is_none() || files.len() == 1,
                    "--title names one file; add the files one at a time to title each"
                );
                // The checks of the API's upload form.
                let title = validate::opt_text("--title", title.as_deref(), 500)?;
                let category = validate::opt_text("--category", category.as_deref(), 100)?;
                let tags = validate::tags("--tags", &tags)?;
                let actor = library::operator(&app, as_user).await?;
                let meta = |title: Option<String>| UploadMeta {
                    title,
                    description: None,
                    category: category.clone(),
                    tags: tags.clone(),
                    scope: library::STORED_SCOPE.into(),
                };
                let (added, failed) = add(&app, &actor, &files, title, meta).await?;
                print(&added, json)?;
                anyhow::ensure!(
                    failed == 0,
                    "{failed} of the documents failed to process (their error is listed)"
                );
                Ok(())
            }
            LibraryCommand::List { json } => {
                let actor = library::operator(&app, None).await?;
                let ctx = library::librarian_ctx(&app, &actor).await?;
                let librarian = ctx.actor.clone().context("librarian")?;
                let mut all = Vec::new();
                let mut page = Page {
                    limit: 200,
                    offset: 0,
                };
                loop {
                    let listing = context::scope(
                        ctx.clone(),
                        documents::list(&librarian, DocumentFilter::default(), page),
                    )
                    .await?;
                    let n = listing.items.len();
                    all.extend(listing.items);
                    if n < page.limit as usize {
                        break;
                    }
                    page.offset += page.limit;
                }
                print(&all, json)
            }
            LibraryCommand::Delete {
                id,
                permanent,
                as_user,
            } => {
                let actor = library::operator(&app, as_user).await?;
                let ctx = library::librarian_ctx(&app, &actor).await?;
                let librarian = ctx.actor.clone().context("librarian")?;
                context::scope(
                    ctx,
                    trash::delete(&librarian, Kind::Document, id.clone(), permanent),
                )
                .await?;
                println!(
                    "{} library document {id}",
                    if permanent {
                        "purged"
                    } else {
                        "moved to the trash"
                    }
                );
                Ok(())
            }
        }
    })
}

/// Uploads `files` as the librarian and waits until they are processed; the index built
/// here is saved, so a server loads it instead of rebuilding. Returns the documents and how
/// many failed.
async fn add(
    app: &AppState,
    actor: &Actor,
    files: &[PathBuf],
    title: Option<String>,
    meta: impl Fn(Option<String>) -> UploadMeta,
) -> anyhow::Result<(Vec<crate::store::company::documents::Document>, usize)> {
    let ctx = library::librarian_ctx(app, actor).await?;
    let librarian = ctx.actor.clone().context("librarian")?;
    let limit = app.workspace.max_upload_bytes;
    let uploads = ctx.db.dir().join(UPLOADS_DIR);
    let mut ids = Vec::new();
    for file in files {
        let size = std::fs::metadata(file)
            .with_context(|| format!("reading {}", file.display()))?
            .len();
        anyhow::ensure!(
            size <= limit,
            "{} is {size} bytes, more than the upload limit of {limit}",
            file.display()
        );
        let bytes = tokio::fs::read(file)
            .await
            .with_context(|| format!("reading {}", file.display()))?;
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .with_context(|| format!("{} has no file name", file.display()))?;
        let staged = StagedFile::from_bytes(&uploads, &name, &bytes).await?;
        let uploaded = context::scope(
            ctx.clone(),
            documents::upload(app, &librarian, staged, meta(title.clone())),
        )
        .await
        .with_context(|| format!("adding {}", file.display()))?;
        ids.push(uploaded.document.uuid);
    }
    let failed = context::scope(
        ctx.clone(),
        documents::wait_processed(&librarian, &ids, PROCESSING_TIMEOUT),
    )
    .await?;
    let db = ctx.db.clone();
    tokio::task::spawn_blocking(move || crate::index::lifecycle::persist(&*db)).await?;
    let mut added = Vec::new();
    for id in ids {
        let (doc, _) = context::scope(ctx.clone(), documents::get(&librarian, id)).await?;
        added.push(doc);
    }
    Ok((added, failed))
}

fn print(docs: &[crate::store::company::documents::Document], json: bool) -> anyhow::Result<()> {
    let shown: Vec<DocumentView> = docs
        .iter()
        .cloned()
        .map(|d| DocumentView {
            scope: library::SHOWN_SCOPE.into(),
            ..d.into()
        })
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&shown)?);
        return Ok(());
    }
    println!("{:<36}  {:<10}  {:>6}  TITLE", "ID", "STATUS", "CHUNKS");
    for d in &shown {
        let title = d.title.as_deref().unwrap_or(&d.filename);
        println!(
            "{:<36}  {:<10}  {:>6}  {title}",
            d.id, d.status, d.num_chunks
        );
    }
    Ok(())
}
