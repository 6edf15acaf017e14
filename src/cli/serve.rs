//! `silo serve`: bootstrap the data directory if needed, then serve the API.

use anyhow::Context;

use std::time::Duration;

use crate::app::App;
use crate::embed::{EmbedderConfig, select, select_embedder};
use crate::service::accounts;

/// How often every company's trash is swept for items past their retention.
const TRASH_SWEEP_INTERVAL: Duration = Duration::from_secs(3600);
/// How often unsaved vector-index changes are written to disk.
const INDEX_SAVE_INTERVAL: Duration = Duration::from_secs(30);
use crate::config::{DataOpts, ServerOpts};

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub server: ServerOpts,
    #[command(flatten)]
    pub embedder: EmbedderConfig,
    /// On an install without companies, first create the demo company (as `silo demo`)
    /// and print its accounts.
    #[arg(long)]
    pub demo: bool,
}

pub fn run(data: &DataOpts, args: ServeArgs) -> anyhow::Result<()> {
    let opts = args.server;
    raise_fd_limit();
    let mut app = App::open(&data.data_dir, opts.app_options())?;
    // The local model when its files are present, else the built-in lexical fallback.
    let embedder =
        select_embedder(&app.data_dir, &args.embedder).context("choosing the embedder")?;
    tracing::info!(
        embedder = embedder.id(),
        dimensions = embedder.dimensions(),
        "embedder ready"
    );
    if select::is_fallback(&args.embedder, embedder.as_ref()) && app.workspace.auto_reindex {
        tracing::warn!(
            "automatic reindexing is off while the lexical fallback stands in for the model"
        );
        app.workspace.auto_reindex = false;
    }
    app.set_embedder(embedder);
    let state = std::sync::Arc::new(app);
    super::runtime()?.block_on(async move {
        let admin_password = opts.admin_password.as_deref();
        if let Some(password) =
            accounts::ensure_super_admin(&state, &opts.admin_email, admin_password).await?
        {
            // Printed once, to the terminal only (never to the logs).
            println!(
                "Created the first super admin.\n  email:    {}\n  password: {password}\n\
                 Store it now: it is not shown again.",
                opts.admin_email
            );
        }
        if args.demo {
            let no_companies = state
                .read_primary(|conn| Ok(crate::store::primary::companies::all(conn)?.is_empty()))
                .await?;
            if no_companies {
                super::demo::print(&super::demo::create(&state).await?, false)?;
            } else {
                tracing::info!("--demo: the install already has companies; no demo made");
            }
        }
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .with_context(|| format!("binding {}", opts.listen))?;
        tracing::info!(addr = %listener.local_addr()?, data_dir = %state.data_dir.display(), "serving");
        // Jobs a previous process left unfinished: queued again in the background, so
        // serving starts at once even with thousands of companies.
        state.ingest.start_recovery(state.primary.clone());
        let (open, trim) = (state.registry.clone(), state.registry.clone());
        let maintenance = crate::index::lifecycle::spawn_maintenance(
            move || open.open_handles(),
            move || trim.trim_indexes(),
            INDEX_SAVE_INTERVAL,
        );
        let sessions = spawn_session_purge(state.clone());
        let trash = crate::service::trash::spawn_sweep(state.clone(), TRASH_SWEEP_INTERVAL);
        let scrub = (opts.scrub_period_hours > 0).then(|| {
            let period = Duration::from_secs(opts.scrub_period_hours * 3600);
            crate::ops::scrub::spawn(state.clone(), period)
        });
        let deadline = Duration::from_secs(opts.shutdown_timeout);
        crate::http::server::serve(
            listener,
            state.clone(),
            crate::web::router(state.clone()),
            shutdown_signal(),
            deadline,
        )
            .await
            .context("serving")?;
        // Save the vector indexes' unsaved changes: a restart then loads instead of
        // catching up (nothing would be lost either way: SQLite holds the vectors).
        maintenance.abort();
        sessions.abort();
        trash.abort();
        if let Some(scrub) = scrub {
            scrub.abort();
        }
        let registry = state.registry.clone();
        tokio::task::spawn_blocking(move || {
            for db in registry.open_handles() {
                crate::index::lifecycle::persist(&*db);
            }
        })
        .await?;
        Ok(())
    })
}

/// How often expired and revoked refresh tokens are purged from primary.db.
const SESSION_PURGE_INTERVAL: Duration = Duration::from_secs(3600);

/// Purges old refresh tokens now and then every [`SESSION_PURGE_INTERVAL`].
fn spawn_session_purge(app: std::sync::Arc<App>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SESSION_PURGE_INTERVAL);
        loop {
            every.tick().await;
            let purged = app
                .with_primary(|conn| {
                    Ok(crate::store::primary::refresh_tokens::purge_expired(conn)?)
                })
                .await;
            match purged {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "old refresh tokens purged"),
                Err(e) => tracing::warn!(error = %e, "purging old refresh tokens failed"),
            }
        }
    })
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}

/// Raises the soft open-file limit to the hard one: every open company holds up to three
/// descriptors per connection (database, -wal, -shm).
pub fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit are called with a valid, initialised struct.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
