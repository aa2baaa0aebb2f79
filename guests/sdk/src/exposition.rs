//! Reading one gauge from a Prometheus or OpenMetrics text exposition, as
//! Linkerd's identity (Go client) and proxy (Rust `prometheus-client`)
//! serve it: `name{labels} value`, comments starting with `#`.

/// The value of the first sample whose bare name `accept`s, if any.
pub fn gauge(text: &str, accept: impl Fn(&str) -> bool) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let mut parts = l.split_whitespace();
        let name = parts.next()?;
        let bare = name.split('{').next()?;
        accept(bare)
            .then(|| parts.next()?.parse::<f64>().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::gauge;

    #[test]
    fn the_first_accepted_sample_is_read() {
        let text = "# HELP a_b x\n# TYPE a_b gauge\na_b{x=\"y\"} -5.72e+02\nc 1.0\n";
        assert_eq!(gauge(text, |n| n == "a_b"), Some(-572.0));
        assert_eq!(gauge(text, |n| n.ends_with('c')), Some(1.0));
        assert_eq!(gauge(text, |n| n == "d"), None);
        assert_eq!(gauge("a_b not-a-number\n", |n| n == "a_b"), None);
    }
}
