//! Field selectors (`metadata.name=x,involvedObject.kind=Deployment,type!=Normal`)
//! evaluated on an object's JSON.

use serde_json::Value;

use super::status::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    /// Dotted path, e.g. `involvedObject.name`.
    pub path: String,
    pub value: String,
    pub equal: bool,
}

pub fn parse(selector: &str) -> Result<Vec<FieldRequirement>, ApiError> {
    selector
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|part| {
            let (path, value, equal) = if let Some((k, v)) = part.split_once("!=") {
                (k, v, false)
            } else if let Some((k, v)) = part.split_once("==") {
                (k, v, true)
            } else if let Some((k, v)) = part.split_once('=') {
                (k, v, true)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid field selector {selector:?}: {part:?} is not key=value"
                )));
            };
            Ok(FieldRequirement {
                path: path.trim().to_string(),
                value: value.trim().to_string(),
                equal,
            })
        })
        .collect()
}

fn lookup<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(obj, |v, k| v.get(k))
}

pub fn matches(reqs: &[FieldRequirement], obj: &Value) -> bool {
    reqs.iter().all(|r| {
        let actual = match lookup(obj, &r.path) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        (actual == r.value) == r.equal
    })
}

/// The value a selector pins a field to, if it does.
pub fn pinned<'a>(reqs: &'a [FieldRequirement], path: &str) -> Option<&'a str> {
    reqs.iter()
        .find(|r| r.equal && r.path == path)
        .map(|r| r.value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_nested_fields() {
        let reqs = parse("involvedObject.name=linkerd-identity,type!=Normal").unwrap();
        let ev = json!({"involvedObject": {"name": "linkerd-identity"}, "type": "Warning"});
        assert!(matches(&reqs, &ev));
        let ev = json!({"involvedObject": {"name": "linkerd-identity"}, "type": "Normal"});
        assert!(!matches(&reqs, &ev));
        assert_eq!(
            pinned(&reqs, "involvedObject.name"),
            Some("linkerd-identity")
        );
        assert!(parse("nonsense").is_err());
    }
}
