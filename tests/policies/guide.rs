//! The policy guide (`docs/writing-a-policy.md`) as a test: its shell blocks
//! marked `walkthrough` run in order, in an empty directory, against the
//! built `rotor` (on `PATH`) and a test API server over the demo cluster
//! (`KUBECONFIG`), so the guide's commands cannot rot. The guest build
//! shares the guests target directory and runs offline.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("workspace")
}

/// The bodies of the fenced blocks whose info string is `sh <tag>`.
fn blocks(markdown: &str, tag: &str) -> Vec<String> {
    let fence = format!("```sh {tag}");
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim_end() == fence => current = Some(String::new()),
            None => {}
            Some(_) if line.trim_end() == "```" => out.extend(current.take()),
            Some(body) => {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    assert!(current.is_none(), "unclosed {fence} block");
    out
}

#[test]
fn blocks_are_found_in_order_and_other_blocks_left_out() {
    let md = "```sh walkthrough\na\n```\ntext\n```sh\nb\n```\n```sh walkthrough\nc\nd\n```\n";
    assert_eq!(blocks(md, "walkthrough"), ["a\n", "c\nd\n"]);
    assert!(blocks(md, "walkthrough-helm").is_empty());
}

/// helm, from `PATH` or where `.ci/install-chart-tools.sh` puts it.
fn helm_dir() -> Option<PathBuf> {
    let tools = workspace().join("target/tools/bin");
    if tools.join("helm").is_file() {
        return Some(tools);
    }
    std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).find(|d| d.join("helm").is_file()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_walkthrough_runs() {
    let root = workspace();
    let guide = std::fs::read_to_string(root.join("docs/writing-a-policy.md")).expect("guide");
    let mut script = String::from("set -euxo pipefail\n");
    let walkthrough = blocks(&guide, "walkthrough");
    assert!(walkthrough.len() >= 6, "the guide lost its walkthrough");
    script.extend(walkthrough);
    let helm = helm_dir();
    match &helm {
        Some(_) => script.extend(blocks(&guide, "walkthrough-helm")),
        None => eprintln!(
            "helm not found (.ci/install-chart-tools.sh installs it): the chart step is not run"
        ),
    }

    // `rotor plan` reads the wall clock, as against a real cluster: the demo
    // mesh must live in the present for its certificates to make sense.
    let dir = tempfile::tempdir().expect("tempdir");
    let (_server, kubeconfig) =
        crate::support::serve_with_kubeconfig(crate::support::demo_in_the_present(), dir.path())
            .await;
    let work = dir.path().join("work");
    std::fs::create_dir(&work).expect("work dir");

    let rotor_bin = PathBuf::from(env!("CARGO_BIN_EXE_rotor"));
    let mut path = vec![rotor_bin.parent().expect("bin dir").to_path_buf()];
    path.extend(helm);
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let mut cmd = std::process::Command::new("bash");
    cmd.arg("-c")
        .arg(&script)
        .current_dir(&work)
        .env("PATH", std::env::join_paths(path).expect("PATH"))
        .env("ROTOR_SRC", &root)
        .env("KUBECONFIG", &kubeconfig)
        .env("ROTOR_CACHE_DIR", dir.path().join("cache"))
        .env("CARGO_TARGET_DIR", root.join("target/guests"))
        .env("CARGO_NET_OFFLINE", "true");
    let output = tokio::task::spawn_blocking(move || cmd.output().expect("bash runs"))
        .await
        .expect("joined");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the walkthrough failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // What the guide tells the reader they will see.
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("plan: ")), "{stdout}");
    assert!(work.join("freeze/freeze.wasm").is_file());
}
