//! Helpers shared by the `reqwest_*` suites: a reference server, a keeper logged in to it,
//! and ways to make its token expire without waiting.

#![allow(dead_code, unreachable_pub)]

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokenkeeper_core::Timestamp;
use tokenkeeper_reqwest::clock::ManualClock;
use tokenkeeper_reqwest::{Config, Credentials, Dialect, Keeper, KeeperBuilder, TokenSet};
use tokenkeeper_testserver::{Control, ServerConfig, TestServer};

/// The user every suite logs in as, with a password distinctive enough to search for.
pub const USER: &str = "alice";
/// Alice's password.
pub const PASSWORD: &str = "pw-7c1e9f-do-not-print";

/// A server that knows alice, with `config` on top.
pub async fn server(config: ServerConfig) -> TestServer {
    TestServer::start(config.with_user(USER, PASSWORD))
        .await
        .expect("server starts")
}

/// A server with the default settings (30-minute access tokens, no rotation).
pub async fn default_server() -> TestServer {
    server(ServerConfig::default()).await
}

/// A keeper builder for the server's VitalGraph routes, logged in as alice, fixed seed.
pub fn builder(server: &TestServer) -> KeeperBuilder {
    let dialect = Dialect::vitalgraph(&server.url()).expect("dialect");
    Keeper::builder(dialect)
        .credentials(Credentials::password(USER, PASSWORD))
        .seed(7)
}

/// A keeper with the default configuration.
pub fn keeper(server: &TestServer) -> Keeper {
    builder(server).build().expect("keeper")
}

/// A keeper with `config`.
pub fn keeper_with(server: &TestServer, config: Config) -> Keeper {
    builder(server).config(config).build().expect("keeper")
}

/// The protected echo route.
pub fn echo(server: &TestServer) -> String {
    format!("{}/api/echo", server.url())
}

/// Wall-clock now as the engine sees it.
pub fn now() -> Timestamp {
    Timestamp::from_millis(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64,
    )
}

/// Makes the keeper believe its access token expired a second ago (the server still takes
/// it): the next requests must wait for one refresh. The refresh token is kept.
pub fn expire_locally(keeper: &Keeper) {
    let tokens = keeper.tokens().expect("logged in");
    let now = now();
    keeper
        .set_tokens(TokenSet {
            issued_at: now.saturating_sub(Duration::from_secs(3600)),
            expires_at: now.saturating_sub(Duration::from_secs(1)),
            ..tokens
        })
        .expect("set tokens");
}

/// Logs in through one request and checks it went through.
pub async fn warm_up(keeper: &Keeper, server: &TestServer) {
    let r = keeper
        .client()
        .get(echo(server))
        .send()
        .await
        .expect("first request");
    assert_eq!(r.status(), 200);
}

/// Fails if any of `secrets` appears in `text`.
pub fn assert_no_secret(text: &str, secrets: &[String]) {
    for s in secrets {
        assert!(!s.is_empty());
        assert!(!text.contains(s.as_str()), "secret leaked into {text:?}");
    }
}

/// Every secret the keeper holds, plus alice's password.
pub fn secrets_of(keeper: &Keeper) -> Vec<String> {
    let mut out = vec![PASSWORD.to_owned()];
    if let Some(t) = keeper.tokens() {
        out.push(t.access_token.expose().to_owned());
        if let Some(r) = &t.refresh_token {
            out.push(r.expose().to_owned());
        }
    }
    out
}

/// `Display`, `Debug` and the whole `source()` chain of an error, for secret checks.
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = format!("{e} | {e:?}");
    let mut cur = e.source();
    while let Some(s) = cur {
        let _ = write!(out, " | caused by: {s} | {s:?}");
        cur = s.source();
    }
    out
}

/// The server's clock, frozen, and a client clock in step with it: tokens expire when the test
/// says so, on both sides at once, and nobody waits.
pub struct Time {
    pub clock: ManualClock,
    control: Control,
}

impl Time {
    /// Freezes the server's clock and starts a manual clock at the same instant.
    pub fn freeze(server: &TestServer) -> Time {
        let control = server.control();
        let ms = control.freeze_clock();
        Time {
            clock: ManualClock::new(Timestamp::from_millis(ms)),
            control,
        }
    }

    /// Moves both clocks forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.control.advance_clock(d);
        self.clock.advance(d);
    }
}
