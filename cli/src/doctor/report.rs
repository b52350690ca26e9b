//! The doctor's output: one line per check with its verdict, advice under it, a summary.

use std::fmt;

pub(crate) use crate::out::say;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The server does what the library needs.
    Pass,
    /// The library copes, but something is worth knowing or fixing.
    Warn,
    /// The library cannot work with this server as configured.
    Fail,
    /// The check could not run (not applicable, or an earlier check failed).
    Skip,
    /// Worth knowing about the server; nothing to fix (not counted in the summary).
    Info,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "PASS",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "SKIP",
            Verdict::Info => "INFO",
        })
    }
}

/// Prints checks as they finish (a slow check must not hide the ones before it) and counts
/// the verdicts.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// The lines, kept instead of printed ([`Report::capturing`]).
    kept: Option<Vec<String>>,
    passed: u32,
    warned: u32,
    failed: u32,
    skipped: u32,
}

impl Report {
    /// A report that keeps its lines instead of printing them.
    #[cfg(test)]
    pub(crate) fn capturing() -> Self {
        Report {
            kept: Some(Vec::new()),
            ..Report::default()
        }
    }

    /// The lines kept by a [`Report::capturing`] report, one string.
    #[cfg(test)]
    pub(crate) fn text(&self) -> String {
        self.kept.as_deref().unwrap_or_default().join("\n")
    }

    fn emit(&mut self, line: &str) {
        match &mut self.kept {
            Some(kept) => kept.push(line.to_owned()),
            None => say(line),
        }
    }

    /// Prints one check: verdict, name, what was seen.
    pub(crate) fn check(&mut self, verdict: Verdict, name: &str, detail: &str) {
        match verdict {
            Verdict::Pass => self.passed += 1,
            Verdict::Warn => self.warned += 1,
            Verdict::Fail => self.failed += 1,
            Verdict::Skip => self.skipped += 1,
            Verdict::Info => {}
        }
        self.emit(&format!("  {verdict}  {name:<18} {detail}"));
    }

    /// Prints advice under the last check.
    pub(crate) fn advise(&mut self, advice: &str) {
        self.emit(&format!("        {:<18} → {advice}", ""));
    }

    /// Prints a line to copy verbatim (a config snippet) under the last advice, indented two
    /// columns past the advice text.
    pub(crate) fn quote(&mut self, line: &str) {
        self.emit(&format!("        {:<18}     {line}", ""));
    }

    /// Whether any check failed.
    pub(crate) fn any_failed(&self) -> bool {
        self.failed > 0
    }

    /// The closing line.
    pub(crate) fn summary(&self) -> String {
        format!(
            "{} passed, {} warning(s), {} failed, {} skipped",
            self.passed, self.warned, self.failed, self.skipped
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_each_verdict() {
        let mut r = Report::capturing();
        r.check(Verdict::Pass, "a", "ok");
        r.check(Verdict::Warn, "b", "hm");
        r.check(Verdict::Fail, "c", "no");
        r.check(Verdict::Skip, "d", "-");
        r.check(Verdict::Info, "e", "fyi");
        assert!(r.any_failed());
        assert_eq!(r.summary(), "1 passed, 1 warning(s), 1 failed, 1 skipped");
    }
}
