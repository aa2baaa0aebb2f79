//! What a policy asks for, shown before it runs: the packages and versions
//! it imports, whether this host provides them, and what it exports.

use serde::Serialize;

use crate::wit::WIT_PACKAGE;

use super::Runtime;
use super::cache::sha256_hex;
use super::load::{WasmKind, import_version, instance_functions, is_provided_package, wasm_kind};

#[derive(Debug, Clone, Serialize)]
pub struct ImportInfo {
    pub name: String,
    /// `package@version`, e.g. `rotor:policy@0.1.6`.
    pub package: String,
    pub provided: bool,
    pub functions: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PolicyInfo {
    pub file: String,
    pub kind: WasmKind,
    pub size_bytes: u64,
    pub sha256: String,
    pub host_provides: &'static str,
    pub imports: Vec<ImportInfo>,
    pub exports: Vec<String>,
    /// `None` when this host can run the policy, else why not.
    pub cannot_run: Option<String>,
}

impl Runtime {
    pub fn inspect(&self, label: &str, wasm: &[u8]) -> PolicyInfo {
        let mut info = PolicyInfo {
            file: label.to_string(),
            kind: wasm_kind(wasm),
            size_bytes: wasm.len() as u64,
            sha256: sha256_hex(wasm),
            host_provides: WIT_PACKAGE,
            imports: vec![],
            exports: vec![],
            cannot_run: None,
        };
        let component = match self.compile(label, wasm) {
            Ok((component, _, _)) => component,
            Err(e) => {
                info.cannot_run = Some(e.to_string());
                return info;
            }
        };
        let ty = component.component_type();
        for (name, item) in ty.imports(&self.engine) {
            let package = match name.split_once('/') {
                Some((pkg, _)) => match import_version(name) {
                    Some((a, b, c)) => format!("{pkg}@{a}.{b}.{c}"),
                    None => pkg.to_string(),
                },
                None => name.to_string(),
            };
            info.imports.push(ImportInfo {
                name: name.to_string(),
                package,
                provided: is_provided_package(name),
                functions: instance_functions(self, &item.ty),
            });
        }
        info.exports = ty
            .exports(&self.engine)
            .map(|(name, _)| name.to_string())
            .collect();
        if let Err(e) = self.load(label, wasm) {
            info.cannot_run = Some(e.to_string());
        }
        info
    }
}

impl PolicyInfo {
    /// The human-readable form `rotor inspect` prints.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!("policy:   {}\n", self.file));
        out.push_str(&format!("size:     {} bytes\n", self.size_bytes));
        out.push_str(&format!("sha256:   {}\n", self.sha256));
        match &self.cannot_run {
            None => out.push_str(&format!(
                "runnable: yes (this rotor provides {})\n",
                self.host_provides
            )),
            Some(why) => out.push_str(&format!("runnable: no: {why}\n")),
        }
        if !self.imports.is_empty() {
            out.push_str("imports:\n");
            for import in &self.imports {
                let mark = if import.provided {
                    "ok     "
                } else {
                    "MISSING"
                };
                out.push_str(&format!("  {mark} {}", import.name));
                if !import.functions.is_empty() {
                    out.push_str(&format!(" ({})", import.functions.join(", ")));
                }
                out.push('\n');
            }
        }
        if !self.exports.is_empty() {
            out.push_str(&format!("exports:  {}\n", self.exports.join(", ")));
        }
        out
    }
}
