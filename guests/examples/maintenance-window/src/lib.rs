//! Site policy `maintenance-window`: rotate only inside a weekly window in a
//! given time zone. Outside it the run does nothing and exits 0; a rotation
//! the window closes on stops before its next step (progress saved) and the
//! next run inside a window resumes it. A step begun inside the window runs
//! to its end.
//!
//! Configuration:
//! `{"site": {"timeZone": "Europe/Berlin", "days": ["saturday"], "start": "02:00",
//! "durationMinutes": 240}, "rotation": {...}}`

mod window;

use rotor_sdk::rotation::{self, Site, SiteConfig};
use rotor_sdk::{Error, KeyValue, Policy, RotorError, Summary, clock, record};

use window::{Window, WindowConfig};

impl Site for Window {
    fn hold(&self, _step: &str) -> Result<Option<String>, RotorError> {
        match self.closed_at(clock::now())? {
            None => Ok(None),
            Some(why) => Ok(Some(why)),
        }
    }
}

fn run(text: &str) -> Result<Summary, RotorError> {
    let config = SiteConfig::<WindowConfig>::parse(text)?;
    let window = Window::new(&config.site)?;
    if let Some(why) = window.closed_at(clock::now())? {
        let in_progress = record::load::<serde_json::Value>()?.is_some();
        let message = if in_progress {
            format!("{why}: the rotation in progress resumes in the next window")
        } else {
            format!("{why}: nothing done")
        };
        rotor_sdk::info(&message, &[]);
        return Ok(Summary {
            message,
            facts: vec![KeyValue {
                key: "insideWindow".into(),
                value: "false".into(),
            }],
        });
    }
    rotation::run_site(config.rotation, &window)
}

struct MaintenanceWindow;

impl Policy for MaintenanceWindow {
    fn run(config: String) -> Result<Summary, Error> {
        run(&config).map_err(rotation::stopped)
    }
}

rotor_sdk::export_policy!(MaintenanceWindow);
