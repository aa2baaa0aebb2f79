//! Builds the policy components (the `guests/` cargo workspace) for
//! `wasm32-wasip2` so the host can embed the default policy and tests can load
//! every built guest.
//!
//! The guests build in their own target directory (`<workspace>/target/guests`):
//! the outer build holds the lock on the outer one.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const GUEST_TARGET: &str = "wasm32-wasip2";

/// Variables the outer cargo sets for this build script or its wrappers that
/// must not reach the nested build: they name the host target, inject
/// clippy-driver or flags meant for the host crate.
const LEAKING_VARS: &[&str] = &[
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_ENCODED_RUSTDOCFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTC_WRAPPER",
    "CARGO_MAKEFLAGS",
    "TARGET",
    "HOST",
    "OUT_DIR",
    "PROFILE",
    "OPT_LEVEL",
    "DEBUG",
    "NUM_JOBS",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_PKG_NAME",
    "__CARGO_FIX_PLZ",
    "CLIPPY_ARGS",
    "CLIPPY_CONF_DIR",
];

fn main() {
    let manifest_dir =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir
        .parent()
        .expect("host/ sits inside the workspace")
        .to_path_buf();
    let guests = workspace.join("guests");
    let target_dir = env::var_os("ROTOR_GUESTS_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target").join("guests"));

    // Everything under guests/ except a target dir someone built into by hand
    // (watching it would rebuild the host after every guest build).
    let mut watched = vec![
        workspace.join("wit"),
        workspace.join("tests").join("guests"),
    ];
    if let Ok(entries) = std::fs::read_dir(&guests) {
        watched.extend(
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.file_name().is_some_and(|n| n != "target")),
        );
    }
    for path in watched {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    println!("cargo:rerun-if-env-changed=ROTOR_GUESTS_TARGET_DIR");

    check_target_installed();
    build_guests(&guests, &target_dir);

    let out = target_dir.join(GUEST_TARGET).join("release");
    let default_policy = out.join("linkerd_rotation.wasm");
    if !default_policy.is_file() {
        panic!(
            "the guests build finished but {} is missing; check guests/linkerd-rotation/Cargo.toml (crate-type cdylib)",
            default_policy.display()
        );
    }
    println!(
        "cargo:rustc-env=ROTOR_DEFAULT_POLICY={}",
        default_policy.display()
    );
    println!("cargo:rustc-env=ROTOR_GUESTS_DIR={}", out.display());
}

/// Fail early, with the fix, when the toolchain lacks the guest target.
fn check_target_installed() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(sysroot) = sysroot {
        let lib = sysroot
            .join("lib")
            .join("rustlib")
            .join(GUEST_TARGET)
            .join("lib");
        if !lib.is_dir() {
            panic!(
                "the Rust target {GUEST_TARGET} is not installed (no {}); run `rustup target add {GUEST_TARGET}`",
                lib.display()
            );
        }
    }
}

fn build_guests(guests: &Path, target_dir: &Path) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--workspace")
        .arg("--target")
        .arg(GUEST_TARGET)
        .arg("--manifest-path")
        .arg(guests.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    for var in LEAKING_VARS {
        cmd.env_remove(var);
    }
    for (key, _) in env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if key.starts_with("CARGO_CFG_")
            || key.starts_with("CARGO_FEATURE_")
            || key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_PROFILE_")
            || key.starts_with("DEP_")
        {
            cmd.env_remove(key);
        }
    }
    let output = match cmd.output() {
        Ok(output) => output,
        Err(e) => panic!("could not run cargo to build the guests workspace: {e}"),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("can't find crate for `core`")
            || stderr.contains("target may not be installed")
        {
            panic!(
                "the Rust target {GUEST_TARGET} is not installed; run `rustup target add {GUEST_TARGET}`\n{stderr}"
            );
        }
        panic!(
            "building the guests workspace (guests/Cargo.toml) for {GUEST_TARGET} failed:\n{stderr}"
        );
    }
}
