//! Kubernetes label selectors in their string form (`a=b,c in (x,y),!d`).
//!
//! Both backends take selectors as strings; the simulator evaluates them with
//! this parser, so its answers match what the API server would return.

use std::collections::BTreeMap;

use super::ClusterError;

/// One parsed selector: every requirement must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Equals(String),
    NotEquals(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
}

impl Selector {
    /// Parse a selector string; `""` matches everything.
    pub fn parse(input: &str) -> Result<Selector, ClusterError> {
        Parser::new(input)
            .parse()
            .map_err(|why| ClusterError::Invalid(format!("label selector {input:?}: {why}")))
    }

    /// A selector that requires every given label (matchLabels).
    pub fn from_match_labels(labels: &BTreeMap<String, String>) -> Selector {
        Selector {
            requirements: labels
                .iter()
                .map(|(k, v)| Requirement {
                    key: k.clone(),
                    op: Op::Equals(v.clone()),
                })
                .collect(),
        }
    }

    /// A `metav1.LabelSelector`: its matchLabels and its matchExpressions
    /// (operators `In`, `NotIn`, `Exists`, `DoesNotExist`, as the API server
    /// takes them). An unknown operator is an error naming it.
    pub fn from_label_selector<'a>(
        labels: &BTreeMap<String, String>,
        expressions: impl IntoIterator<Item = (&'a str, &'a str, &'a [String])>,
    ) -> Result<Selector, String> {
        let mut selector = Selector::from_match_labels(labels);
        for (key, operator, values) in expressions {
            let op = match operator {
                "In" => Op::In(values.to_vec()),
                "NotIn" => Op::NotIn(values.to_vec()),
                "Exists" => Op::Exists,
                "DoesNotExist" => Op::DoesNotExist,
                other => {
                    return Err(format!(
                        "matchExpressions: operator {other:?} on {key:?} is not one of In, NotIn, Exists, DoesNotExist"
                    ));
                }
            };
            selector.requirements.push(Requirement {
                key: key.to_string(),
                op,
            });
        }
        Ok(selector)
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether a label set satisfies every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| {
            let value = labels.get(&r.key);
            match &r.op {
                Op::Equals(v) => value == Some(v),
                Op::NotEquals(v) => value != Some(v),
                Op::In(set) => value.is_some_and(|x| set.contains(x)),
                Op::NotIn(set) => !value.is_some_and(|x| set.contains(x)),
                Op::Exists => value.is_some(),
                Op::DoesNotExist => value.is_none(),
            }
        })
    }
}

impl std::fmt::Display for Selector {
    /// The canonical string form, as `kubectl` would print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match &r.op {
                Op::Equals(v) => write!(f, "{}={}", r.key, v)?,
                Op::NotEquals(v) => write!(f, "{}!={}", r.key, v)?,
                Op::In(s) => write!(f, "{} in ({})", r.key, s.join(","))?,
                Op::NotIn(s) => write!(f, "{} notin ({})", r.key, s.join(","))?,
                Op::Exists => write!(f, "{}", r.key)?,
                Op::DoesNotExist => write!(f, "!{}", r.key)?,
            }
        }
        Ok(())
    }
}

struct Parser<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Self {
        Parser {
            chars: input.chars().peekable(),
        }
    }

    fn skip_ws(&mut self) {
        while self.chars.peek().is_some_and(|c| c.is_whitespace()) {
            self.chars.next();
        }
    }

    /// A key or value: letters, digits and `-_./`.
    fn word(&mut self) -> String {
        let mut out = String::new();
        while let Some(&c) = self.chars.peek() {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/') {
                out.push(c);
                self.chars.next();
            } else {
                break;
            }
        }
        out
    }

    fn parse(mut self) -> Result<Selector, String> {
        let mut requirements = Vec::new();
        self.skip_ws();
        if self.chars.peek().is_none() {
            return Ok(Selector::default());
        }
        loop {
            requirements.push(self.requirement()?);
            self.skip_ws();
            match self.chars.next() {
                None => break,
                Some(',') => continue,
                Some(c) => return Err(format!("unexpected {c:?} after a requirement")),
            }
        }
        Ok(Selector { requirements })
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        self.skip_ws();
        if self.chars.peek() == Some(&'!') {
            self.chars.next();
            self.skip_ws();
            let key = self.key()?;
            return Ok(Requirement {
                key,
                op: Op::DoesNotExist,
            });
        }
        let key = self.key()?;
        self.skip_ws();
        let op = match self.chars.peek().copied() {
            None | Some(',') => Op::Exists,
            Some('=') => {
                self.chars.next();
                if self.chars.peek() == Some(&'=') {
                    self.chars.next();
                }
                Op::Equals(self.value()?)
            }
            Some('!') => {
                self.chars.next();
                if self.chars.next() != Some('=') {
                    return Err(format!("expected \"!=\" after key {key:?}"));
                }
                Op::NotEquals(self.value()?)
            }
            Some(_) => {
                let word = self.word();
                match word.as_str() {
                    "in" => Op::In(self.set(&key)?),
                    "notin" => Op::NotIn(self.set(&key)?),
                    "" => {
                        let c = self.chars.peek().copied().unwrap_or(' ');
                        return Err(format!("unexpected {c:?} after key {key:?}"));
                    }
                    other => {
                        return Err(format!(
                            "unknown operator {other:?} after key {key:?} (expected =, ==, !=, in, notin)"
                        ));
                    }
                }
            }
        };
        Ok(Requirement { key, op })
    }

    fn key(&mut self) -> Result<String, String> {
        let key = self.word();
        if key.is_empty() {
            return Err("expected a label key".to_string());
        }
        validate_key(&key)?;
        Ok(key)
    }

    fn value(&mut self) -> Result<String, String> {
        self.skip_ws();
        let v = self.word();
        if v.contains('/') {
            return Err(format!("invalid label value {v:?}"));
        }
        Ok(v)
    }

    fn set(&mut self, key: &str) -> Result<Vec<String>, String> {
        self.skip_ws();
        if self.chars.next() != Some('(') {
            return Err(format!("expected \"(\" after set operator for key {key:?}"));
        }
        let mut values = Vec::new();
        loop {
            let v = self.value()?;
            self.skip_ws();
            match self.chars.next() {
                Some(',') => values.push(v),
                Some(')') => {
                    values.push(v);
                    break;
                }
                _ => return Err(format!("unterminated value set for key {key:?}")),
            }
        }
        if values.iter().all(String::is_empty) {
            return Err(format!("empty value set for key {key:?}"));
        }
        Ok(values)
    }
}

/// Label keys are `[prefix/]name`; the name must be non-empty.
fn validate_key(key: &str) -> Result<(), String> {
    let name = match key.split_once('/') {
        Some((prefix, name)) => {
            if prefix.is_empty() || name.contains('/') {
                return Err(format!("invalid label key {key:?}"));
            }
            name
        }
        None => key,
    };
    if name.is_empty() || name.len() > 63 {
        return Err(format!("invalid label key {key:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn empty_selector_matches_everything() {
        let s = Selector::parse("").unwrap();
        assert!(s.matches(&labels(&[])));
        assert!(s.matches(&labels(&[("a", "b")])));
        assert!(Selector::parse("   ").unwrap().is_empty());
    }

    #[test]
    fn equality_forms() {
        let l = labels(&[("app", "web"), ("tier", "front")]);
        assert!(Selector::parse("app=web").unwrap().matches(&l));
        assert!(Selector::parse("app==web").unwrap().matches(&l));
        assert!(!Selector::parse("app=api").unwrap().matches(&l));
        assert!(
            Selector::parse("app = web , tier=front")
                .unwrap()
                .matches(&l)
        );
        assert!(!Selector::parse("app=web,tier=back").unwrap().matches(&l));
    }

    #[test]
    fn not_equals_matches_missing_label() {
        let s = Selector::parse("app!=web").unwrap();
        assert!(!s.matches(&labels(&[("app", "web")])));
        assert!(s.matches(&labels(&[("app", "api")])));
        assert!(s.matches(&labels(&[])));
    }

    #[test]
    fn set_operators() {
        let s = Selector::parse("env in (prod, staging)").unwrap();
        assert!(s.matches(&labels(&[("env", "prod")])));
        assert!(!s.matches(&labels(&[("env", "dev")])));
        assert!(!s.matches(&labels(&[])));
        let s = Selector::parse("env notin (prod)").unwrap();
        assert!(s.matches(&labels(&[("env", "dev")])));
        assert!(s.matches(&labels(&[])));
        assert!(!s.matches(&labels(&[("env", "prod")])));
    }

    #[test]
    fn existence_operators() {
        let l = labels(&[("linkerd.io/control-plane-ns", "linkerd")]);
        assert!(
            Selector::parse("linkerd.io/control-plane-ns")
                .unwrap()
                .matches(&l)
        );
        assert!(
            !Selector::parse("!linkerd.io/control-plane-ns")
                .unwrap()
                .matches(&l)
        );
        assert!(
            Selector::parse("!gone,linkerd.io/control-plane-ns=linkerd")
                .unwrap()
                .matches(&l)
        );
    }

    #[test]
    fn bad_syntax_is_invalid_and_names_the_selector() {
        for bad in [
            "app=web,",
            "=web",
            "app in prod",
            "app in (prod",
            "app ~ web",
            "app within (x)",
            "a/b/c=d",
            "app in ()",
        ] {
            match Selector::parse(bad) {
                Err(ClusterError::Invalid(msg)) => {
                    assert!(msg.contains(&format!("{bad:?}")), "{msg}")
                }
                other => panic!("{bad:?} parsed as {other:?}"),
            }
        }
    }

    #[test]
    fn display_round_trips() {
        let text = "a=b,c!=d,e in (x,y),f notin (z),g,!h";
        let s = Selector::parse(text).unwrap();
        assert_eq!(s.to_string(), text);
        assert_eq!(Selector::parse(&s.to_string()).unwrap(), s);
    }
}
