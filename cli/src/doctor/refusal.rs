//! How a protected endpoint answers a token it refuses, and the setting the library needs for
//! it: by default only a 401 means "refused token" (`Config::token_rejected_statuses`,
//! `[401]`); a server that answers a bare 403 (django-oauth-toolkit's `protected_resource`)
//! needs `[401, 403]`.

use http::{HeaderMap, StatusCode};
use tokenkeeper_core::Config;
use tokenkeeper_core::parse::parse_bearer_challenge;

use super::report::Report;

/// A protected endpoint's answer to a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// 2xx: the token was accepted.
    Accepted(StatusCode),
    /// 401 with `WWW-Authenticate: Bearer` (RFC 6750 §3); the challenge's error, if any.
    Challenge401(Option<String>),
    /// 401 without a Bearer challenge.
    Bare401,
    /// 403 without a Bearer challenge (django-oauth-toolkit's `protected_resource`).
    Bare403,
    /// 403 with a Bearer challenge; its error, if any.
    Challenge403(Option<String>),
    /// Anything else.
    Other(StatusCode),
}

impl Refusal {
    /// Classifies an answer by its status and `WWW-Authenticate` headers.
    pub(crate) fn classify(status: StatusCode, headers: &HeaderMap) -> Refusal {
        let challenge = parse_bearer_challenge(headers);
        let error = || {
            challenge
                .as_ref()
                .and_then(|c| c.error.clone().or_else(|| c.error_description.clone()))
        };
        match (status.as_u16(), challenge.is_some()) {
            (200..=299, _) => Refusal::Accepted(status),
            (401, true) => Refusal::Challenge401(error()),
            (401, false) => Refusal::Bare401,
            (403, true) => Refusal::Challenge403(error()),
            (403, false) => Refusal::Bare403,
            _ => Refusal::Other(status),
        }
    }

    /// The status, for messages and settings.
    pub(crate) fn status(&self) -> u16 {
        match self {
            Refusal::Accepted(s) | Refusal::Other(s) => s.as_u16(),
            Refusal::Challenge401(_) | Refusal::Bare401 => 401,
            Refusal::Challenge403(_) | Refusal::Bare403 => 403,
        }
    }

    /// Whether the server refused the token (any answer but a 2xx).
    pub(crate) fn refused(&self) -> bool {
        !matches!(self, Refusal::Accepted(_))
    }

    /// What the answer was, for people.
    pub(crate) fn describe(&self) -> String {
        let error = |e: &Option<String>| {
            e.as_deref()
                .map(|e| format!(" (error: {e})"))
                .unwrap_or_default()
        };
        match self {
            Refusal::Accepted(s) => format!("{s}, accepted"),
            Refusal::Challenge401(e) => format!("401 with a Bearer challenge{}", error(e)),
            Refusal::Bare401 => "401 without WWW-Authenticate: Bearer".to_owned(),
            Refusal::Bare403 => "a bare 403 without WWW-Authenticate".to_owned(),
            Refusal::Challenge403(e) => format!("403 with a Bearer challenge{}", error(e)),
            Refusal::Other(s) => s.to_string(),
        }
    }

    /// The `token_rejected_statuses` the library needs to refresh and resend after this
    /// answer, when `config`'s do not cover it: a 403 added. `None` when they cover it, or when
    /// no setting should be advised: a 2xx, a 3xx or 5xx (never a refused token), another 4xx
    /// (a 400 or 404 also answers requests that a new token would not cure; that is the
    /// operator's call), or a 403 `insufficient_scope` (a new token of the same scope cannot
    /// cure it).
    pub(crate) fn statuses_needed(&self, config: &Config) -> Option<Vec<u16>> {
        let curable = match self {
            Refusal::Bare403 => true,
            Refusal::Challenge403(e) => e.as_deref() != Some("insufficient_scope"),
            _ => false,
        };
        if !curable || config.token_rejected_statuses.contains(&403) {
            return None;
        }
        let mut statuses = config.token_rejected_statuses.clone();
        statuses.push(403);
        statuses.sort_unstable();
        statuses.dedup();
        Some(statuses)
    }
}

/// Advice lines: the exact setting, in the config file and as the builder call.
pub(crate) fn advise_statuses(report: &mut Report, statuses: &[u16]) {
    let list = list(statuses);
    report.advise(&format!(
        "set token_rejected_statuses to [{list}]; in the config file:"
    ));
    for line in config_lines(&list) {
        report.quote(&line);
    }
    report.advise(&format!("or with the builder: {}", builder_line(&list)));
}

/// ` (with token_rejected_statuses [401, 403])` when the library checks run with other statuses
/// than `base` (the advice followed), else nothing.
pub(crate) fn with_statuses(base: &Config, lib: &Config) -> String {
    if base.token_rejected_statuses == lib.token_rejected_statuses {
        String::new()
    } else {
        format!(
            " (with token_rejected_statuses [{}])",
            list(&lib.token_rejected_statuses)
        )
    }
}

/// The library's settings with the statuses `refusal` needs added, as a user who followed the
/// advice would run it.
pub(crate) fn advised(config: &Config, refusal: &Refusal) -> Config {
    match refusal.statuses_needed(config) {
        Some(statuses) => Config {
            token_rejected_statuses: statuses,
            ..config.clone()
        },
        None => config.clone(),
    }
}

/// Statuses as `401, 403`.
pub(crate) fn list(statuses: &[u16]) -> String {
    statuses
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The setting in the config file's YAML layout.
fn config_lines(list: &str) -> [String; 3] {
    [
        "client:".to_owned(),
        "  token_refresh:".to_owned(),
        format!("    token_rejected_statuses: [{list}]"),
    ]
}

/// The setting as a `Keeper` builder call.
fn builder_line(list: &str) -> String {
    format!(
        "Keeper::builder(dialect).config(Config {{ token_rejected_statuses: vec![{list}], \
         ..Config::default() }})"
    )
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn answer(status: u16, challenge: Option<&'static str>) -> Refusal {
        let mut h = HeaderMap::new();
        if let Some(c) = challenge {
            h.insert(http::header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
        }
        Refusal::classify(StatusCode::from_u16(status).expect("a status"), &h)
    }

    #[test]
    fn answers_are_classified_by_status_and_challenge() {
        let invalid = Some("Bearer error=\"invalid_token\"");
        assert_eq!(answer(200, None), Refusal::Accepted(StatusCode::OK));
        assert_eq!(
            answer(401, invalid),
            Refusal::Challenge401(Some("invalid_token".into()))
        );
        assert_eq!(answer(401, Some("Bearer")), Refusal::Challenge401(None));
        assert_eq!(answer(401, Some("Basic realm=\"x\"")), Refusal::Bare401);
        assert_eq!(answer(401, None), Refusal::Bare401);
        assert_eq!(answer(403, None), Refusal::Bare403);
        assert_eq!(
            answer(403, invalid),
            Refusal::Challenge403(Some("invalid_token".into()))
        );
        assert_eq!(answer(404, None), Refusal::Other(StatusCode::NOT_FOUND));
        assert!(!answer(204, None).refused());
        assert!(answer(302, None).refused());
    }

    #[test]
    fn the_setting_needed_adds_the_refusing_status_to_the_defaults() {
        let c = Config::default();
        assert_eq!(answer(401, None).statuses_needed(&c), None);
        assert_eq!(answer(401, Some("Bearer")).statuses_needed(&c), None);
        assert_eq!(answer(403, None).statuses_needed(&c), Some(vec![401, 403]));
        assert_eq!(
            answer(403, Some("Bearer error=\"invalid_token\"")).statuses_needed(&c),
            Some(vec![401, 403])
        );
        assert_eq!(
            answer(403, Some("Bearer error=\"insufficient_scope\"")).statuses_needed(&c),
            None
        );
        assert_eq!(answer(200, None).statuses_needed(&c), None);
        assert_eq!(answer(302, None).statuses_needed(&c), None);
        assert_eq!(answer(400, None).statuses_needed(&c), None);
        assert_eq!(answer(404, None).statuses_needed(&c), None);
        assert_eq!(answer(500, None).statuses_needed(&c), None);
        let set = Config {
            token_rejected_statuses: vec![401, 403],
            ..Config::default()
        };
        assert_eq!(answer(403, None).statuses_needed(&set), None);
    }

    #[test]
    fn the_advice_prints_the_yaml_and_the_builder_call() {
        let mut r = Report::capturing();
        advise_statuses(&mut r, &[401, 403]);
        let text = r.text();
        let yaml = "client:\n  token_refresh:\n    token_rejected_statuses: [401, 403]";
        let indent = " ".repeat(31);
        let quoted = yaml
            .lines()
            .map(|l| format!("{indent}{l}"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(text.contains(&quoted), "{text}");
        assert!(
            text.contains(
                "→ or with the builder: Keeper::builder(dialect).config(Config { \
                 token_rejected_statuses: vec![401, 403], ..Config::default() })"
            ),
            "{text}"
        );
    }
}
