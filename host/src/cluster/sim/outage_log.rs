//! Broken pairs over virtual time, however they were counted: the
//! pair-seconds they add up to and the windows in which any pair was
//! broken. The outage within a cluster and the one across clusters both
//! keep one.

use std::collections::BTreeSet;

use super::outage::OutageWindow;

/// Sample pairs a window keeps.
pub const MAX_SAMPLES: usize = 5;

#[derive(Debug, Default)]
pub struct OutageLog {
    current: u64,
    broken_pair_seconds: f64,
    windows: Vec<OutageWindow>,
    open: Option<(OutageWindow, BTreeSet<String>)>,
}

impl OutageLog {
    /// `total` pairs are broken from `now` on, for `causes`; `samples`
    /// name a few. A window opens at the first broken pair and closes when
    /// none is.
    pub fn record(
        &mut self,
        now: i64,
        total: u64,
        samples: Vec<String>,
        causes: impl IntoIterator<Item = String>,
    ) {
        self.current = total;
        if total > 0 {
            let (window, all_causes) = self.open.get_or_insert_with(|| {
                (
                    OutageWindow {
                        start: now,
                        end: now,
                        broken_pairs_max: 0,
                        sample_pairs: Vec::new(),
                        cause: String::new(),
                    },
                    BTreeSet::new(),
                )
            });
            window.broken_pairs_max = window.broken_pairs_max.max(total);
            for s in samples {
                if window.sample_pairs.len() < MAX_SAMPLES && !window.sample_pairs.contains(&s) {
                    window.sample_pairs.push(s);
                }
            }
            all_causes.extend(causes);
            window.cause = all_causes.iter().cloned().collect::<Vec<_>>().join("; ");
        } else if let Some((mut window, _)) = self.open.take() {
            window.end = now;
            self.windows.push(window);
        }
    }

    /// Time passes with the current count of broken pairs.
    pub fn elapse(&mut self, from: i64, to: i64) {
        if to <= from {
            return;
        }
        self.broken_pair_seconds += self.current as f64 * (to - from) as f64;
        if let Some((w, _)) = &mut self.open {
            w.end = to;
        }
    }

    pub fn broken_pair_seconds(&self) -> f64 {
        self.broken_pair_seconds
    }

    /// Pairs broken now.
    #[cfg(test)]
    pub fn current(&self) -> u64 {
        self.current
    }

    /// Closed windows plus the open one (ending now).
    pub fn windows(&self, now: i64) -> Vec<OutageWindow> {
        let mut out = self.windows.clone();
        if let Some((w, _)) = &self.open {
            let mut w = w.clone();
            w.end = now;
            out.push(w);
        }
        out
    }
}
