//! `rotor inspect FILE.wasm`: what a policy imports (packages and versions),
//! whether this rotor can run it, its size, SHA-256 and exports.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::runtime::RuntimeOptions;

use super::{CommandError, OutputFormat, new_runtime, read_policy_file};

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Policy component (.wasm).
    #[arg(value_name = "FILE.wasm")]
    pub file: PathBuf,

    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// Exit 0 when this rotor can run the policy, 1 when it cannot.
pub fn run(args: InspectArgs, options: RuntimeOptions) -> Result<ExitCode, CommandError> {
    let (label, bytes) = read_policy_file(&args.file)?;
    let runtime = new_runtime(options)?;
    let info = runtime.inspect(&label, &bytes);
    match args.output {
        OutputFormat::Text => print!("{}", info.render_text()),
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&info)
                .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
        ),
    }
    Ok(if info.cannot_run.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
