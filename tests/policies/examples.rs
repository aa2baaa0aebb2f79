//! `rotor test` end to end: every example site policy passes its own
//! scenarios through the one built `rotor` binary (the policies are built
//! once into the guests directory, never per host), a wrong expectation is
//! reported as failed, and a malformed one is an error naming the field.

use std::path::{Path, PathBuf};
use std::process::Output;

use rotor::runtime::GUESTS_DIR;

use crate::support;
use support::{one_line_error, rotor};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Run one example with its built component, named by its crate
/// directory: `rotor test` finds the scenarios under `scenarios/`.
fn run_example(name: &str) {
    let example = workspace().join("guests/examples").join(name);
    let scenarios = example.join("scenarios");
    let count = std::fs::read_dir(&scenarios)
        .expect("the example ships scenarios")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        .count();
    assert!(count > 0, "{name} has no scenarios");
    let guest = Path::new(GUESTS_DIR).join(format!("{}.wasm", name.replace('-', "_")));
    let output = rotor(&[
        "test",
        "--guest",
        &guest.display().to_string(),
        &example.display().to_string(),
    ]);
    let text = stdout(&output);
    assert!(output.status.success(), "{name}: {text}\n{output:?}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), count + 1, "one line a scenario: {text}");
    assert!(
        lines[..count].iter().all(|l| l.starts_with("PASS ")),
        "{text}"
    );
    assert_eq!(lines[count], format!("{count} passed, 0 failed"));
}

#[test]
fn canary_first_passes_its_scenarios() {
    run_example("canary-first");
}

#[test]
fn maintenance_window_passes_its_scenarios() {
    run_example("maintenance-window");
}

#[test]
fn waves_by_label_passes_its_scenarios() {
    run_example("waves-by-label");
}

#[test]
fn issuer_only_passes_its_scenarios() {
    run_example("issuer-only");
}

#[test]
fn skip_if_fresh_passes_its_scenarios() {
    run_example("skip-if-fresh");
}

/// The run the maintenance window stopped resumes where it stopped: save
/// the cluster after the stopped run, then run again with the window open.
#[test]
fn a_rotation_the_window_stopped_resumes_in_the_next_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let guest = Path::new(GUESTS_DIR).join("maintenance_window.wasm");
    let guest = guest.display().to_string();
    let scenario = workspace()
        .join("guests/examples/maintenance-window/scenarios/closes-mid-rotation.yaml")
        .display()
        .to_string();
    let window = |minutes: u32| {
        format!(
            "site: {{timeZone: Europe/Berlin, days: [saturday], start: \"02:00\", durationMinutes: {minutes}}}"
        )
    };
    let config = dir.path().join("run.yaml");
    std::fs::write(&config, format!("policy:\n  {}\n", window(240))).expect("write");
    let state = dir.path().join("state.yaml");
    let first = rotor(&[
        "simulate",
        "--guest",
        &guest,
        "--config",
        &config.display().to_string(),
        "--scenario",
        &scenario,
        "--save-state",
        &state.display().to_string(),
    ]);
    assert!(first.status.success(), "{first:?}");
    assert!(stdout(&first).contains("stopped before step adopt-new-issuer"));

    // The same moment, a window that is still open: the rotation resumes.
    let mut resumed = std::fs::read_to_string(&state).expect("state saved");
    resumed.push_str(&format!(
        "---\napiVersion: rotor.dev/v1alpha1\nkind: Expect\nmetadata: {{name: resumed}}\nspec:\n  \
         config:\n    policy:\n      {}\n  facts: {{resumedAt: adopt-new-issuer}}\n  \
         anchorRotated: true\n  bundleAnchors: 1\n  proxiesTrustingRetiredAnchor: 0\n  \
         proxiesWithRetiredChainLeaf: 0\n  workloadsNotReady: 0\n",
        window(300)
    ));
    std::fs::write(&state, resumed).expect("write");
    let second = rotor(&["test", "--guest", &guest, &state.display().to_string()]);
    assert!(second.status.success(), "{}\n{second:?}", stdout(&second));
    assert!(stdout(&second).ends_with("1 passed, 0 failed\n"));
}

#[test]
fn a_wrong_expectation_is_reported_failed() {
    let fixture = workspace().join("tests/fixtures/wrong-expect.yaml");
    let output = rotor(&["test", &fixture.display().to_string()]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let fail = lines[0];
    assert!(fail.starts_with("FAIL "), "{text}");
    assert!(fail.contains("(wrong on purpose)"), "{fail}");
    assert!(
        fail.contains("anchorRotated true, expected false"),
        "{fail}"
    );
    assert!(fail.contains("restarts, at most 0 expected"), "{fail}");
    assert!(fail.contains("expected shop before linkerd"), "{fail}");
    assert_eq!(lines[1], "0 passed, 1 failed");
}

#[test]
fn passing_and_failing_scenarios_are_counted_together() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wrong = std::fs::read_to_string(workspace().join("tests/fixtures/wrong-expect.yaml"))
        .expect("fixture");
    let right = wrong
        .replace("anchorRotated: false", "anchorRotated: true")
        .replace("maxRestarts: 0", "minRestarts: 1")
        .replace(
            "{first: shop, then: linkerd}",
            "{first: linkerd, then: shop}",
        );
    std::fs::write(dir.path().join("a-right.yaml"), right).expect("write");
    std::fs::write(dir.path().join("b-wrong.yaml"), wrong).expect("write");
    std::fs::write(dir.path().join("notes.txt"), "not a scenario").expect("write");
    let output = rotor(&["test", &dir.path().display().to_string()]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("PASS ") && lines[0].contains("a-right.yaml"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("FAIL ") && lines[1].contains("b-wrong.yaml"),
        "{text}"
    );
    assert_eq!(lines[2], "1 passed, 1 failed");
}

#[test]
fn a_malformed_expect_names_the_file_and_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("typo.yaml");
    std::fs::write(
        &path,
        "apiVersion: rotor.dev/v1alpha1\nkind: Expect\nspec:\n  restartOrder:\n  - {first: a, thn: b}\n",
    )
    .expect("write");
    let err = one_line_error(&rotor(&["test", &path.display().to_string()]));
    assert!(err.contains("typo.yaml"), "{err}");
    assert!(err.contains("spec.restartOrder[0]"), "{err}");
    assert!(err.contains("unknown field `thn`"), "{err}");

    std::fs::write(
        &path,
        "apiVersion: rotor.dev/v1alpha1\nkind: Expect\nspec: {maxBrokenPairSeconds: lots}\n",
    )
    .expect("write");
    let err = one_line_error(&rotor(&["test", &path.display().to_string()]));
    assert!(err.contains("spec.maxBrokenPairSeconds"), "{err}");
}

#[test]
fn nothing_to_test_is_an_error() {
    let plain = workspace().join("tests/scenarios/never-ready.yaml");
    let err = one_line_error(&rotor(&["test", &plain.display().to_string()]));
    assert!(err.contains("never-ready.yaml"), "{err}");
    assert!(err.contains("no `kind: Expect` document"), "{err}");
    let err = one_line_error(&rotor(&["test", "no/such/dir"]));
    assert!(
        err.contains("no/such/dir: no such file or directory"),
        "{err}"
    );
}
