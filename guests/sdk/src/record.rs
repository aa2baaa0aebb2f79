//! The progress record the host keeps in the cluster, as a typed value.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{CallContext, RotorError};

/// The saved record, or `None` before the first save.
pub fn load<T: DeserializeOwned>() -> Result<Option<T>, RotorError> {
    let Some(text) = crate::progress::load_progress().call(|| "load progress")? else {
        return Ok(None);
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        RotorError::State(format!(
            "the saved progress record is not one this policy wrote ({e}); clear it to start over"
        ))
    })
}

pub fn save<T: Serialize>(record: &T) -> Result<(), RotorError> {
    let text = serde_json::to_string(record)
        .map_err(|e| RotorError::State(format!("cannot encode progress record: {e}")))?;
    crate::progress::save_progress(&text).call(|| "save progress")
}

pub fn clear() -> Result<(), RotorError> {
    crate::progress::clear_progress().call(|| "clear progress")
}
