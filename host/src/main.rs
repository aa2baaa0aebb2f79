//! The `rotor` binary: reports on stdout, logs on stderr, exit 0 only on success.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use rotor::cli::Cli;
use rotor::logging::LogOptions;
use rotor::text::one_line;

/// Faster than glibc's allocator on the many small strings a policy's host
/// calls move (BENCHMARKS.md, "Profile of the 10,000-workload run").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    rotor::logging::init(LogOptions {
        verbose: cli.verbose,
        quiet: cli.quiet,
        format: cli.log_format,
        terminal: std::io::stderr().is_terminal(),
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(cli.dispatch()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", one_line(&e.to_string()));
            ExitCode::from(e.exit_code())
        }
    }
}
