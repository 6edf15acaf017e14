use clap::Parser;

fn main() -> std::process::ExitCode {
    silo::logging::init();
    match silo::cli::Cli::parse().run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // Best effort: stderr may be the full disk that made the command fail.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
