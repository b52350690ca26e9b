//! Every key of the table, from YAML, from TOML and from its environment variable; the table
//! against the settings types and against `docs/CONFIG.md`.

use std::fmt::Write as _;

use serde_json::Value;

use super::keys::{Js, KEYS, Key, Kind};
use super::{Loader, Settings};

/// Settings some keys need around them to be accepted on their own.
fn context(key: &Key) -> &'static str {
    match key.path {
        "client.auth.dialect"
        | "client.auth.token_url"
        | "client.auth.client_id"
        | "client.auth.client_auth"
        | "client.auth.scope" => {
            "client:\n  auth:\n    dialect: oauth2-password\n    token_url: https://auth.example.com/t\n    client_id: base-app\n"
        }
        "client.auth.token_expiry_seconds" => {
            "client:\n  auth:\n    base_url: https://vg.example.com\n"
        }
        "client.credentials.password" | "client.credentials.client_secret" => {
            "client:\n  credentials:\n    allow_plaintext_secrets: true\n"
        }
        "client.store.path" | "client.store.lock_wait_ms" => {
            "client:\n  store:\n    kind: file\n    path: /tmp/base.json\n"
        }
        "client.store.url" => "client:\n  store:\n    kind: redis\n    url: redis://127.0.0.1:1/\n",
        "client.store.url_env"
        | "client.store.key"
        | "client.store.lock_ttl_ms"
        | "client.store.timeout_ms"
        | "client.store.allow_insecure" => {
            "client:\n  store:\n    kind: redis\n    url_env: BASE_REDIS_URL\n"
        }
        _ => "",
    }
}

/// The key's sample value (a secret gets a string of its own).
fn sample(key: &Key) -> Value {
    if key.kind == Kind::Secret {
        Value::from("s3cret-sample")
    } else {
        key.parse_env(key.sample)
    }
}

fn yaml_for(key: &Key, value: &Value) -> String {
    let parts: Vec<&str> = key.path.split('.').collect();
    let mut out = String::new();
    for (depth, p) in parts.iter().enumerate() {
        out.push_str(&"  ".repeat(depth));
        out.push_str(p);
        out.push(':');
        if depth + 1 == parts.len() {
            out.push(' ');
            out.push_str(&value.to_string());
        }
        out.push('\n');
    }
    out
}

fn toml_for(key: &Key, value: &Value) -> String {
    let (table, leaf) = key.path.rsplit_once('.').unwrap();
    format!("[{table}]\n{leaf} = {value}\n")
}

fn toml_context(key: &Key) -> String {
    // The YAML context, restated in TOML through the loader's own tree.
    let yaml = context(key);
    if yaml.is_empty() {
        return String::new();
    }
    let tree: Value = serde_saphyr::from_str(yaml).unwrap();
    let mut out = String::new();
    for (section, body) in tree["client"].as_object().unwrap() {
        writeln!(out, "[client.{section}]").unwrap();
        for (k, v) in body.as_object().unwrap() {
            writeln!(out, "{k} = {v}").unwrap();
        }
    }
    out
}

#[test]
fn every_key_is_read_alike_from_yaml_toml_and_its_variable() {
    for key in KEYS {
        let value = sample(key);
        let base = Loader::new().yaml(context(key)).unwrap().load().unwrap();
        let from_yaml = Loader::new()
            .yaml(context(key))
            .and_then(|l| l.yaml(&yaml_for(key, &value)))
            .and_then(Loader::load)
            .unwrap_or_else(|e| panic!("{}: YAML: {e}", key.path));
        let from_toml = Loader::new()
            .toml(&toml_context(key))
            .and_then(|l| l.toml(&toml_for(key, &value)))
            .and_then(Loader::load)
            .unwrap_or_else(|e| panic!("{}: TOML: {e}", key.path));
        assert_eq!(from_yaml, from_toml, "{}", key.path);
        if key.path != "client.store.kind" {
            assert_ne!(from_yaml, base, "{} changed nothing", key.path);
        }
        match key.env() {
            Some(var) => {
                let from_env = Loader::new()
                    .yaml(context(key))
                    .and_then(|l| l.env([(var.as_str(), key.sample)]))
                    .and_then(Loader::load)
                    .unwrap_or_else(|e| panic!("{var}: {e}"));
                assert_eq!(from_env, from_yaml, "{var}");
            }
            None => assert_eq!(key.kind, Kind::Secret, "{}", key.path),
        }
    }
}

/// The paths of every leaf of the settings with every key set.
fn leaves(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(v, &path, out);
            }
        }
        _ => out.push(prefix.to_owned()),
    }
}

#[test]
fn the_table_has_every_key_of_the_settings_types_and_no_other() {
    // Default settings serialise every field (absent ones as null): the leaves are the keys.
    let tree = serde_json::to_value(Settings::default()).unwrap();
    let mut paths = Vec::new();
    leaves(&tree, "", &mut paths);
    paths.sort();
    // A store kind's own keys (`client.store.path` for a file store, say) appear only with
    // that kind; `kind` itself always does.
    let mut table: Vec<String> = KEYS
        .iter()
        .map(|k| k.path.to_owned())
        .filter(|p| !p.starts_with("client.store.") || p == "client.store.kind")
        .collect();
    table.sort();
    assert_eq!(paths, table);
}

fn js_cell(js: Js) -> String {
    match js {
        Js::Takes(name) => format!("`{name}`"),
        Js::NotApplicable(what) => format!("— ({what})"),
    }
}

#[test]
fn the_npm_package_reads_every_js_option_the_table_names() {
    let reader = include_str!("../../../bindings-js/js/options.js");
    let mut missing = Vec::new();
    for k in KEYS {
        if let Js::Takes(name) = k.js {
            // `a.b`: the property `b` of the object option `a`; both are read by name.
            for part in name.split('.') {
                let quoted = [
                    format!("'{part}'"),
                    format!("\"{part}\""),
                    format!(".{part}"),
                ];
                if !quoted.iter().any(|q| reader.contains(q.as_str())) {
                    missing.push(format!("{} ({name})", k.path));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "bindings-js/js/options.js does not read: {missing:?}"
    );
}

/// The table of `docs/CONFIG.md`, as the key table says it.
fn rendered_table() -> String {
    let mut out = String::from(
        "| key | environment variable | JS option | sets | default |\n|---|---|---|---|---|\n",
    );
    for k in KEYS {
        let env = k
            .env()
            .map_or_else(|| "— (see `*_env`)".to_owned(), |v| format!("`{v}`"));
        writeln!(
            out,
            "| `{}` | {env} | {} | {} | {} |",
            k.path,
            js_cell(k.js),
            k.rust,
            k.default
        )
        .unwrap();
    }
    out
}

#[test]
fn docs_config_md_has_the_table_of_every_key() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/CONFIG.md");
    let doc = std::fs::read_to_string(path).expect("docs/CONFIG.md");
    let (start, end) = ("<!-- keys:start -->\n", "<!-- keys:end -->");
    let a = doc.find(start).expect("a keys:start marker") + start.len();
    let b = doc.find(end).expect("a keys:end marker");
    let table = rendered_table();
    if std::env::var_os("TOKENKEEPER_BLESS").is_some() {
        std::fs::write(path, format!("{}{table}{}", &doc[..a], &doc[b..])).unwrap();
        return;
    }
    assert_eq!(
        &doc[a..b],
        table,
        "docs/CONFIG.md's table is not the key table; regenerate it with \
         TOKENKEEPER_BLESS=1 cargo test -p tokenkeeper-reqwest --lib settings"
    );
}
