//! What the whole-run tests that drive the `rotor` binary share.

use std::process::Output;

use assert_cmd::Command;

/// Run the built `rotor` (no compile cache) and collect its output.
pub fn rotor(args: &[&str]) -> Output {
    Command::cargo_bin("rotor")
        .expect("binary")
        .arg("--no-cache")
        .args(args)
        .output()
        .expect("rotor runs")
}

/// The one line on stderr a user sees for bad input (exit 2, no report).
pub fn one_line_error(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        output.stdout.is_empty(),
        "no report for bad input: {output:?}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}
