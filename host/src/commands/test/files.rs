//! The scenario files `rotor test` runs: files named on the command line,
//! the `*.yaml` files of directories (and of their `scenarios/`), each read
//! with its `Expect` document.

use std::path::{Path, PathBuf};

use super::expect::{Expect, find_expect};
use crate::commands::CommandError;

/// A scenario file and what its run must show.
pub(super) struct Case {
    pub(super) path: PathBuf,
    pub(super) text: String,
    /// `path (metadata.name)`, or the path alone.
    pub(super) name: String,
    pub(super) expect: Expect,
}

pub(super) fn scenario_error(path: &Path, message: String) -> CommandError {
    CommandError::Scenario {
        path: path.to_path_buf(),
        message,
    }
}

/// The file's case; `None` for a file found in a directory without an
/// `Expect` document (a file named on the command line must have one).
pub(super) fn read_case(file: &ScenarioFile) -> Result<Option<Case>, CommandError> {
    let path = &file.path;
    let text = std::fs::read_to_string(path)
        .map_err(|e| scenario_error(path, format!("cannot read: {e}")))?;
    let (name, expect) = match find_expect(&text).map_err(|m| scenario_error(path, m))? {
        Some(found) => found,
        None if file.named => {
            return Err(scenario_error(
                path,
                "no `kind: Expect` document (apiVersion rotor.dev/v1alpha1) to test against".into(),
            ));
        }
        None => return Ok(None),
    };
    let name = match name {
        Some(n) => format!("{} ({n})", path.display()),
        None => path.display().to_string(),
    };
    Ok(Some(Case {
        path: path.clone(),
        text,
        name,
        expect,
    }))
}

pub(super) struct ScenarioFile {
    pub(super) path: PathBuf,
    /// Named on the command line (not found in a directory): a missing
    /// `Expect` document is a failure, not a skip.
    named: bool,
}

/// The `*.yaml` / `*.yml` files of `dir`, sorted.
fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, CommandError> {
    let entries = std::fs::read_dir(dir).map_err(|e| CommandError::Scenario {
        path: dir.to_path_buf(),
        message: format!("cannot list the directory: {e}"),
    })?;
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|ext| ext == "yaml" || ext == "yml")
        })
        .collect();
    found.sort();
    Ok(found)
}

/// Files as given, and the `*.yaml` / `*.yml` files of directories and of
/// their `scenarios/` subdirectory (a policy crate keeps them there), sorted.
pub(super) fn collect(paths: &[PathBuf]) -> Result<Vec<ScenarioFile>, CommandError> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = yaml_files(path)?;
            let nested = path.join("scenarios");
            if nested.is_dir() {
                found.extend(yaml_files(&nested)?);
            }
            out.extend(
                found
                    .into_iter()
                    .map(|path| ScenarioFile { path, named: false }),
            );
        } else if path.is_file() {
            out.push(ScenarioFile {
                path: path.clone(),
                named: true,
            });
        } else {
            return Err(CommandError::Scenario {
                path: path.clone(),
                message: "no such file or directory".into(),
            });
        }
    }
    Ok(out)
}
