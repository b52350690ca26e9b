//! The origin check against hostile URL strings. Two reference servers: the API (the token
//! endpoint's origin, on `127.0.0.1`) and a recorder on another origin (`127.0.0.2`, another
//! port) that records every request and whether it carried `Authorization`. For every URL of
//! the tables, given to `keeper.fetch` as a string, a `URL` and a `Request`: if the URL
//! `fetch` sends has an allowed origin, the request reached that server with the token;
//! otherwise the token reached no server (the request went without it, or nowhere). Each row
//! also states what it means, and the platform's own `Request` (the oracle: it resolves and
//! parses exactly as `fetch`) must agree, so the table is checked as much as the driver.
#![cfg(target_arch = "wasm32")]

mod support;

use js_sys::{Function, Reflect};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::{Request, Url};

use tokenkeeper_wasm::tokenkeeper_core::ConfigError;
use tokenkeeper_wasm::tokenkeeper_core::dialect::{Credentials, Dialect};
use tokenkeeper_wasm::{Keeper, Options, Storage};

use support::{Seen, in_browser, options, recorded, recorder, server};

/// What must happen to a row's request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    /// The URL's origin is allowed: the request reached that server with the token.
    Token,
    /// Another origin: the request went without the token (or failed on the network).
    NoToken,
    /// `fetch` refuses the URL (credentials in it, a port out of range, no base to resolve
    /// it against): nothing was sent anywhere.
    Refused,
}
use Want::{NoToken, Refused, Token};

/// The table (`tests/urls/cases.json`, shared with the npm package's runner
/// `js-tests/test/urls.test.mjs`): URLs that mean the same with or without a base, and URLs
/// whose meaning depends on the base `fetch` resolves them against. `{A}` is the API's
/// `127.0.0.1:port`, `{R}` the recorder's `127.0.0.2:port`, `{PA}`/`{PR}` their ports, `{k}`
/// the row's marker.
const CASES: &str = include_str!("../../tests/urls/cases.json");

fn want_of(v: &serde_json::Value) -> Want {
    match v.as_str() {
        Some("token") => Token,
        Some("noToken") => NoToken,
        Some("refused") => Refused,
        other => panic!("tests/urls/cases.json: {other:?} is not a want"),
    }
}

fn cases(part: &str) -> Vec<serde_json::Value> {
    let all: serde_json::Value = serde_json::from_str(CASES).expect("tests/urls/cases.json");
    all[part].as_array().expect(part).clone()
}

/// `(url, want)` for every absolute row.
fn absolute() -> Vec<(String, Want)> {
    cases("absolute")
        .iter()
        .map(|r| (r["url"].as_str().unwrap().to_owned(), want_of(&r["want"])))
        .collect()
}

/// `(url, under a page's <base href="http://{A}/base/">, under <base href="http://{R}/base/">,
/// in Node (no base))` for every relative row.
fn relative() -> Vec<(String, Want, Want, Want)> {
    cases("relative")
        .iter()
        .map(|r| {
            (
                r["url"].as_str().unwrap().to_owned(),
                want_of(&r["underApiBase"]),
                want_of(&r["underRecorderBase"]),
                want_of(&r["node"]),
            )
        })
        .collect()
}

/// `host:port` of a server URL (`http://127.0.0.1:4000`).
fn authority(url: &str) -> &str {
    url.strip_prefix("http://").expect("an http:// server URL")
}

fn fill(template: &str, k: &str) -> String {
    let (a, r) = (authority(server()), authority(recorder()));
    let port = |hp: &str| hp.rsplit(':').next().unwrap().to_owned();
    template
        .replace("{A}", a)
        .replace("{R}", r)
        .replace("{PA}", &port(a))
        .replace("{PR}", &port(r))
        .replace("{k}", k)
}

/// What `fetch` makes of `url` here, by the platform's `Request`: refused, or the origin and
/// the path with query it sends to.
fn oracle(url: &str) -> Option<(String, String)> {
    let request = Request::new_with_str(url).ok()?;
    let parsed = Url::new(&request.url()).unwrap();
    Some((
        parsed.origin(),
        format!("{}{}", parsed.pathname(), parsed.search()),
    ))
}

/// Where a token may go for this keeper (the origins it was given), as `URL.origin` writes them.
struct Allowed {
    /// The server that records a request sent with the token.
    to: &'static str,
    origins: Vec<String>,
}

impl Allowed {
    fn want(&self, url: &str) -> Want {
        match oracle(url) {
            None => Refused,
            Some((origin, _)) if self.origins.contains(&origin) => Token,
            Some(_) => NoToken,
        }
    }
}

fn origin_of(url: &str) -> String {
    Url::new(url).unwrap().origin()
}

/// Sends `input` through the keeper and checks what reached the servers.
async fn check(k: &Keeper, allowed: &Allowed, label: &str, input: &JsValue, url: &str, want: Want) {
    let other = if allowed.to == server() {
        recorder()
    } else {
        server()
    };
    let (to0, other0) = (
        recorded(allowed.to).await.len(),
        recorded(other).await.len(),
    );
    let engine0 = k.metrics().requests;
    let result = k.fetch(input, &JsValue::UNDEFINED).await;
    let at_to: Vec<Seen> = recorded(allowed.to).await.split_off(to0);
    let at_other: Vec<Seen> = recorded(other).await.split_off(other0);
    let engine = k.metrics().requests - engine0;
    let what = format!(
        "{label} {url:?}: want {want:?}, got {result:?}, engine saw {engine}, {} saw {at_to:?}, {other} saw {at_other:?}",
        allowed.to
    );
    assert!(
        at_other.iter().all(|s| !s.authorization),
        "the token reached another origin: {what}"
    );
    match want {
        Token => {
            let path = oracle(url).map(|(_, p)| p).unwrap();
            assert!(result.as_ref().is_ok_and(|r| r.status() == 200), "{what}");
            assert_eq!(engine, 1, "{what}");
            assert_eq!(at_to.len(), 1, "{what}");
            assert!(at_to[0].authorization, "sent without the token: {what}");
            assert_eq!(
                at_to[0].path, path,
                "sent elsewhere than it was checked: {what}"
            );
        }
        NoToken => {
            assert!(at_to.iter().all(|s| !s.authorization), "{what}");
            assert_eq!(engine, 0, "the engine was asked for a token: {what}");
        }
        Refused => {
            assert!(result.is_err(), "{what}");
            assert!(at_to.is_empty() && at_other.is_empty(), "{what}");
            assert_eq!(engine, 0, "{what}");
        }
    }
}

/// `url` as a string, a `URL` and a `Request`, each where the platform can make it. The `URL`
/// is made as `fetch` resolves the string (against the page's base), so all three mean the
/// same request.
fn forms(url: &str) -> Vec<(&'static str, JsValue)> {
    let mut forms = vec![("string", JsValue::from_str(url))];
    let request = Request::new_with_str(url).ok();
    let resolved = request
        .as_ref()
        .map_or_else(|| url.to_owned(), Request::url);
    if let Ok(u) = Url::new(&resolved) {
        forms.push(("URL", u.into()));
    }
    if let Some(r) = request {
        forms.push(("Request", r.into()));
    }
    forms
}

fn keeper(key: &str, allowed_origins: Vec<String>) -> Keeper {
    let mut o = options(key, Storage::Memory);
    o.allowed_origins = allowed_origins;
    Keeper::new(
        tokenkeeper_wasm::tokenkeeper_core::Config::default(),
        Dialect::vitalgraph(server()).unwrap(),
        Credentials::password("admin", "admin"),
        &o,
    )
    .unwrap()
}

#[wasm_bindgen_test]
async fn absolute_urls_send_the_token_only_to_the_origin_they_parse_to() {
    let k = keeper("urls-absolute", Vec::new());
    k.login().await.unwrap();
    let allowed = Allowed {
        to: server(),
        origins: vec![origin_of(server())],
    };
    let table = absolute();
    assert!(table.len() >= 45, "{} absolute rows", table.len());
    for (i, (template, want)) in table.iter().enumerate() {
        let url = fill(template, &format!("abs{i:02}x"));
        assert_eq!(
            allowed.want(&url),
            *want,
            "the table says {want:?} for {url:?}, the platform does not"
        );
        for (form, input) in forms(&url) {
            check(
                &k,
                &allowed,
                &format!("row {i} as {form}"),
                &input,
                &url,
                *want,
            )
            .await;
        }
    }
}

/// Sets (or with `None` removes) the page's `<base href>`.
fn set_base(href: Option<&str>) {
    let f = Function::new_with_args(
        "h",
        "let b = document.getElementById('tokenkeeper-test-base');\
         if (h === undefined) { if (b) b.remove(); return; }\
         if (!b) { b = document.createElement('base'); b.id = 'tokenkeeper-test-base'; document.head.prepend(b); }\
         b.href = h;",
    );
    let arg = href.map_or(JsValue::UNDEFINED, JsValue::from_str);
    f.call1(&JsValue::UNDEFINED, &arg).unwrap();
}

fn page_origin() -> Option<String> {
    let location = Reflect::get(&js_sys::global(), &JsValue::from_str("location")).ok()?;
    Reflect::get(&location, &JsValue::from_str("origin"))
        .ok()?
        .as_string()
}

#[wasm_bindgen_test]
async fn relative_urls_resolve_as_fetch_resolves_them() {
    let node = page_origin().is_none();
    if in_browser() {
        // The page's own origin may receive the token too: a driver that resolved against
        // `location` instead of the document's base URL would send it to the recorder.
        let own = page_origin().unwrap();
        let k = keeper("urls-relative-page", vec![own.clone()]);
        k.login().await.unwrap();
        let allowed = Allowed {
            to: server(),
            origins: vec![origin_of(server()), own],
        };
        for (base, pick) in [(server(), 0), (recorder(), 1)] {
            set_base(Some(&format!("{base}/base/")));
            for (i, row) in relative().iter().enumerate() {
                let want = [row.1, row.2][pick];
                let url = fill(&row.0, &format!("rel{pick}{i:02}x"));
                assert_eq!(
                    allowed.want(&url),
                    want,
                    "the table says {want:?} for {url:?} under {base}, the platform does not"
                );
                for (form, input) in forms(&url) {
                    let label = format!("row {i} under <base> {base} as {form}");
                    check(&k, &allowed, &label, &input, &url, want).await;
                }
            }
        }
        set_base(None);
        return;
    }
    // Node (no base: only absolute URLs work) and workers (the worker's URL is the base).
    let k = keeper("urls-relative", Vec::new());
    k.login().await.unwrap();
    let allowed = Allowed {
        to: server(),
        origins: vec![origin_of(server())],
    };
    for (i, row) in relative().iter().enumerate() {
        let url = fill(&row.0, &format!("rel{i:02}x"));
        let want = allowed.want(&url);
        if node {
            assert_eq!(
                want, row.3,
                "the table says {:?} for {url:?} in Node, the platform does not",
                row.3
            );
        }
        for (form, input) in forms(&url) {
            check(
                &k,
                &allowed,
                &format!("row {i} as {form}"),
                &input,
                &url,
                want,
            )
            .await;
        }
    }
}

#[wasm_bindgen_test]
async fn allowed_origins_are_read_by_the_platform_parser() {
    let pr = authority(recorder()).rsplit(':').next().unwrap();
    // `0x7f.0.0.2:0<port>` is `127.0.0.2:<port>`; the path is ignored.
    let k = keeper(
        "urls-allowed",
        vec![format!("HTTP://0x7f.0.0.2:0{pr}/ignored/path")],
    );
    k.login().await.unwrap();
    let allowed = Allowed {
        to: recorder(),
        origins: vec![origin_of(recorder())],
    };
    for (i, template) in [
        "http://{R}/{k}",
        "http://127.0.0.2.:{PR}/{k}",
        "http://2130706434:{PR}/{k}",
        "http://{R}\\@{A}/{k}",
    ]
    .iter()
    .enumerate()
    {
        let url = fill(template, &format!("allowed{i:02}x"));
        assert_eq!(allowed.want(&url), Token, "{url:?}");
        for (form, input) in forms(&url) {
            check(
                &k,
                &allowed,
                &format!("row {i} as {form}"),
                &input,
                &url,
                Token,
            )
            .await;
        }
    }
    // What does not parse, or has no network origin, is refused at construction.
    for bad in ["http://[::1", "data:text/plain,x", "not a url"] {
        let mut o = Options::default();
        o.allowed_origins = vec![bad.to_owned()];
        let built = Keeper::new(
            tokenkeeper_wasm::tokenkeeper_core::Config::default(),
            Dialect::vitalgraph(server()).unwrap(),
            Credentials::password("admin", "admin"),
            &o,
        );
        assert!(
            matches!(built, Err(ConfigError::InvalidUrl { .. })),
            "{bad:?}: {built:?}"
        );
    }
}

#[wasm_bindgen_test]
async fn a_redirect_to_another_origin_carries_no_token_and_is_handed_over() {
    let k = keeper("urls-redirect", Vec::new());
    k.login().await.unwrap();
    support::reset().await;
    let target = format!("{}/redirected", recorder());
    for status in [301, 302, 307, 308] {
        support::faults(&format!(
            r#"{{"script": {{"route": "protected", "status": {status}, "headers": {{"location": "{target}"}}}}}}"#
        ))
        .await;
        let before = recorded(recorder()).await.len();
        let engine = k.metrics();
        let r = k
            .fetch(
                // One URL each: browsers cache permanent redirects.
                &JsValue::from_str(&format!("{}/api/spaces?status={status}", server())),
                &JsValue::UNDEFINED,
            )
            .await
            .unwrap();
        let seen = recorded(recorder()).await.split_off(before);
        assert!(r.redirected() && r.url() == target, "{status}: {}", r.url());
        assert_eq!(
            r.status(),
            200,
            "{status}: the recorder's answer is handed over"
        );
        assert_eq!(seen.len(), 1, "{status}: {seen:?}");
        assert!(
            !seen[0].authorization,
            "{status}: the token followed the redirect"
        );
        let m = k.metrics();
        assert_eq!(m.delivered, engine.delivered + 1, "{status}");
        assert_eq!(m.refresh_count, engine.refresh_count, "{status}");
    }
    assert_eq!(support::counter("protected_scripted").await, 4);
}

/// The token endpoint is read by the platform's parser too: `127.1` is 127.0.0.1 for `URL`
/// and `fetch` (a loopback host, so plain http is allowed), and the API on that origin gets
/// the token. `http::Uri` reads the host `127.1`, which the engine refused as plain http off
/// loopback before the keeper re-read its endpoints with `URL`.
#[wasm_bindgen_test]
async fn the_token_endpoint_is_read_by_the_platform_parser() {
    let port = authority(server()).rsplit(':').next().unwrap();
    let k = Keeper::new(
        tokenkeeper_wasm::tokenkeeper_core::Config::default(),
        Dialect::vitalgraph(&format!("http://127.1:{port}//")).unwrap(),
        Credentials::password("admin", "admin"),
        &options("urls-endpoint", Storage::Memory),
    )
    .unwrap();
    k.login().await.unwrap();
    let r = k
        .fetch(
            &JsValue::from_str(&format!("{}/api/spaces", server())),
            &JsValue::UNDEFINED,
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let m = k.metrics();
    assert_eq!((m.logins, m.delivered), (1, 1));
}
