//! Text as a user sees it in an error: rotor prints every error on one line
//! (the CLI's `error: ...`, a step's detail, a report field), whatever spans
//! lines underneath (API and registry response bodies, YAML errors).

/// Collapse a multi-line message into the one line a user sees.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
