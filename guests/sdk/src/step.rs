//! Named steps: what the run report shows, begun and ended in one place.

use std::cell::RefCell;

use crate::error::RotorError;

thread_local! {
    /// The cluster the steps being run belong to, in a run over several.
    static SCOPE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Name the steps run from now on after `cluster` (`renew-anchor@east`), so
/// a report over several clusters tells each cluster's steps apart; `None`
/// names them plainly again.
pub(crate) fn scope(cluster: Option<&str>) {
    SCOPE.with(|s| *s.borrow_mut() = cluster.map(String::from));
}

/// Run `body` as the step `name`: begin it, end it ok with the detail the
/// body returns, or end it failed with the error's message.
pub fn step<T>(
    name: &str,
    body: impl FnOnce() -> Result<(T, String), RotorError>,
) -> Result<T, RotorError> {
    let name = SCOPE.with(|s| match &*s.borrow() {
        Some(cluster) => format!("{name}@{cluster}"),
        None => name.to_string(),
    });
    crate::log::begin_step(&name);
    match body() {
        Ok((value, detail)) => {
            crate::log::end_step(&name, true, &detail);
            Ok(value)
        }
        Err(e) => {
            crate::log::end_step(&name, false, &e.to_string());
            Err(e)
        }
    }
}
