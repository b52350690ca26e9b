//! The demo's closing table: what the client counted and what the server counted, side by
//! side, with a check mark where the two must agree.

use tokenkeeper_core::Metrics;
use tokenkeeper_testserver::Counters;

use super::workload::Seen;
use crate::table::{Align, Table};

/// One row: label, client value, server value (if the server counts it), whether the two
/// agree as they must (`None` when there is no rule), and what the server column counts.
type Row = (&'static str, u64, Option<u64>, Option<bool>, &'static str);

/// Everything the table is made of.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outcome {
    /// What the callers saw.
    pub(crate) seen: Seen,
    /// The client's metrics at the end.
    pub(crate) client: Metrics,
    /// The server's counters at the end.
    pub(crate) server: Counters,
}

impl Outcome {
    /// Requests whose callers saw an error or a non-2xx status (or that never ended).
    pub(crate) fn failures(&self) -> u64 {
        self.seen.failed
            + self
                .seen
                .sent
                .saturating_sub(self.seen.ok + self.seen.failed)
    }

    /// The rows, in order.
    fn rows(&self) -> Vec<Row> {
        let (c, s) = (&self.client, &self.server);
        let api_received = s.protected_ok + s.protected_unauthorized + s.dropped_connections;
        let sends = c.requests + c.unauthorized_resends + c.transient_resends;
        let re_logins = s.logins_ok.saturating_sub(1);
        let auth_failed = s.refreshes_faulted + s.refreshes_rejected;
        let login_failed = s.logins_faulted + s.logins_rejected;
        vec![
            (
                "requests",
                c.requests,
                Some(api_received),
                Some(api_received == sends),
                "API requests received = requests + both kinds of resend",
            ),
            (
                "successes",
                self.seen.ok,
                Some(s.protected_ok),
                Some(self.seen.ok == s.protected_ok),
                "answered 2xx",
            ),
            (
                "refreshes",
                c.refresh_count,
                Some(s.refreshes_accepted),
                Some(c.refresh_count == s.refreshes_accepted),
                "refreshes accepted",
            ),
            (
                "refresh attempts failed",
                c.refresh_failures,
                Some(auth_failed),
                Some(c.refresh_failures == auth_failed),
                "answered 503 (injected) or 401 (revoked)",
            ),
            (
                "re-logins",
                c.reauthentications,
                Some(re_logins),
                Some(c.reauthentications == re_logins),
                "logins after the first",
            ),
            (
                "login attempts failed",
                c.login_failures,
                Some(login_failed),
                Some(c.login_failures == login_failed),
                "answered 429 (injected) or refused",
            ),
            (
                "401s recovered",
                c.unauthorized_resends,
                Some(s.protected_unauthorized),
                Some(c.unauthorized_resends == s.protected_unauthorized),
                "API requests answered 401",
            ),
            (
                "transient resends",
                c.transient_resends,
                Some(s.dropped_connections),
                Some(c.transient_resends == s.dropped_connections),
                "connections dropped (injected)",
            ),
            (
                "failures",
                self.failures(),
                None,
                Some(self.failures() == 0),
                "callers that saw an error or a non-2xx status (expected 0)",
            ),
        ]
    }

    /// The table as text.
    pub(crate) fn render(&self) -> String {
        let mut t = Table::new(&[
            ("", Align::Left),
            ("client", Align::Right),
            ("server", Align::Right),
            ("", Align::Left),
            ("what the server counted", Align::Left),
        ]);
        for (label, client, server, agrees, what) in self.rows() {
            t.row(vec![
                label.to_owned(),
                client.to_string(),
                server.map_or_else(|| "—".to_owned(), |v| v.to_string()),
                match agrees {
                    Some(true) => "✓".to_owned(),
                    Some(false) => "✗".to_owned(),
                    None => String::new(),
                },
                what.to_owned(),
            ]);
        }
        t.render()
    }

    /// Rows whose client and server counts disagree although they must agree (failures
    /// excluded: they decide the exit code on their own).
    pub(crate) fn disagreements(&self) -> Vec<&'static str> {
        self.rows()
            .into_iter()
            .filter(|(label, _, server, agrees, _)| {
                server.is_some() && *agrees == Some(false) && *label != "failures"
            })
            .map(|(label, ..)| label)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consistent() -> Outcome {
        let client = Metrics {
            requests: 100,
            delivered: 100,
            refresh_count: 4,
            refresh_failures: 3,
            logins: 2,
            reauthentications: 1,
            login_failures: 1,
            unauthorized_resends: 7,
            transient_resends: 2,
            ..Metrics::default()
        };
        let server = Counters {
            logins_ok: 2,
            logins_faulted: 1,
            refreshes_accepted: 4,
            refreshes_faulted: 2,
            refreshes_rejected: 1,
            protected_ok: 100,
            protected_unauthorized: 7,
            dropped_connections: 2,
            ..Counters::default()
        };
        Outcome {
            seen: Seen {
                sent: 100,
                ok: 100,
                failed: 0,
            },
            client,
            server,
        }
    }

    #[test]
    fn a_consistent_run_has_no_cross_marks() {
        let o = consistent();
        assert_eq!(o.failures(), 0);
        assert!(o.disagreements().is_empty());
        let text = o.render();
        assert!(!text.contains('✗'), "{text}");
        assert!(text.contains("failures"), "{text}");
    }

    #[test]
    fn unfinished_requests_count_as_failures_and_disagreements_are_named() {
        let mut o = consistent();
        o.seen.sent = 103;
        o.seen.failed = 1;
        o.server.refreshes_accepted = 5;
        assert_eq!(o.failures(), 3);
        assert_eq!(o.disagreements(), vec!["refreshes"]);
    }
}
