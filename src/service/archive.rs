//! A company as one file, for the super admin: export streams the archive out as it is
//! written, import reads it in as it arrives (see `ops::archive`). Both need
//! `companies:manage` and write the audit log; the blocking work runs on the blocking pool,
//! joined to the caller by a bounded channel of chunks (memory stays at a few chunks
//! whatever the company's size, and a client that stops reading stops the export).

use std::io::{self, Read, Write};

use tokio::sync::mpsc;

use crate::app::AppState;
use crate::error::Error;
use crate::identity::Actor;
use crate::ops::archive::export;
use crate::ops::archive::import::{self, ImportError, ImportOptions, ImportReport};
use crate::store::primary::companies::Company;
use crate::tenant::provision::ProvisionError;

/// Chunks of the archive in flight between the blocking side and the connection.
pub type Chunks = mpsc::Receiver<io::Result<Vec<u8>>>;
const CHUNK: usize = 64 << 10;
const IN_FLIGHT: usize = 8;
/// A client that reads nothing for this long is given up on: the export stops, its
/// thread and its scratch copy are freed.
const STALLED: std::time::Duration = std::time::Duration::from_secs(120);

/// Starts writing `company`'s archive; its bytes arrive on the returned channel, ending
/// with an error item if the export fails (the archive is then incomplete: no manifest).
pub async fn export(app: &AppState, actor: &Actor, company: Company) -> Result<Chunks, Error> {
    actor.require("companies:manage")?;
    let (tx, rx) = mpsc::channel(IN_FLIGHT);
    app.audit(
        actor,
        "company.export",
        company.uuid.clone(),
        serde_json::json!({"name": company.name, "slug": company.slug}),
    )
    .await;
    let app = app.clone();
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut out = ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
            handle,
        };
        let written = export::export_company(
            &app.primary,
            &app.data_dir,
            &company,
            crate::ops::DEFAULT_BUSY_TIMEOUT,
            &mut out,
        );
        match written {
            Ok(manifest) => {
                tracing::info!(company = %company.slug, files = manifest.files.len(), "company exported")
            }
            Err(e) => {
                tracing::warn!(company = %company.slug, error = %format!("{e:#}"), "export failed");
                // The error item cuts the response, so a client never takes the partial
                // stream for a whole archive.
                let failed = out.tx.send(Err(io::Error::other("the export failed")));
                let _ = out.handle.block_on(tokio::time::timeout(STALLED, failed));
            }
        }
    });
    Ok(rx)
}

/// Creates a company from the archive arriving on `chunks` (see `ops::archive::import`).
/// The sender ends the stream by dropping; an error item makes the import fail as a
/// truncated archive (the caller then reports its own reason).
pub async fn import(
    app: &AppState,
    actor: &Actor,
    chunks: Chunks,
    opts: ImportOptions,
) -> Result<(Company, ImportReport), Error> {
    actor.require("companies:manage")?;
    // Detached: a client that goes away once the archive is in does not stop the company
    // from being created, nor its audit row from being written.
    let (app, actor) = (app.clone(), actor.clone());
    tokio::spawn(async move { import_detached(&app, &actor, chunks, opts).await }).await?
}

async fn import_detached(
    app: &AppState,
    actor: &Actor,
    chunks: Chunks,
    opts: ImportOptions,
) -> Result<(Company, ImportReport), Error> {
    let app2 = app.clone();
    let imported = tokio::task::spawn_blocking(move || {
        let mut reader = ChannelReader {
            rx: chunks,
            current: Vec::new(),
            at: 0,
        };
        import::import_company(&app2.primary, &app2.data_dir, &mut reader, &opts)
    })
    .await?;
    let (company, report) = imported.map_err(|e| match e {
        ImportError::Refused(m) => Error::invalid("archive", m),
        ImportError::TooLarge(m) => Error::PayloadTooLarge(m),
        ImportError::UserConflict(m) => Error::Conflict(format!(
            "{m}; import with without_users=true to leave the users out"
        )),
        ImportError::Provision(ProvisionError::Invalid(e)) => Error::invalid(e.field, e.message),
        ImportError::Provision(ProvisionError::Conflict(m)) => Error::Conflict(m),
        ImportError::Provision(ProvisionError::Failed(e)) | ImportError::Failed(e) => {
            Error::internal(e)
        }
    })?;
    app.principals.invalidate();
    tracing::info!(company = %company.slug, by = %actor.email, "company imported");
    app.audit(
        actor,
        "company.import",
        company.uuid.clone(),
        serde_json::json!({"name": company.name, "slug": company.slug,
            "from": report.from.id, "users": report.users, "documents": report.documents}),
    )
    .await;
    Ok((company, report))
}

/// Writes into the channel in chunks; fails once the receiver is gone.
struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Vec<u8>>>,
    buf: Vec<u8>,
    /// To wait for room in the channel with a time limit, from the blocking thread.
    handle: tokio::runtime::Handle,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        match self
            .handle
            .block_on(tokio::time::timeout(STALLED, self.tx.send(Ok(chunk))))
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the client went away",
            )),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            )),
        }
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// Reads the chunks arriving on the channel; end of stream when the sender is dropped.
struct ChannelReader {
    rx: Chunks,
    current: Vec<u8>,
    /// How much of `current` has been read.
    at: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => (self.current, self.at) = (chunk, 0),
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len() - self.at);
        out[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
