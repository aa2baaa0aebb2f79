//! A policy that misbehaves on request. The run configuration's `policy`
//! value is the name of the behaviour (a JSON string, e.g. `"loop"`); the
//! sandbox tests run one component in many ways instead of building many.

use rotor_sdk::{
    Error, KeyValue, ObjectRef, Policy, Summary, WorkloadKind, certificates, clock, context,
    events, log, namespaces, pods, progress, secrets, workloads,
};

struct Hostile;

impl Policy for Hostile {
    fn run(config: String) -> Result<Summary, Error> {
        let mode: String = serde_json_free_parse(&config);
        match mode.as_str() {
            "succeed" => Ok(summary("nothing hostile", vec![])),
            "loop" => spin_forever(),
            "host-call-loop" => loop {
                std::hint::black_box(clock::now());
            },
            "memory-bomb" => memory_bomb(),
            "recursion" => Ok(summary(
                "recursed",
                vec![fact("depth", recurse(0).to_string())],
            )),
            "panic" => panic!("hostile guest panicked on purpose"),
            "sandbox-probe" => Ok(summary("probed the sandbox", sandbox_probe())),
            "wait-forever" => loop {
                clock::wait(3600)?;
            },
            "stall" => {
                // One short wait; a stalling backend never returns from it.
                clock::wait(1)?;
                Ok(summary("the wait returned", vec![]))
            }
            "write-secret-outside-grants" => write_secret_outside_grants(),
            "mutate" => Ok(summary("tried every mutation", mutate_everything())),
            "giant-log" => giant_log(),
            "giant-string" => giant_string(),
            other => Err(Error::Invalid(format!("unknown hostile mode {other:?}"))),
        }
    }
}

rotor_sdk::export_policy!(Hostile);

/// The config is a JSON string such as `"loop"`; strip the quotes without
/// pulling a JSON parser into the fixture.
fn serde_json_free_parse(config: &str) -> String {
    config.trim().trim_matches('"').to_string()
}

fn fact(key: &str, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: value.into(),
    }
}

fn summary(message: &str, facts: Vec<KeyValue>) -> Summary {
    Summary {
        message: message.to_string(),
        facts,
    }
}

fn spin_forever() -> ! {
    let mut x: u64 = 0;
    loop {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

fn memory_bomb() -> Result<Summary, Error> {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        // Touch every page so the memory is really committed.
        hoard.push(vec![0xA5; 8 << 20]);
        std::hint::black_box(&hoard);
    }
}

fn recurse(depth: u64) -> u64 {
    let pad = std::hint::black_box([depth; 64]);
    if pad[0] == u64::MAX {
        depth
    } else {
        recurse(depth + 1) + pad[63] - depth
    }
}

/// Try what a sandboxed policy must not be able to do and report what happened.
fn sandbox_probe() -> Vec<KeyValue> {
    let file = match std::fs::read_to_string("/etc/passwd") {
        Ok(text) => format!("read {} bytes", text.len()),
        Err(e) => format!("error: {e}"),
    };
    let listing = match std::fs::read_dir("/") {
        Ok(entries) => format!("listed {} entries", entries.count()),
        Err(e) => format!("error: {e}"),
    };
    let env_var = match std::env::var("HOME") {
        Ok(v) => format!("HOME={v}"),
        Err(e) => format!("error: {e}"),
    };
    let env_count = std::env::vars_os().count().to_string();
    let args = std::env::args_os().count().to_string();
    let socket = match std::net::TcpStream::connect("127.0.0.1:80") {
        Ok(_) => "connected".to_string(),
        Err(e) => format!("error: {e}"),
    };
    let mut stdin_line = String::new();
    let stdin = match std::io::stdin().read_line(&mut stdin_line) {
        Ok(n) => format!("read {n} bytes"),
        Err(e) => format!("error: {e}"),
    };
    vec![
        fact("file", file),
        fact("listing", listing),
        fact("env-var", env_var),
        fact("env-count", env_count),
        fact("args", args),
        fact("socket", socket),
        fact("stdin", stdin),
    ]
}

/// Write a secret the default grants do not allow, then carry on.
fn write_secret_outside_grants() -> Result<Summary, Error> {
    let write = secrets::SecretWrite {
        namespace: "linkerd".into(),
        name: "linkerd-identity-issuer".into(),
        type_: "kubernetes.io/tls".into(),
        data: vec![("tls.key".into(), b"stolen-key-material".to_vec())],
        labels: vec![],
        annotations: vec![],
        expected_resource_version: None,
    };
    let outcome = match secrets::write_secret(&write) {
        Ok(version) => format!("written: {version}"),
        Err(Error::Denied(why)) => format!("denied: {why}"),
        Err(other) => format!("other error: {other:?}"),
    };
    rotor_sdk::warn(
        "secret write refused, carrying on",
        &[("outcome", &outcome)],
    );
    let namespaces = namespaces::list_namespaces("")?;
    Ok(summary(
        "carried on after a refused write",
        vec![
            fact("write", outcome),
            fact("namespaces", namespaces.len().to_string()),
        ],
    ))
}

fn giant_log() -> Result<Summary, Error> {
    let big = "x".repeat(2 << 20);
    log::log(log::Level::Info, &big, &[]);
    for i in 0..20_000 {
        log::log(log::Level::Info, &format!("line {i}"), &[]);
    }
    Ok(summary("logged a lot", vec![]))
}

fn giant_string() -> Result<Summary, Error> {
    let selector = "a".repeat(2 << 20);
    let outcome = match namespaces::list_namespaces(&selector) {
        Ok(list) => format!("listed {}", list.len()),
        Err(Error::Invalid(why)) => format!("invalid: {why}"),
        Err(other) => format!("other error: {other:?}"),
    };
    Ok(summary(
        "sent a giant string",
        vec![fact("outcome", outcome)],
    ))
}

/// One of every mutating call against the standard Linkerd objects; each
/// outcome becomes a fact ("ok" or the error).
fn mutate_everything() -> Vec<KeyValue> {
    fn outcome<T>(result: Result<T, Error>) -> String {
        match result {
            Ok(_) => "ok".to_string(),
            Err(e) => format!("{e:?}"),
        }
    }
    let mut facts = vec![fact("dry-run", context::dry_run().to_string())];
    let copied = secrets::read_secret("cert-manager", "linkerd-trust-anchor").and_then(|anchor| {
        secrets::write_secret(&secrets::SecretWrite {
            namespace: "cert-manager".into(),
            name: "linkerd-previous-anchor".into(),
            type_: anchor.type_,
            data: anchor.data,
            labels: vec![],
            annotations: vec![],
            expected_resource_version: None,
        })
    });
    facts.push(fact("write-secret", outcome(copied)));
    facts.push(fact(
        "renew",
        outcome(certificates::renew_certificate(
            "cert-manager",
            "linkerd-trust-anchor",
        )),
    ));
    facts.push(fact(
        "restart",
        outcome(workloads::restart_workload(
            WorkloadKind::Deployment,
            "linkerd",
            "linkerd-destination",
        )),
    ));
    let deleted = pods::list_pods(Some("linkerd-viz"), "").and_then(|list| match list.first() {
        Some(pod) => pods::delete_pod(&pod.namespace, &pod.name),
        None => Err(Error::NotFound("no pod in linkerd-viz".into())),
    });
    facts.push(fact("delete-pod", outcome(deleted)));
    let involved = ObjectRef {
        kind: "Deployment".into(),
        namespace: "linkerd".into(),
        name: "linkerd-identity".into(),
    };
    facts.push(fact(
        "record-event",
        outcome(events::record_event(
            &involved,
            events::EventType::Normal,
            "RotorTest",
            "hostile fixture",
        )),
    ));
    facts.push(fact(
        "save-progress",
        outcome(progress::save_progress("{\"step\":1}")),
    ));
    facts
}
