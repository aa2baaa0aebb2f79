//! Named steps: what the run report shows, begun and ended in one place.

use crate::error::RotorError;

/// Run `body` as the step `name`: begin it, end it ok with the detail the
/// body returns, or end it failed with the error's message.
pub fn step<T>(
    name: &str,
    body: impl FnOnce() -> Result<(T, String), RotorError>,
) -> Result<T, RotorError> {
    crate::log::begin_step(name);
    match body() {
        Ok((value, detail)) => {
            crate::log::end_step(name, true, &detail);
            Ok(value)
        }
        Err(e) => {
            crate::log::end_step(name, false, &e.to_string());
            Err(e)
        }
    }
}
