//! Logging setup: tracing to stderr, where a failed write never reaches the request that
//! logged it.
//!
//! With stderr on a full disk (or a closed pipe), tracing-subscriber reports its own write
//! errors with `eprint!`, which panics when stderr cannot be written, inside whatever
//! request was logging: clients got reset connections instead of answers. Here a line that
//! cannot be written is dropped and counted (`silo_log_writes_dropped_total`).

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Log lines dropped because they could not be written, since start.
pub fn dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Installs the global subscriber: `RUST_LOG` filter (default `info`), stderr.
pub fn init() {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(Dropping(io::stderr))
        .log_internal_errors(false)
        .init();
}

/// A writer that swallows (and counts) its inner writer's failures.
pub struct Dropping<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Dropping<M> {
    type Writer = DroppingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        DroppingWriter(self.0.make_writer())
    }
}

pub struct DroppingWriter<W>(W);

impl<W: Write> Write for DroppingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.0.write_all(buf) {
            Ok(()) => Ok(buf.len()),
            Err(_) => {
                DROPPED.fetch_add(1, Ordering::Relaxed);
                // Claim it was written: the caller must carry on as if logging worked.
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = self.0.flush();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_device_drops_and_counts_instead_of_failing() {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full exists on Linux");
        let before = dropped();
        let mut w = DroppingWriter(full);
        assert_eq!(w.write(b"a log line\n").unwrap(), 11);
        w.write_all(b"another\n").unwrap();
        w.flush().unwrap();
        assert!(dropped() >= before + 2);
    }
}
