//! `tokenkeeper doctor`: the seed plan's "Diagnostic Steps Before Implementation" against any
//! server. Wire checks first (login response shape, refresh token, the expiry the library
//! holds, refresh, rotation, a protected endpoint, how it refuses a token, whether a refresh
//! revokes the previous access token), then the library itself (a token it holds as expired
//! refreshed before sending, a short-lived token refreshed before it expires, and a refused
//! token it believed valid, recovered). Login and refresh answers are judged by the engine
//! (`judge.rs`), never by a reading of the doctor's own.
//!
//! Nothing printed holds a token or a password: tokens are described by length and by the
//! expiry the library resolves, passwords only by the variable they came from.

mod facts;
mod http;
mod judge;
mod library;
mod login;
mod probe;
mod recovery;
mod refresh;
mod refusal;
mod report;
#[cfg(test)]
mod testing;

use std::process::ExitCode;
use std::time::Duration;

use tokenkeeper_core::Config;
use tokenkeeper_core::dialect::{ClientAuth, Credentials, Dialect};
use tokenkeeper_core::secret::Secret;

use report::{Report, Verdict, say};

/// The wire format of the server under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DialectKind {
    /// VitalGraph: `POST {server}/api/login` (form), `POST {server}/api/refresh` (JSON).
    Vitalgraph,
    /// OAuth 2.0 password grant at a token endpoint (RFC 6749 §4.3, refresh per §6).
    Oauth2,
}

/// How an OAuth 2.0 client authenticates to the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ClientAuthKind {
    /// HTTP Basic (RFC 6749 §2.3.1, the one servers must support).
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Body,
}

/// Options of `tokenkeeper doctor`.
#[derive(Debug, clap::Args)]
pub(crate) struct DoctorArgs {
    /// Base URL of the server (VitalGraph: where `/api/login` lives; OAuth 2.0: the API).
    #[arg(long, value_name = "URL")]
    server: String,
    /// The user to log in as.
    #[arg(long, value_name = "USER")]
    username: String,
    /// Environment variable that holds the password (never pass a password as an argument).
    #[arg(long, value_name = "VAR", default_value = "TOKENKEEPER_PASSWORD")]
    password_env: String,
    /// The server's wire format.
    #[arg(long, value_enum, default_value_t = DialectKind::Vitalgraph)]
    dialect: DialectKind,
    /// OAuth 2.0 token endpoint [default: {server}/oauth/token].
    #[arg(long, value_name = "URL")]
    token_url: Option<String>,
    /// OAuth 2.0 client id (none: no client authentication).
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// Environment variable that holds the OAuth 2.0 client secret (none: a public client).
    #[arg(long, value_name = "VAR")]
    client_secret_env: Option<String>,
    /// How the OAuth 2.0 client authenticates.
    #[arg(long, value_enum, default_value_t = ClientAuthKind::Basic)]
    client_auth: ClientAuthKind,
    /// OAuth 2.0 scope to ask for.
    #[arg(long)]
    scope: Option<String>,
    /// Lifetime asked for in the proactive-refresh check (VitalGraph `token_expiry_seconds`,
    /// 1..=1800).
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=1800))]
    token_expiry_seconds: u64,
    /// A protected endpoint to GET with the token [default: {server}/api/spaces].
    #[arg(long, value_name = "URL")]
    probe_url: Option<String>,
    /// Seconds to wait for each answer.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    timeout_secs: u64,
    /// Allow plain-http auth endpoints on hosts other than loopback (never in production).
    #[arg(long)]
    allow_insecure_http: bool,
}

/// Everything the checks need, resolved from the arguments.
#[derive(Debug)]
pub(crate) struct Ctx {
    /// The wire format.
    pub(crate) kind: DialectKind,
    /// The server's base URL, without a trailing slash.
    pub(crate) server: String,
    /// The dialect at the server's normal token lifetime.
    pub(crate) dialect: Dialect,
    /// Username and password.
    pub(crate) credentials: Credentials,
    /// The protected endpoint.
    pub(crate) probe: reqwest::Url,
    /// The short lifetime to ask for (VitalGraph).
    pub(crate) short_secs: u64,
    /// The per-answer timeout.
    pub(crate) timeout: Duration,
    /// A plain client that follows no redirect.
    pub(crate) raw: reqwest::Client,
    /// The engine settings for the library checks.
    pub(crate) config: Config,
}

/// Runs the checks; exit code 0 when none failed, 1 when one did, 2 for unusable arguments.
pub(crate) async fn run(args: DoctorArgs) -> ExitCode {
    let ctx = match setup(&args) {
        Ok(ctx) => ctx,
        Err(message) => {
            eprintln!("tokenkeeper doctor: {message}");
            return ExitCode::from(2);
        }
    };
    say(&format!(
        "tokenkeeper doctor: {} server at {} as {:?} (password from ${})",
        match ctx.kind {
            DialectKind::Vitalgraph => "VitalGraph",
            DialectKind::Oauth2 => "OAuth 2.0",
        },
        ctx.server,
        args.username,
        args.password_env
    ));
    let mut report = Report::default();
    checks(&ctx, &mut report).await;
    say("");
    say(&format!("doctor: {}", report.summary()));
    if report.any_failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The checks in order; a failure that makes the rest meaningless stops them.
async fn checks(ctx: &Ctx, report: &mut Report) {
    let Some(first) = login::login(ctx, report).await else {
        return;
    };
    let Some(facts) = facts::token_facts(&ctx.config, report, &first) else {
        return;
    };
    let refreshed = refresh::refresh(ctx, report, &first.tokens, &facts.held).await;
    let latest = refreshed
        .as_ref()
        .map_or(&first.tokens.access_token, |t| &t.access_token);
    let Some(refusal) = probe::probe(ctx, report, latest).await else {
        for name in [
            "refused token",
            "previous token",
            "expired token",
            "proactive refresh",
            "401 recovery",
        ] {
            report.check(
                Verdict::Skip,
                name,
                "needs a protected endpoint (--probe-url)",
            );
        }
        return;
    };
    let revokes = probe::previous_token(ctx, report, &facts, refreshed.as_ref(), &refusal).await;
    // The library checks run as a user who followed the `refused token` advice would.
    let lib = refusal::advised(&ctx.config, &refusal);
    library::expired_token(ctx, report, &lib).await;
    // The token for the 401 check is obtained first, so that it expires while the
    // proactive check runs.
    let rejected = recovery::prepare_rejected_token(ctx, &facts).await;
    library::proactive(ctx, report, &facts, &lib, revokes).await;
    recovery::recovery(ctx, report, &lib, rejected).await;
}

fn setup(args: &DoctorArgs) -> Result<Ctx, String> {
    let password = secret_from_env(&args.password_env, "the password")?;
    let server = args.server.trim().trim_end_matches('/').to_owned();
    parse_http_url(&server, "--server")?;
    let mut dialect = match args.dialect {
        DialectKind::Vitalgraph => Dialect::vitalgraph(&server).map_err(|e| e.to_string())?,
        DialectKind::Oauth2 => {
            let token_url = args
                .token_url
                .clone()
                .unwrap_or_else(|| format!("{server}/oauth/token"));
            parse_http_url(&token_url, "--token-url")?;
            let client = client_auth(args)?;
            Dialect::oauth2_password(&token_url, client, args.scope.as_deref())
                .map_err(|e| e.to_string())?
        }
    };
    // The doctor sends the login and refresh itself: to the URLs the library would send to.
    tokenkeeper_reqwest::read_endpoint_urls(&mut dialect).map_err(|e| e.to_string())?;
    dialect
        .validate(args.allow_insecure_http)
        .map_err(|e| format!("{e}; use https, or --allow-insecure-http for a test server"))?;
    let probe = match &args.probe_url {
        Some(p) => parse_http_url(p, "--probe-url")?,
        None => parse_http_url(&format!("{server}/api/spaces"), "--server")?,
    };
    let timeout = Duration::from_secs(args.timeout_secs);
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout)
        .timeout(timeout)
        .build()
        .map_err(|e| format!("cannot set up HTTP: {e}"))?;
    let config = Config {
        allow_insecure_http: args.allow_insecure_http,
        ..Config::default()
    };
    Ok(Ctx {
        kind: args.dialect,
        server,
        dialect,
        credentials: Credentials::password(args.username.clone(), password),
        probe,
        short_secs: args.token_expiry_seconds,
        timeout,
        raw,
        config,
    })
}

fn client_auth(args: &DoctorArgs) -> Result<ClientAuth, String> {
    let secret = args
        .client_secret_env
        .as_deref()
        .map(|var| secret_from_env(var, "the client secret"))
        .transpose()?;
    Ok(match (&args.client_id, secret, args.client_auth) {
        (None, None, _) => ClientAuth::None,
        (None, Some(_), _) => {
            return Err("--client-secret-env needs --client-id".to_owned());
        }
        (Some(id), Some(secret), ClientAuthKind::Basic) => ClientAuth::Basic {
            client_id: id.clone(),
            client_secret: secret,
        },
        (Some(id), secret, _) => ClientAuth::Body {
            client_id: id.clone(),
            client_secret: secret,
        },
    })
}

fn secret_from_env(var: &str, what: &str) -> Result<Secret, String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
        Ok(_) => Err(format!(
            "environment variable {var} (which holds {what}) is empty"
        )),
        Err(std::env::VarError::NotPresent) => Err(format!(
            "environment variable {var} is not set: it must hold {what} (name another variable \
             with --password-env / --client-secret-env)"
        )),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(format!("environment variable {var} is not valid UTF-8"))
        }
    }
}

fn parse_http_url(s: &str, flag: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(s.trim()).map_err(|e| format!("{flag} {s:?}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("{flag} {s:?}: expected an http:// or https:// URL"));
    }
    Ok(url)
}
