//! A keeper's key: the name of its storage item, Web Lock and `BroadcastChannel`.

use tokenkeeper_core::dialect::{ClientAuth, Credentials, Dialect};

/// The key given, or one derived from the dialect, its token URL and the username or client
/// id, so two identities never share tokens.
pub(crate) fn key(given: Option<&str>, dialect: &Dialect, credentials: &Credentials) -> String {
    given.map_or_else(
        || default_key(dialect, &identity(dialect, credentials)),
        str::to_owned,
    )
}

/// A keeper's identity for storage, locks and channels: a short hash of what identifies it.
fn default_key(dialect: &Dialect, who: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let h = hash(dialect, who);
    let mut out = String::with_capacity(28);
    out.push_str("tokenkeeper:");
    for i in (0..16).rev() {
        out.push(char::from(HEX[((h >> (i * 4)) & 0xF) as usize]));
    }
    out
}

fn hash(dialect: &Dialect, who: &str) -> u64 {
    let url = dialect
        .login
        .as_ref()
        .or(dialect.refresh.as_ref())
        .map(|e| e.url.as_str())
        .unwrap_or_default();
    // FNV-1a: stable across builds and tabs; the key is a name, not a secret.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in dialect
        .name
        .bytes()
        .chain([0])
        .chain(url.bytes())
        .chain([0])
        .chain(who.bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Who the credentials identify, for the default key: the username, else the client id.
fn identity(dialect: &Dialect, credentials: &Credentials) -> String {
    if let Some(u) = &credentials.username {
        return u.clone();
    }
    match dialect.login.as_ref().map(|e| &e.client_auth) {
        Some(ClientAuth::Basic { client_id, .. } | ClientAuth::Body { client_id, .. }) => {
            client_id.clone()
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vg(url: &str) -> Dialect {
        Dialect::vitalgraph(url).unwrap()
    }

    #[test]
    fn default_keys_separate_identities_and_are_stable() {
        let a = default_key(&vg("https://vg.example.com"), "alice");
        assert_eq!(
            a,
            default_key(&vg("https://vg.example.com/"), "alice"),
            "same identity, same key"
        );
        assert_ne!(a, default_key(&vg("https://vg.example.com"), "bob"));
        assert_ne!(a, default_key(&vg("https://other.example.com"), "alice"));
        assert!(a.starts_with("tokenkeeper:") && a.len() == "tokenkeeper:".len() + 16);
        assert!(
            !a.contains("alice"),
            "the key does not spell out the username"
        );
        // As earlier releases wrote it, so stored tokens stay found.
        let h = hash(&vg("https://vg.example.com"), "alice");
        assert_eq!(a, format!("tokenkeeper:{h:016x}"));
        assert_eq!(
            default_key(&vg("https://a.example"), ""),
            format!("tokenkeeper:{:016x}", hash(&vg("https://a.example"), ""))
        );
    }

    #[test]
    fn identity_is_the_username_else_the_client_id() {
        let d = Dialect::oauth2_client_credentials(
            "https://auth.example.com/token",
            ClientAuth::Body {
                client_id: "app".into(),
                client_secret: None,
            },
            None,
        )
        .unwrap();
        assert_eq!(identity(&d, &Credentials::none()), "app");
        assert_eq!(identity(&d, &Credentials::password("u", "p")), "u");
        assert_eq!(key(Some("k"), &d, &Credentials::none()), "k");
    }
}
