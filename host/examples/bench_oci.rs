//! Policies from a registry: pull time from a real registry on loopback
//! (the CNCF distribution server), the cache hit that replaces it for a
//! pinned policy, and the offline check of a cosign signature, for the
//! built-in policy pushed as a Wasm OCI artifact and signed by the real
//! cosign CLI.
//!
//! ```text
//! cargo run --release -p rotor --example bench_oci [-- ROUNDS]
//! ```
//!
//! Needs `docker-registry` (`.ci/install-tools.sh`) and cosign
//! (`.ci/build-control-plane.sh`).

mod common;

use std::process::ExitCode;
use std::time::Instant;

use rotor::oci::cache::PolicyCache;
use rotor::oci::{PolicyRef, RegistryOptions, VerifyConfig};
use rotor::runtime::DEFAULT_POLICY;
use rotor::testing::registry::{Cosign, Registry};

const DEFAULT_ROUNDS: usize = 20;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let rounds = match std::env::args().nth(1).map(|a| a.parse::<usize>()) {
        None => DEFAULT_ROUNDS,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("error: ROUNDS must be a positive number");
            return ExitCode::from(2);
        }
    };
    let (Some(registry), Some(cosign)) = (Registry::start(), Cosign::find()) else {
        eprintln!("error: needs docker-registry and cosign (see the doc comment)");
        return ExitCode::from(2);
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let options = RegistryOptions::default();
    let target =
        PolicyRef::parse(&format!("oci://{}/bench/policy:v1", registry.host())).expect("reference");
    let started = Instant::now();
    let pinned = rotor::oci::push::push(DEFAULT_POLICY.to_vec(), &target, &options)
        .await
        .expect("push");
    let push_ms = common::ms_since(started);
    let (key, public) = cosign.generate_key_pair(dir.path());
    let cosign_ref = pinned.to_string().trim_start_matches("oci://").to_string();
    cosign.sign(&key, &cosign_ref);
    let config_path = dir.path().join("verify.yaml");
    std::fs::write(
        &config_path,
        format!("keys:\n  - name: release\n    path: {}\n", public.display()),
    )
    .expect("verify config");
    let config = VerifyConfig::load(&config_path).expect("verify config loads");

    let cache = PolicyCache::new(dir.path().join("cache"));
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    let mut verify = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        let pulled = rotor::oci::pull(&pinned, &options, None)
            .await
            .expect("pull");
        cold.push(common::ms_since(started));
        assert!(!pulled.from_cache);
        rotor::oci::pull(&pinned, &options, Some(&cache))
            .await
            .expect("prime");
        let started = Instant::now();
        let hit = rotor::oci::pull(&pinned, &options, Some(&cache))
            .await
            .expect("hit");
        warm.push(common::ms_since(started));
        assert!(hit.from_cache, "a pinned policy comes from the cache");
        let started = Instant::now();
        let verdict = rotor::oci::verify::verify(&pinned, &config, &options)
            .await
            .expect("verify");
        verify.push(common::ms_since(started));
        assert!(verdict.trusted(), "{}", verdict.summary());
    }
    println!("machine: {}", common::machine());
    println!(
        "policy: {} bytes, pushed in {push_ms:.1} ms as {pinned}",
        DEFAULT_POLICY.len()
    );
    println!("rounds: {rounds}");
    println!("| step | median ms |");
    println!("|---|---|");
    println!(
        "| pull from the registry (manifest + layer, digests checked) | {:.2} |",
        common::median(cold)
    );
    println!(
        "| pull of a pinned policy from the cache (digests checked) | {:.2} |",
        common::median(warm)
    );
    println!(
        "| verify one cosign signature against one key (registry lookups included) | {:.2} |",
        common::median(verify)
    );
    ExitCode::SUCCESS
}
