//! Files that are not runnable policies are refused before anything runs,
//! with one line that names the problem.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use rotor::runtime::{DEFAULT_POLICY, GUESTS_DIR, LoadError, Runtime, RuntimeOptions};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
}

/// Assemble a WAT fixture into a temporary .wasm file.
fn assembled(dir: &Path, name: &str) -> PathBuf {
    let bytes = wat::parse_file(fixture(&format!("{name}.wat"))).expect("fixture assembles");
    let path = dir.join(format!("{name}.wasm"));
    std::fs::write(&path, bytes).expect("write fixture");
    path
}

fn runtime() -> Runtime {
    Runtime::new(RuntimeOptions::default()).expect("runtime")
}

#[test]
fn a_policy_built_against_an_older_patch_still_links() {
    let bytes = wat::parse_file(fixture("older-wit.wat")).expect("assembles");
    let err = runtime()
        .load("older.wasm", &bytes)
        .err()
        .expect("the fixture has no run export");
    // Linking succeeded: the only complaint is the missing export.
    assert!(matches!(err, LoadError::MissingExport { .. }), "{err:?}");
}

#[test]
fn newer_wit_is_refused_with_the_version_it_needs() {
    let bytes = wat::parse_file(fixture("newer-wit.wat")).expect("assembles");
    let err = runtime()
        .load("newer.wasm", &bytes)
        .err()
        .expect("must be refused");
    assert!(matches!(err, LoadError::NewerWit { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "policy needs a newer rotor: it imports rotor:policy/clock@0.2.0, this rotor provides rotor:policy@0.1.6"
    );
}

#[test]
fn core_module_is_refused_as_not_a_component() {
    let bytes = wat::parse_file(fixture("core-module.wat")).expect("assembles");
    let err = runtime()
        .load("core.wasm", &bytes)
        .err()
        .expect("must be refused");
    assert!(matches!(err, LoadError::CoreModule { .. }), "{err:?}");
}

#[test]
fn inspect_lists_imports_and_verdict() {
    let hello = Path::new(GUESTS_DIR).join("hello.wasm");
    let output = Command::cargo_bin("rotor")
        .expect("binary")
        .args(["inspect", "--no-cache"])
        .arg(&hello)
        .output()
        .expect("runs");
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("runnable: yes"), "{text}");
    assert!(
        text.contains("rotor:policy/namespaces@0.1.6 (list-namespaces)"),
        "{text}"
    );
    assert!(text.contains("exports:  run"), "{text}");
}

#[test]
fn inspect_json_reports_a_newer_wit_import() {
    let dir = tempfile::tempdir().expect("tempdir");
    let newer = assembled(dir.path(), "newer-wit");
    let output = Command::cargo_bin("rotor")
        .expect("binary")
        .args(["inspect", "--no-cache", "--output", "json"])
        .arg(&newer)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let info: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(info["imports"][0]["name"], "rotor:policy/clock@0.2.0");
    assert_eq!(info["imports"][0]["provided"], false);
    assert!(
        info["cannot_run"]
            .as_str()
            .is_some_and(|m| m.starts_with("policy needs a newer rotor")),
        "{info}"
    );
}

#[test]
fn unknown_interface_import_is_refused_naming_it() {
    let bytes = wat::parse_file(fixture("unknown-import.wat")).expect("assembles");
    let err = runtime()
        .load("unknown.wasm", &bytes)
        .err()
        .expect("must be refused");
    assert!(matches!(err, LoadError::UnknownImport { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(
            "unknown.wasm: imports evil:exfiltrate/network@1.0.0, which this rotor does not provide"
        ),
        "{err}"
    );
}

#[test]
fn malformed_bytes_are_refused_without_a_panic() {
    let runtime = runtime();
    let header = b"\0asm\x0d\x00\x01\x00".to_vec();
    let mut truncated = DEFAULT_POLICY[..DEFAULT_POLICY.len() / 2].to_vec();
    let mut flipped = DEFAULT_POLICY.to_vec();
    for i in (64..flipped.len()).step_by(997) {
        flipped[i] ^= 0x5a;
    }
    for (name, bytes) in [
        ("empty", Vec::new()),
        ("text", b"#!/bin/sh\nrm -rf /\n".to_vec()),
        ("header only", header),
        ("truncated", std::mem::take(&mut truncated)),
        ("bit-flipped", flipped),
    ] {
        let err = runtime
            .load(name, &bytes)
            .err()
            .unwrap_or_else(|| panic!("{name}: must be refused"));
        let text = err.to_string();
        assert!(text.starts_with(&format!("{name}: ")), "{text}");
        assert!(
            matches!(
                err,
                LoadError::NotWasm { .. }
                    | LoadError::Compile { .. }
                    | LoadError::CoreModule { .. }
                    | LoadError::MissingExport { .. }
            ),
            "{name}: {err:?}"
        );
    }
}
