//! The set-up both engine benchmarks share: a logged-in VitalGraph session at fake time `T0`.

use std::time::Duration;

use tokenkeeper_core::dialect::{Credentials, Dialect};
use tokenkeeper_core::{Config, Session, Timestamp, TokenSet};

/// The start of fake time.
pub(crate) const T0: Timestamp = Timestamp::from_secs(1_800_000_000);

/// A JWT-sized opaque access token (the header clone must not depend on its length).
pub(crate) const ACCESS: &str = concat!(
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
    ".eyJzdWIiOiJhZG1pbiIsImlhdCI6MTgwMDAwMDAwMCwidHlwZSI6ImFjY2VzcyJ9",
    ".c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtc2lnbmF0dXJlLXNpZ25hdHVyZQ",
);

/// A VitalGraph session holding a token valid for 30 minutes (and a refresh token), at `T0`.
pub(crate) fn logged_in() -> Session {
    let dialect = Dialect::vitalgraph("http://127.0.0.1:8001").unwrap();
    let mut s = Session::new(
        Config::default(),
        dialect,
        Credentials::password("admin", "admin"),
        7,
    )
    .unwrap();
    let tokens = TokenSet {
        access_token: ACCESS.into(),
        refresh_token: Some("refresh-token-0123456789".into()),
        issued_at: T0,
        expires_at: T0.saturating_add(Duration::from_secs(1800)),
        refresh_expires_at: None,
    };
    s.set_tokens(T0, tokens).unwrap();
    while s.poll_action().is_some() {}
    s
}

/// The refresh response both benchmarks answer with.
pub(crate) fn refresh_body() -> String {
    format!(r#"{{"access_token":"{ACCESS}","token_type":"bearer","expires_in":1800}}"#)
}
