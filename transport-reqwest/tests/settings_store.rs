//! `client.store:` from settings: a file store two keepers built from the same settings share
//! (one login), the Redis store's URL rules (a password only through `url_env`, no cleartext
//! to another machine), and refusals that name the key.

use tokenkeeper_reqwest::Keeper;
use tokenkeeper_reqwest::settings::{Settings, StoreSettings};
use tokenkeeper_testserver::{ServerConfig, TestServer};

fn refused(yaml: &str) -> String {
    Settings::from_yaml(yaml).expect_err(yaml).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepers_built_from_the_same_file_store_settings_share_one_login() {
    let server = TestServer::start(ServerConfig::default().with_user("alice", "pw"))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let yaml = format!(
        "client:\n  auth:\n    base_url: {}\n  credentials:\n    username: alice\n  store:\n    kind: file\n    path: {}\n    lock_wait_ms: 2500\n",
        server.url(),
        path.display()
    );
    let settings = Settings::from_yaml(&yaml).unwrap();
    let env = |name: &str| (name == "TOKENKEEPER_PASSWORD").then(|| "pw".to_owned());
    let resolved = settings.resolve_with(&env).unwrap();
    assert!(resolved.token_store.is_some());
    assert_eq!(
        resolved.store_lock_wait,
        Some(std::time::Duration::from_millis(2500))
    );
    let first = resolved.clone().builder().build().unwrap();
    let second = resolved.builder().build().unwrap();
    let url = format!("{}/api/spaces", server.url());
    for k in [&first, &second] {
        assert_eq!(k.client().get(&url).send().await.unwrap().status(), 200);
    }
    assert_eq!(server.counters().logins_ok, 1);
    assert_eq!(second.store_metrics().unwrap().adopted, 1);
    assert!(path.exists());
    let memory = Settings::from_yaml("client:\n  store:\n    kind: memory\n").unwrap();
    assert_eq!(memory.client.store, StoreSettings::default());
    let _: Keeper = first;
}

#[test]
fn store_keys_are_checked_and_refusals_name_them() {
    let cases = [
        (
            "client:\n  store:\n    kind: file\n",
            "client.store.path: is missing",
        ),
        (
            "client:\n  store:\n    kind: file\n    path: /tmp/t\n    url: redis://x/\n",
            "url",
        ),
        (
            "client:\n  store:\n    kind: file\n    path: /tmp/t\n    lock_wait_ms: 0\n",
            "client.store.lock_wait_ms: 0 is not a number of milliseconds > 0",
        ),
        (
            "client:\n  store:\n    kind: redis\n",
            "client.store.url: is missing",
        ),
        (
            "client:\n  store:\n    kind: redis\n    url: redis://127.0.0.1/\n    url_env: X\n",
            "set only one of client.store.url, client.store.url_env",
        ),
        (
            "client:\n  store:\n    kind: redis\n    url: redis://:pw-SECRET@127.0.0.1/\n",
            "client.store.url: holds credentials",
        ),
        ("client:\n  store:\n    kind: disk\n", "disk"),
    ];
    for (yaml, want) in cases {
        let got = refused(yaml);
        assert!(got.contains(want), "{yaml}: {got}");
        assert!(!got.contains("SECRET"), "{got}");
    }
}

#[cfg(feature = "redis")]
#[test]
fn a_redis_url_comes_from_url_or_the_variable_url_env_names() {
    let yaml = "client:\n  auth:\n    base_url: https://vg.example.com\n  store:\n    kind: redis\n    url_env: APP_REDIS\n    key: app:alice\n    lock_ttl_ms: 2000\n";
    let settings = Settings::from_yaml(yaml).unwrap();
    let env =
        |name: &str| (name == "APP_REDIS").then(|| "redis://:pw-SECRET@127.0.0.1:6390/".to_owned());
    let resolved = settings.resolve_with(&env).unwrap();
    let store = resolved.token_store.expect("a redis store");
    let text = format!("{store:?}");
    assert!(
        text.contains("app:alice") && !text.contains("SECRET"),
        "{text}"
    );
    // The variable missing is named.
    let e = settings.resolve_with(&|_| None).unwrap_err().to_string();
    assert!(
        e.contains("client.store.url_env: APP_REDIS names a variable that is not set"),
        "{e}"
    );
    // Tokens in clear to another machine are refused unless allowed.
    let remote = "client:\n  store:\n    kind: redis\n    url: redis://10.0.0.5:6379/\n";
    assert!(
        refused(remote).contains("client.store.url"),
        "{}",
        refused(remote)
    );
    let allowed = format!("{remote}    allow_insecure: true\n");
    assert!(Settings::from_yaml(&allowed).is_ok());
    let short =
        "client:\n  store:\n    kind: redis\n    url: redis://127.0.0.1/\n    lock_ttl_ms: 10\n";
    assert!(
        refused(short).contains("client.store.lock_ttl_ms"),
        "{}",
        refused(short)
    );
}
