//! Live progress: an indicatif bar on a terminal, plain periodic lines otherwise (logs, CI,
//! pipes), with the run's events printed above either.

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokenkeeper_core::Metrics;

use super::workload::Seen;
use crate::out::say;

/// Where progress goes.
#[derive(Debug)]
pub(crate) enum Display {
    /// A live bar on the terminal.
    Bar(ProgressBar),
    /// A status line every `every`, for output that is not a terminal.
    Plain {
        /// Time between two status lines.
        every: Duration,
        /// When the next status line is due (elapsed time).
        next: Duration,
    },
}

impl Display {
    /// A bar when stdout is a terminal and `plain` is false, else plain lines.
    pub(crate) fn new(total: Duration, plain: bool) -> Display {
        if plain || !std::io::stdout().is_terminal() {
            let every = (total / 10).clamp(Duration::from_secs(1), Duration::from_secs(5));
            return Display::Plain { every, next: every };
        }
        let bar = ProgressBar::with_draw_target(
            Some(total.as_millis() as u64),
            ProgressDrawTarget::stdout(),
        );
        let style = ProgressStyle::with_template("{spinner} {elapsed:>3} [{bar:24}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(120));
        Display::Bar(bar)
    }

    /// Prints an event line (above the bar, if there is one).
    pub(crate) fn event(&self, elapsed: Duration, text: &str) {
        let line = format!("  t={:>5.1}s  {text}", elapsed.as_secs_f64());
        match self {
            Display::Bar(bar) => bar.println(line),
            Display::Plain { .. } => say(&line),
        }
    }

    /// Shows the counts at `elapsed` (every call on a terminal; every few seconds otherwise).
    pub(crate) fn update(&mut self, elapsed: Duration, seen: Seen, metrics: &Metrics) {
        match self {
            Display::Bar(bar) => {
                bar.set_position(elapsed.as_millis() as u64);
                bar.set_message(status(seen, metrics));
            }
            Display::Plain { every, next } => {
                if elapsed >= *next {
                    *next += *every;
                    say(&format!(
                        "  t={:>5.1}s  {}",
                        elapsed.as_secs_f64(),
                        status(seen, metrics)
                    ));
                }
            }
        }
    }

    /// Removes the bar (plain output needs nothing).
    pub(crate) fn finish(&self) {
        if let Display::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// One status line: what the callers saw and what the client did about it.
fn status(seen: Seen, m: &Metrics) -> String {
    format!(
        "{} requests · {} ok · {} refreshes · {} re-logins · {} 401s recovered · {} resends · {} failed",
        seen.sent,
        seen.ok,
        m.refresh_count,
        m.reauthentications,
        m.unauthorized_resends,
        m.transient_resends,
        seen.failed
    )
}
