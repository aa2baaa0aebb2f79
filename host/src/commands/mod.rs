//! One module per subcommand, each owning its command line (`cli` only
//! gathers them). `args` and `connect` hold the flags several commands
//! share; this one holds the rest they share: building the runtime, reading
//! a policy file, and the errors a user sees as one line.

pub mod args;
pub mod connect;
pub mod guest;
pub mod inspect;
pub mod multicluster;
pub mod plan;
pub mod plan_clusters;
pub mod policy;
pub mod run;
pub mod run_clusters;
pub mod scenario;
pub mod simulate;
pub mod simulate_clusters;
pub mod status;
pub mod test;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::{ConfigError, RunConfig};
use crate::runtime::{LoadError, Runtime, RuntimeError, RuntimeOptions};

pub use crate::text::one_line;
pub use args::{GuestSource, OutputFormat, PolicyArgs, parse_sha256};
pub use connect::{ClusterArgs, KubeCommandError, Member};
pub use guest::{Guest, Pinning, load_guest, read_guest};

/// Why a command could not do its work (as opposed to a policy run that
/// failed, which is a report with outcome `failed`).
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("scenario {path}: {message}")]
    Scenario { path: PathBuf, message: String },
    #[error("policy {path}: cannot read: {source}")]
    ReadPolicy {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Kube(#[from] KubeCommandError),
    #[error(transparent)]
    Push(#[from] crate::observe::metrics::PushError),
    #[error(transparent)]
    Notify(#[from] crate::observe::notify::NotifyError),
    #[error("cannot generate a scenario: {0}")]
    Generate(#[from] crate::cluster::sim::generate::GenerateError),
    #[error(transparent)]
    Oci(#[from] crate::oci::OciError),
    #[error(transparent)]
    Untrusted(#[from] crate::oci::VerifyError),
    #[error("policy: {0}")]
    Guest(String),
    /// A command that will not do what was asked, and why.
    #[error("{0}")]
    Refused(String),
    #[error("{what} {path}: cannot write: {source}")]
    Write {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl CommandError {
    /// 4 for a policy refused by its signatures, so a CronJob's history and
    /// alerts tell it apart; 2 for every other reason a command could not work.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Untrusted(_) => crate::oci::verify::EXIT_UNTRUSTED,
            _ => 2,
        }
    }
}

pub fn new_runtime(options: RuntimeOptions) -> Result<Runtime, CommandError> {
    Ok(Runtime::new(options)?)
}

/// A policy file's bytes and its path as a label.
pub fn read_policy_file(path: &Path) -> Result<(String, Vec<u8>), CommandError> {
    let bytes = std::fs::read(path).map_err(|source| CommandError::ReadPolicy {
        path: path.to_path_buf(),
        source,
    })?;
    Ok((path.display().to_string(), bytes))
}

pub fn read_config(path: Option<&Path>) -> Result<RunConfig, CommandError> {
    match path {
        None => Ok(RunConfig::default()),
        Some(path) => Ok(RunConfig::load(path)?),
    }
}

/// Write `text` to `path`, naming `what` in the error.
pub fn write_file(
    what: &'static str,
    path: &Path,
    text: impl AsRef<[u8]>,
) -> Result<(), CommandError> {
    std::fs::write(path, text).map_err(|source| CommandError::Write {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// Print a run's report on stdout in the chosen format; exit 0 only when the
/// policy succeeded (`simulate` and `run` alike).
fn print_report(report: &crate::report::RunReport, output: OutputFormat) -> ExitCode {
    match output {
        OutputFormat::Text => print!("{}", report.render_text()),
        OutputFormat::Json => println!("{}", report.to_json()),
    }
    if report.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
