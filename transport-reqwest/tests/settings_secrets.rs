//! Settings with secrets and servers: secrets from variables and files (never from the file's
//! plain text unless the user insists, never repeated), dialects, and a keeper built from
//! settings against the reference server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokenkeeper_reqwest::Keeper;
use tokenkeeper_reqwest::core::Secret;
use tokenkeeper_reqwest::core::dialect::ClientAuth;
use tokenkeeper_reqwest::settings::{Loader, Settings, SettingsError};
use tokenkeeper_testserver::ServerConfig;

fn refused(yaml: &str) -> String {
    Settings::from_yaml(yaml).expect_err(yaml).to_string()
}

#[test]
fn a_secret_in_the_file_is_refused_unless_the_user_insists_and_never_repeated() {
    let secret = "correct-horse-battery-staple";
    let plain = format!("client:\n  credentials:\n    username: me\n    password: \"{secret}\"\n");
    let e = Settings::from_yaml(&plain).unwrap_err().to_string();
    assert!(
        e.starts_with(
            "client.credentials.password: a secret written in the configuration is refused"
        ),
        "{e}"
    );
    assert!(!e.contains(secret));
    // A number is not taken for a password (and not repeated either).
    let e = refused("client:\n  credentials:\n    password: 81726354\n");
    assert!(
        e.starts_with("client.credentials.password: a secret must be a quoted string"),
        "{e}"
    );
    assert!(!e.contains("81726354"), "{e}");
    let e = refused("client:\n  credentials:\n    client_secret: 81726354\n");
    assert!(!e.contains("81726354"), "{e}");

    // With the opt-in it is accepted, with a warning that names the key, not the value.
    let insisting = format!("{plain}    allow_plaintext_secrets: true\n");
    let (settings, logs) = capture(|| Settings::from_yaml(&insisting));
    let settings = settings.unwrap();
    assert!(logs.contains("WARN"), "{logs}");
    assert!(logs.contains("client.credentials.password"), "{logs}");
    assert!(!logs.contains(secret), "{logs}");
    // Neither Debug nor Serialize shows it.
    assert!(!format!("{settings:?}").contains(secret));
    let json = serde_json::to_string(&settings).unwrap();
    assert!(
        !json.contains(secret) && json.contains("[redacted]"),
        "{json}"
    );
    let resolved = settings
        .resolve_with(&|_| None)
        .expect_err("no auth section");
    assert_eq!(resolved.path(), Some("client.auth"));
}

#[test]
fn secrets_come_from_variables_and_files() {
    let base = "client:\n  auth:\n    base_url: https://vg.example.com\n  credentials:\n    username: me\n";
    // The default variable.
    let s = Settings::from_yaml(base).unwrap();
    let env = |name: &str| (name == "TOKENKEEPER_PASSWORD").then(|| "from-default-var".to_owned());
    let r = s.resolve_with(&env).unwrap();
    assert_eq!(r.credentials.username.as_deref(), Some("me"));
    assert_eq!(
        r.credentials.password.as_ref().map(Secret::expose),
        Some("from-default-var")
    );
    assert!(!format!("{r:?}").contains("from-default-var"));
    // None set: no password (a credentials provider may supply one).
    assert!(
        s.resolve_with(&|_| None)
            .unwrap()
            .credentials
            .password
            .is_none()
    );
    // A variable of one's own, which must exist.
    let named = format!("{base}    password_env: VG_PASSWORD\n");
    let s = Settings::from_yaml(&named).unwrap();
    let e = s.resolve_with(&|_| None).unwrap_err().to_string();
    assert_eq!(
        e,
        "client.credentials.password_env: VG_PASSWORD names an environment variable that is not set"
    );
    let env = |name: &str| (name == "VG_PASSWORD").then(|| "from-named-var".to_owned());
    assert_eq!(
        s.resolve_with(&env)
            .unwrap()
            .credentials
            .password
            .unwrap()
            .expose(),
        "from-named-var"
    );
    // A file (one trailing newline removed).
    let file = std::env::temp_dir().join(format!(
        "tokenkeeper-settings-{}.secret",
        std::process::id()
    ));
    std::fs::write(&file, "from-file\n").unwrap();
    let with_file = format!("{base}    password_file: {}\n", file.display());
    let r = Settings::from_yaml(&with_file)
        .unwrap()
        .resolve_with(&|_| None)
        .unwrap();
    assert_eq!(r.credentials.password.unwrap().expose(), "from-file");
    std::fs::remove_file(&file).unwrap();
    let e = Settings::from_yaml(&with_file)
        .unwrap()
        .resolve_with(&|_| None)
        .unwrap_err();
    assert!(
        e.to_string().starts_with(&format!(
            "client.credentials.password_file: {} cannot be read",
            file.display()
        )),
        "{e}"
    );
    // Two sources for one secret.
    let both = format!("{named}    password_file: /run/secrets/pw\n");
    assert_eq!(
        refused(&both),
        "client.credentials.password_env: set only one of client.credentials.password_env, client.credentials.password_file"
    );
}

#[test]
fn oauth2_settings_build_the_dialect_with_the_client_secret() {
    let yaml = "\
client:
  auth:
    dialect: oauth2-password
    token_url: https://auth.example.com/oauth/token
    base_url: https://api.example.com/v1
    client_id: my-app
    scope: read write
    allowed_origins: [\"https://files.example.com:8443/x\"]
  credentials:
    username: me
    client_secret_env: MY_APP_SECRET
";
    let env = |name: &str| match name {
        "MY_APP_SECRET" => Some("app-secret".to_owned()),
        "TOKENKEEPER_PASSWORD" => Some("pw".to_owned()),
        _ => None,
    };
    let r = Settings::from_yaml(yaml)
        .unwrap()
        .resolve_with(&env)
        .unwrap();
    assert_eq!(r.dialect.name, "oauth2-password");
    assert_eq!(r.dialect.scope.as_deref(), Some("read write"));
    let login = r.dialect.login.as_ref().unwrap();
    assert!(matches!(
        &login.client_auth,
        ClientAuth::Basic { client_id, client_secret }
            if client_id == "my-app" && client_secret.expose() == "app-secret"
    ));
    assert_eq!(
        r.allowed_origins,
        vec!["https://api.example.com", "https://files.example.com:8443"]
    );
    // Without a secret (and client_auth: body) the client only identifies itself.
    let public = yaml.replace("    client_secret_env: MY_APP_SECRET\n", "") + "";
    let public = public.replace("    scope: read write\n", "    client_auth: body\n");
    let r = Settings::from_yaml(&public)
        .unwrap()
        .resolve_with(&|_| None)
        .unwrap();
    assert!(matches!(
        &r.dialect.login.as_ref().unwrap().client_auth,
        ClientAuth::Body {
            client_secret: None,
            ..
        }
    ));
    // Basic without a secret is refused when the secret turns out to be missing.
    let basic = yaml
        .replace("    client_secret_env: MY_APP_SECRET\n", "")
        .replace("    scope: read write\n", "    client_auth: basic\n");
    let e = Settings::from_yaml(&basic)
        .unwrap()
        .resolve_with(&|_| None)
        .unwrap_err();
    assert_eq!(e.path(), Some("client.auth.client_auth"));
    // A URL with user:password@ is refused without repeating it.
    let e = refused("client:\n  auth:\n    base_url: https://me:pa55word@vg.example.com\n");
    assert!(
        e.starts_with("client.auth.base_url: holds user:password@"),
        "{e}"
    );
    assert!(!e.contains("pa55word"), "{e}");
}

#[test]
fn a_vitalgraph_section_builds_a_keeper_that_asks_for_the_lifetime() {
    let yaml = "\
client:
  timeout: 5
  auth:
    base_url: https://vg.example.com
    token_expiry_seconds: 15
  credentials:
    username: admin
    password_env: VG_PW
";
    let s = Settings::from_yaml(yaml).unwrap();
    let r = s
        .resolve_with(&|n| (n == "VG_PW").then(|| "pw".to_owned()))
        .unwrap();
    assert_eq!(r.request_timeout, Some(Duration::from_secs(5)));
    let login = r
        .dialect
        .login_request(&r.credentials)
        .expect("a login request");
    let body = String::from_utf8(login.body().to_vec()).unwrap();
    assert!(body.contains("token_expiry_seconds=15"), "{body}");
    let keeper = r.builder().build().unwrap();
    assert!(keeper.allows_origin(&"https://vg.example.com/api/spaces".parse().unwrap()));
    assert!(!keeper.allows_origin(&"https://elsewhere.example.com/".parse().unwrap()));
}

#[tokio::test]
async fn keeper_from_settings_talks_to_the_reference_server() {
    let server = tokenkeeper_testserver::TestServer::start(ServerConfig::default())
        .await
        .unwrap();
    let file =
        std::env::temp_dir().join(format!("tokenkeeper-settings-{}.toml", std::process::id()));
    let secret =
        std::env::temp_dir().join(format!("tokenkeeper-settings-{}.pw", std::process::id()));
    std::fs::write(&secret, "admin\n").unwrap();
    std::fs::write(
        &file,
        format!(
            "[client]\ntimeout = 10\n\n[client.auth]\nbase_url = \"{}\"\ntoken_expiry_seconds = 60\n\n\
             [client.credentials]\nusername = \"admin\"\npassword_file = \"{}\"\n",
            server.url(),
            secret.display()
        ),
    )
    .unwrap();
    let settings = Loader::new().file(&file).unwrap().load().unwrap();
    let keeper = Keeper::from_settings(&settings).unwrap().build().unwrap();
    let r = keeper
        .client()
        .get(format!("{}/api/spaces", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(server.counters().logins_ok, 1);
    std::fs::remove_file(&file).unwrap();
    std::fs::remove_file(&secret).unwrap();
    // A file of unknown format, or one that is missing, is refused by name.
    assert!(Loader::new().file("settings.ini").is_err());
    let e = Loader::new().file(&file).unwrap_err();
    assert!(matches!(e, SettingsError::Read { .. }), "{e}");
}

/// Runs `f` with a subscriber that records what is logged (all levels), and returns the text.
fn capture<R>(f: impl FnOnce() -> R) -> (R, String) {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let r = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    (r, text)
}
