//! Bad input never panics: property tests over the scenario loader, the run
//! configuration parser and the x509 helpers. Every refusal is an error that
//! names the input (document, file or PEM block) and the problem.

use std::path::Path;

use proptest::prelude::*;
use rotor::cluster::ClusterError;
use rotor::cluster::sim::{DEMO_SCENARIO, SimCluster};
use rotor::config::RunConfig;

const CONFIG: &str = "policy:\n  mode: full\n  namespaces: [web, api]\nlimits:\n  cpuSeconds: 2\n  memoryMiB: 64\n  deadlineSeconds: 7200\ngrants:\n  verbs: [restart, renew]\n";

/// One edit of `text`: delete, duplicate or replace a span, or insert noise.
#[derive(Debug, Clone)]
enum Edit {
    Delete { at: usize, len: usize },
    Duplicate { at: usize, len: usize },
    Insert { at: usize, noise: String },
    Truncate { at: usize },
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let noise = prop_oneof![
        Just(": ".to_string()),
        Just("\n---\n".to_string()),
        Just("- ".to_string()),
        Just("{".to_string()),
        Just("  ".to_string()),
        Just("kind: Deployment\n".to_string()),
        Just("replicas: -1\n".to_string()),
        Just("&a [*a, *a]".to_string()),
        "[ -~\n]{0,12}",
    ];
    let edit = prop_oneof![
        (any::<usize>(), 1usize..200).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), 1usize..400).prop_map(|(at, len)| Edit::Duplicate { at, len }),
        (any::<usize>(), noise).prop_map(|(at, noise)| Edit::Insert { at, noise }),
        any::<usize>().prop_map(|at| Edit::Truncate { at }),
    ];
    prop::collection::vec(edit, 1..4)
}

fn floor_char(text: &str, at: usize) -> usize {
    let mut at = at % (text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut text = text.to_string();
    for edit in edits {
        match edit {
            Edit::Delete { at, len } => {
                let start = floor_char(&text, *at);
                let end = floor_char(&text, start.saturating_add(*len).min(text.len()));
                text.replace_range(start..end, "");
            }
            Edit::Duplicate { at, len } => {
                let start = floor_char(&text, *at);
                let end = floor_char(&text, start.saturating_add(*len).min(text.len()));
                let span = text[start..end].to_string();
                text.insert_str(end, &span);
            }
            Edit::Insert { at, noise } => {
                let at = floor_char(&text, *at);
                text.insert_str(at, noise);
            }
            Edit::Truncate { at } => {
                let at = floor_char(&text, *at);
                text.truncate(at);
            }
        }
    }
    text
}

fn certificate_pem() -> String {
    rcgen::generate_simple_self_signed(vec!["identity.linkerd.cluster.local".to_string()])
        .expect("self-signed certificate")
        .cert
        .pem()
}

/// The x509 helpers refuse with `invalid` and say which block failed.
fn assert_names_pem_problem(result: Result<impl std::fmt::Debug, ClusterError>) {
    if let Err(e) = result {
        let ClusterError::Invalid(message) = &e else {
            panic!("expected invalid, got {e:?}");
        };
        assert!(
            message.starts_with("PEM block ")
                || message.starts_with("certificate ")
                || message.starts_with("no PEM CERTIFICATE block")
                || message.contains("signature algorithm"),
            "{message}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn edited_scenarios_load_or_name_the_document(edits in edits()) {
        let text = apply(DEMO_SCENARIO, &edits);
        if let Err(e) = SimCluster::from_yaml(&text) {
            let message = e.to_string();
            prop_assert!(
                message.starts_with("YAML does not parse: document ")
                    || message.starts_with("document ")
                    || message.starts_with("scenario: "),
                "{message}"
            );
        }
    }

    #[test]
    fn arbitrary_text_is_never_a_panic_for_the_scenario_loader(text in "\\PC{0,300}") {
        let _ = SimCluster::from_yaml(&text);
    }

    #[test]
    fn edited_configs_parse_or_name_the_file(edits in edits()) {
        let text = apply(CONFIG, &edits);
        if let Err(e) = RunConfig::parse(&text, Path::new("run.yaml")) {
            let message = e.to_string();
            prop_assert!(message.starts_with("config run.yaml: "), "{message}");
            prop_assert!(message.len() > "config run.yaml: ".len(), "{message}");
        }
    }

    #[test]
    fn edited_certificates_parse_or_name_the_block(edits in edits()) {
        let pem = certificate_pem();
        let edited = apply(&pem, &edits);
        assert_names_pem_problem(rotor::x509::parse_pem(&edited));
        assert_names_pem_problem(rotor::x509::verify_signed_by(&edited, &pem));
        assert_names_pem_problem(rotor::x509::verify_signed_by(&pem, &edited));
    }

    #[test]
    fn arbitrary_bytes_as_pem_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let text = String::from_utf8_lossy(&bytes);
        let wrapped = format!("-----BEGIN CERTIFICATE-----\n{text}\n-----END CERTIFICATE-----\n");
        assert_names_pem_problem(rotor::x509::parse_pem(&text));
        assert_names_pem_problem(rotor::x509::parse_pem(&wrapped));
    }
}

#[test]
fn the_unedited_inputs_are_accepted() {
    SimCluster::from_yaml(DEMO_SCENARIO).expect("demo loads");
    RunConfig::parse(CONFIG, Path::new("run.yaml")).expect("config parses");
    let pem = certificate_pem();
    assert_eq!(rotor::x509::parse_pem(&pem).expect("parses").len(), 1);
    assert!(rotor::x509::verify_signed_by(&pem, &pem).expect("verifies"));
}
