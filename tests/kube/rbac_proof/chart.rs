//! What the chart installs for rotor, read from `helm template` with the
//! real helm: its RBAC, the CronJob's ServiceAccount, and the namespace and
//! run configuration the CronJob passes to `rotor run`.

use std::path::{Path, PathBuf};
use std::process::Command;

use rotor::testing::rbac::{Rbac, ServiceAccount};
use serde::Deserialize;
use serde_json::Value;

use super::{KUBE_VERSION, RELEASE, RELEASE_NAMESPACE};

pub(super) fn chart_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/rotor")
}

/// Helm, or `None` (after a loud message) when it may be missing.
pub(super) fn helm() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ROTOR_HELM") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "ROTOR_HELM={} does not exist; run .ci/install-chart-tools.sh",
            p.display()
        );
        return Some(p);
    }
    let installed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tools/bin/helm");
    if installed.is_file() {
        return Some(installed);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "helm not found (CI is set, so this test must run): set ROTOR_HELM or run .ci/install-chart-tools.sh"
    );
    eprintln!(
        "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
         !! SKIPPED: the chart's RBAC was NOT checked: helm not found.    !!\n\
         !! Run .ci/install-chart-tools.sh or set ROTOR_HELM.             !!\n\
         !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
    );
    None
}

/// `helm template` of the chart, as `.ci/chart-checks.sh` renders it.
pub(super) fn render(helm: &Path, args: &[&str]) -> Vec<Value> {
    let out = Command::new(helm)
        .args(["template", RELEASE])
        .arg(chart_dir())
        .args([
            "--namespace",
            RELEASE_NAMESPACE,
            "--kube-version",
            KUBE_VERSION,
        ])
        .args(args)
        .output()
        .expect("helm runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "helm template {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_norway::Deserializer::from_str(&stdout)
        .map(|doc| Value::deserialize(doc).expect("helm renders YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

/// What the chart installs for rotor: its RBAC, and how the CronJob runs it.
pub(super) struct Install {
    pub(super) manifests: usize,
    pub(super) rbac: Rbac,
    pub(super) sa: ServiceAccount,
    /// `rotor run --namespace`: where the lease and progress record live.
    pub(super) rotor_namespace: String,
    /// The `--config` file's content.
    pub(super) config: String,
    /// The container's arguments (`run ...`).
    pub(super) args: Vec<String>,
}

pub(super) fn install(docs: &[Value]) -> Install {
    // The rotation's CronJob; a resume CronJob runs the same pod.
    let crons: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"] == "CronJob")
        .filter(|d| {
            !d["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.ends_with("-resume"))
        })
        .collect();
    assert_eq!(crons.len(), 1, "expected one rotation CronJob");
    let cron = crons[0];
    let pod = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    let sa = ServiceAccount {
        namespace: cron["metadata"]["namespace"].as_str().unwrap().into(),
        name: pod["serviceAccountName"].as_str().unwrap().into(),
    };
    let container = &pod["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "run", "the CronJob runs `rotor run`: {args:?}");
    let flag = |name: &str| {
        let i = args
            .iter()
            .position(|a| *a == name)
            .unwrap_or_else(|| panic!("the CronJob passes no {name}: {args:?}"));
        args[i + 1]
    };
    let config_path = flag("--config");
    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == config_path)
        .expect("the config file is mounted");
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the config volume exists");
    let cm_name = volume["configMap"]["name"].as_str().unwrap();
    let cm = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == cm_name)
        .expect("the config ConfigMap is rendered");
    let key = mount["subPath"].as_str().unwrap();
    let rbac = Rbac::from_manifests(docs).unwrap_or_else(|e| panic!("chart RBAC: {e}"));
    assert_eq!(rbac.dangling_bindings(&sa), Vec::<String>::new());
    Install {
        manifests: docs.len(),
        rbac,
        sa,
        rotor_namespace: flag("--namespace").into(),
        config: cm["data"][key].as_str().unwrap().into(),
        args: args.iter().map(|a| a.to_string()).collect(),
    }
}
