//! Helpers shared by the server tests: start a server, log in, refresh, call the API.

use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use tokenkeeper_testserver::{ServerConfig, TestServer};

/// A server with the default configuration and a client for it.
pub(crate) async fn start() -> (TestServer, Client) {
    start_with(ServerConfig::default()).await
}

/// A server with `config` and a client for it.
pub(crate) async fn start_with(config: ServerConfig) -> (TestServer, Client) {
    let server = TestServer::start(config).await.expect("server starts");
    (server, Client::new())
}

/// `POST /api/login` with the given form fields.
pub(crate) async fn login_form(c: &Client, s: &TestServer, form: &[(&str, &str)]) -> Response {
    c.post(format!("{}/api/login", s.url()))
        .form(form)
        .send()
        .await
        .expect("login request")
}

/// Logs in as admin and returns `(access, refresh)`.
pub(crate) async fn login(c: &Client, s: &TestServer) -> (String, String) {
    login_with_expiry(c, s, None).await
}

/// Logs in as admin, optionally with `token_expiry_seconds`, and returns `(access, refresh)`.
pub(crate) async fn login_with_expiry(
    c: &Client,
    s: &TestServer,
    expiry: Option<&str>,
) -> (String, String) {
    let mut form = vec![("username", "admin"), ("password", "admin")];
    if let Some(e) = expiry {
        form.push(("token_expiry_seconds", e));
    }
    let r = login_form(c, s, &form).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    (
        str_field(&v, "access_token"),
        str_field(&v, "refresh_token"),
    )
}

/// `POST /api/refresh` with `token` both as Bearer and in the body.
pub(crate) async fn refresh(c: &Client, s: &TestServer, token: &str) -> Response {
    c.post(format!("{}/api/refresh", s.url()))
        .bearer_auth(token)
        .json(&serde_json::json!({ "refresh_token": token }))
        .send()
        .await
        .expect("refresh request")
}

/// `GET /api/echo` with `token`.
pub(crate) async fn echo(c: &Client, s: &TestServer, token: &str) -> Response {
    c.get(format!("{}/api/echo", s.url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("echo request")
}

/// `POST /oauth/token` with `form` and optional HTTP Basic client credentials.
pub(crate) async fn token_endpoint(
    c: &Client,
    s: &TestServer,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> Response {
    let mut req = c.post(format!("{}/oauth/token", s.url())).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    req.send().await.expect("token request")
}

/// The string field `name` of a JSON object.
pub(crate) fn str_field(v: &Value, name: &str) -> String {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("no string {name} in {v}"))
        .to_owned()
}

/// A response header as a string.
pub(crate) fn header(r: &Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}
