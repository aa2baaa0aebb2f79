//! stderr: logs, and where a run stands. On a terminal the progress events
//! (`rotor::progress`) drive a live display; elsewhere (a CronJob's log, a
//! pipe) they are plain log lines, text or JSON, at the default verbosity.
//! stdout stays the report's.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing::field::{Field, Visit};
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use crate::runtime::progress::TARGET;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    /// One JSON object per line, fields at the top level.
    Json,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct LogOptions {
    pub verbose: u8,
    pub quiet: bool,
    pub format: LogFormat,
    /// stderr is a terminal: progress is drawn, not logged.
    pub terminal: bool,
}

/// The filter for log lines: `RUST_LOG` wins; otherwise warnings, raised by
/// each `-v`. At the default verbosity the kube, registry and signature
/// clients log nothing: their errors reach the user as rotor's one-line
/// error instead (sigstore warns of a missing signature that rotor reports
/// as an untrusted policy).
/// Progress lines are added unless `quiet` or they are drawn instead.
pub fn log_filter(verbose: u8, rust_log: Option<&str>, progress: bool) -> EnvFilter {
    let base = match (rust_log, verbose) {
        (Some(directives), _) => directives.to_string(),
        (None, 0) => "warn,kube_client=off,oci_client=off,sigstore=off".to_string(),
        (None, 1) => "info".to_string(),
        (None, 2) => "debug".to_string(),
        (None, _) => "trace".to_string(),
    };
    let mut filter = EnvFilter::try_new(&base).unwrap_or_else(|_| EnvFilter::new("warn"));
    let progress_level = if progress { "info" } else { "off" };
    if let Ok(directive) = format!("{TARGET}={progress_level}").parse() {
        filter = filter.add_directive(directive);
    }
    filter
}

/// Install the global subscriber for the `rotor` binary.
pub fn init(options: LogOptions) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let draw = options.terminal && !options.quiet && options.format == LogFormat::Text;
    let filter = log_filter(
        options.verbose,
        rust_log.as_deref(),
        !options.quiet && !draw,
    );
    if draw {
        let display = Display::new();
        let lines = tracing_subscriber::fmt::layer()
            .with_writer(display.writer())
            .with_ansi(true)
            .with_filter(filter);
        let drawn = display.with_filter(Targets::new().with_target(TARGET, tracing::Level::INFO));
        let _ = tracing_subscriber::registry()
            .with(lines)
            .with(drawn)
            .try_init();
        return;
    }
    let lines = match options.format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(options.terminal)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(lines.with_filter(filter))
        .try_init();
}

/// What the live display shows.
#[derive(Debug, Default)]
struct Shown {
    step: Option<(String, Instant)>,
    wave: Option<String>,
    gate: Option<Gate>,
}

#[derive(Debug)]
struct Gate {
    name: String,
    saw: String,
    waited: i64,
    timeout: i64,
    /// Against a cluster the wait goes on between reports: extrapolate.
    wall: bool,
    reported: Instant,
}

impl Shown {
    fn render(&self, out: &mut dyn std::fmt::Write) {
        let _ = match &self.step {
            Some((name, since)) => write!(out, "{name} ({})", clock(since.elapsed().as_secs())),
            None => write!(out, "between steps"),
        };
        if let Some(wave) = &self.wave {
            let _ = write!(out, "\n  {wave}");
        }
        if let Some(g) = &self.gate {
            let mut waited = g.waited.max(0) as u64;
            if g.wall {
                waited += g.reported.elapsed().as_secs();
            }
            let _ = write!(
                out,
                "\n  waiting on {} for {} of {}: {}",
                g.name,
                clock(waited),
                clock(g.timeout.max(0) as u64),
                g.saw
            );
        }
    }
}

/// `1m05s`, `42s`, `1h02m`.
fn clock(seconds: u64) -> String {
    match seconds {
        s if s >= 3_600 => format!("{}h{:02}m", s / 3_600, (s % 3_600) / 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// The live display: a spinner with the current step, wave and gate, and a
/// line kept above it for each step that ended.
#[derive(Clone)]
struct Display {
    bar: ProgressBar,
    shown: Arc<Mutex<Shown>>,
}

impl Display {
    fn new() -> Display {
        let shown = Arc::new(Mutex::new(Shown::default()));
        let render = {
            let shown = shown.clone();
            move |_: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
                let mut text = String::new();
                if let Ok(shown) = shown.lock() {
                    shown.render(&mut text);
                }
                // Two columns go to the spinner.
                let _ = out.write_str(&fit(&text, width().saturating_sub(2)));
            }
        };
        let style = ProgressStyle::with_template("{spinner} {shown}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .with_key("shown", render);
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(style);
        Display { bar, shown }
    }

    /// Log lines printed above the display instead of through it.
    fn writer(&self) -> AboveDisplay {
        AboveDisplay(self.bar.clone())
    }

    /// Change what is shown; the lock is never held while drawing, which
    /// reads it.
    fn update(&self, change: impl FnOnce(&mut Shown)) {
        if let Ok(mut shown) = self.shown.lock() {
            change(&mut shown);
        }
    }

    fn apply(&self, fields: &BTreeMap<&'static str, String>) {
        let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
        let number = |k: &str| get(k).parse::<i64>().unwrap_or(0);
        match get("event").as_str() {
            "step-started" => {
                self.update(|s| {
                    *s = Shown {
                        step: Some((get("step"), Instant::now())),
                        ..Shown::default()
                    }
                });
                // Ticking from the first step on: commands that run no
                // policy draw nothing.
                self.bar.enable_steady_tick(Duration::from_millis(200));
            }
            "step-ended" => {
                let mark = if get("ok") == "true" { "✓" } else { "✗" };
                let detail = get("detail");
                let line = format!(
                    "{mark} {} ({}){}{}",
                    get("step"),
                    clock(number("seconds").max(0) as u64),
                    if detail.is_empty() { "" } else { ": " },
                    detail
                );
                self.update(|s| *s = Shown::default());
                self.bar.println(fit(&line, width()));
            }
            "wave" => self.update(|s| {
                s.wave = Some(format!(
                    "wave {}/{} · {}/{} workloads restarted · restarting {}",
                    get("wave"),
                    get("waves"),
                    get("done"),
                    get("total"),
                    get("workloads")
                ))
            }),
            "window" => self.update(|s| {
                s.wave = Some(format!(
                    "{}/{} workloads restarted · {} rolling out · restarting {}",
                    get("done"),
                    get("total"),
                    get("running"),
                    get("workloads")
                ))
            }),
            "waiting" => self.update(|s| {
                s.gate = Some(Gate {
                    name: get("gate"),
                    saw: get("saw"),
                    waited: number("waited"),
                    timeout: number("timeout"),
                    wall: get("clock") == "wall",
                    reported: Instant::now(),
                })
            }),
            "gate-done" => self.update(|s| s.gate = None),
            "run-finished" => {
                self.update(|s| *s = Shown::default());
                self.bar.finish_and_clear();
                return;
            }
            _ => {}
        }
        self.bar.tick();
    }
}

/// The terminal's width in columns (80 when it cannot be told).
fn width() -> usize {
    match console::Term::stderr().size_checked() {
        Some((_, cols)) if cols > 0 => usize::from(cols),
        _ => 80,
    }
}

/// Each line of `text` cut to `width` columns: a wrapped line would leave
/// the redrawn display garbled.
fn fit(text: &str, width: usize) -> String {
    text.lines()
        .map(|line| {
            if console::measure_text_width(line) <= width {
                line.to_string()
            } else {
                console::truncate_str(line, width, "…").into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl<S: tracing::Subscriber> Layer<S> for Display {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.apply(&fields.0);
    }
}

/// An event's fields as text.
#[derive(Default)]
struct Fields(BTreeMap<&'static str, String>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.0.insert(field.name(), text);
    }
}

/// Writes to stderr with the display cleared, then redraws it.
struct AboveDisplay(ProgressBar);

impl std::io::Write for AboveDisplay {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.suspend(|| std::io::stderr().write_all(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> MakeWriter<'a> for AboveDisplay {
    type Writer = AboveDisplay;

    fn make_writer(&'a self) -> Self::Writer {
        AboveDisplay(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_to_the_terminal() {
        assert_eq!(fit("abcdef\nab", 4), "abc…\nab");
    }

    #[test]
    fn durations_read_as_clock_time() {
        assert_eq!(clock(42), "42s");
        assert_eq!(clock(65), "1m05s");
        assert_eq!(clock(3_720), "1h02m");
    }

    #[test]
    fn the_display_shows_step_wave_and_the_gate_against_its_deadline() {
        let shown = Shown {
            step: Some(("trust-new-anchor/data-plane".into(), Instant::now())),
            wave: Some("wave 2/5 · 6/23 workloads restarted · restarting a".into()),
            gate: Some(Gate {
                name: "anchor-renewed".into(),
                saw: "revision still 1".into(),
                waited: 65,
                timeout: 600,
                wall: false,
                reported: Instant::now(),
            }),
        };
        let mut out = String::new();
        shown.render(&mut out);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "trust-new-anchor/data-plane (0s)");
        assert!(lines[1].contains("wave 2/5"), "{out}");
        assert_eq!(
            lines[2],
            "  waiting on anchor-renewed for 1m05s of 10m00s: revision still 1"
        );
    }

    #[test]
    fn quiet_turns_progress_lines_off_and_kube_is_silent_by_default() {
        let shown = log_filter(0, None, true).to_string();
        assert!(shown.contains("kube_client=off"), "{shown}");
        assert!(shown.contains("sigstore=off"), "{shown}");
        assert!(shown.contains("rotor::progress=info"), "{shown}");
        let quiet = log_filter(0, None, false).to_string();
        assert!(quiet.contains("rotor::progress=off"), "{quiet}");
        let verbose = log_filter(1, None, true).to_string();
        assert!(!verbose.contains("kube_client"), "{verbose}");
    }
}
