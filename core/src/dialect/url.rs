//! Checking endpoints before anything is sent: URLs (absolute http(s), no userinfo, plain
//! http only for loopback hosts unless allowed), client ids and secrets, body field names.

use http::Uri;

use super::{ClientAuth, Endpoint};
use crate::error::ConfigError;
use crate::secret::Secret;

/// Checks one endpoint (see [`Dialect::validate`]).
pub(super) fn validate_endpoint(
    endpoint: &Endpoint,
    allow_insecure_http: bool,
) -> Result<(), ConfigError> {
    let url = &endpoint.url;
    let shown = || redact_userinfo(&url.to_string());
    let scheme = url.scheme_str().unwrap_or_default().to_ascii_lowercase();
    let host = url.host().unwrap_or_default();
    if !matches!(scheme.as_str(), "http" | "https") || host.is_empty() {
        return Err(ConfigError::InvalidUrl { url: shown() });
    }
    if url.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(ConfigError::Invalid {
            field: "endpoint url",
            reason: "must not contain user:password@ (use ClientAuth for client credentials)",
        });
    }
    if scheme == "http" && !allow_insecure_http && !is_loopback(host) {
        return Err(ConfigError::InsecureUrl { url: shown() });
    }
    match &endpoint.client_auth {
        ClientAuth::None => {}
        ClientAuth::Basic {
            client_id,
            client_secret,
        } => {
            check_client(client_id, Some(client_secret))?;
            if endpoint.refresh_token_as_bearer {
                return Err(ConfigError::Invalid {
                    field: "client_auth",
                    reason: "Basic client authentication and refresh_token_as_bearer both need the Authorization header",
                });
            }
        }
        ClientAuth::Body {
            client_id,
            client_secret,
        } => check_client(client_id, client_secret.as_ref())?,
    }
    if endpoint.fields.iter().any(|(name, _)| name.is_empty()) {
        return Err(ConfigError::Invalid {
            field: "fields",
            reason: "a body field has an empty name",
        });
    }
    Ok(())
}

/// Checks a client id and secret.
fn check_client(client_id: &str, client_secret: Option<&Secret>) -> Result<(), ConfigError> {
    let has_control = |s: &str| s.chars().any(char::is_control);
    if client_id.is_empty() {
        return Err(ConfigError::Invalid {
            field: "client_id",
            reason: "empty",
        });
    }
    if has_control(client_id) {
        return Err(ConfigError::InvalidHeaderValue { field: "client_id" });
    }
    if client_secret.is_some_and(|s| has_control(s.expose())) {
        return Err(ConfigError::InvalidHeaderValue {
            field: "client_secret",
        });
    }
    Ok(())
}

/// Whether a URL host is a loopback address: `localhost`, `127.0.0.0/8`, `::1` (also as an
/// IPv4-mapped address). The addresses are read by hand with the standard library's rules
/// (`core::net` parsing is several kB of `.wasm`).
pub(super) fn is_loopback(host: &str) -> bool {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Some(v4) = ipv4(host) {
        return v4[0] == 127;
    }
    ipv6(host).is_some_and(|g| {
        g == [0, 0, 0, 0, 0, 0, 0, 1] || (g[..6] == [0, 0, 0, 0, 0, 0xffff] && g[6] >> 8 == 127)
    })
}

/// A dotted-quad IPv4 address as `Ipv4Addr` parses it: four decimal parts of 1 to 3 digits,
/// no leading zeros, each at most 255.
pub(super) fn ipv4(s: &str) -> Option<[u8; 4]> {
    let mut out = [0; 4];
    let mut parts = s.split('.');
    for slot in &mut out {
        let part = parts.next()?;
        let ok = (1..=3).contains(&part.len())
            && part.bytes().all(|b| b.is_ascii_digit())
            && (part.len() == 1 || !part.starts_with('0'));
        *slot = if ok { part.parse().ok()? } else { return None };
    }
    parts.next().is_none().then_some(out)
}

/// An IPv6 address's eight groups as `Ipv6Addr` parses it: groups of 1 to 4 hex digits, at
/// most one `::` standing for at least one zero group, and an optional dotted-quad IPv4
/// address as the last two groups.
pub(super) fn ipv6(s: &str) -> Option<[u16; 8]> {
    let (head, tail) = match s.split_once("::") {
        Some((h, t)) => (h, Some(t)),
        None => (s, None),
    };
    let mut groups = [0u16; 8];
    let head_len = ipv6_groups(head, &mut groups, tail.is_none())?;
    match tail {
        None => (head_len == 8).then_some(groups),
        Some(tail) => {
            let mut rest = [0u16; 8];
            let tail_len = ipv6_groups(tail, &mut rest, true)?;
            if head_len + tail_len > 7 {
                return None;
            }
            groups[8 - tail_len..].copy_from_slice(&rest[..tail_len]);
            Some(groups)
        }
    }
}

/// Reads `:`-separated groups of one side of an IPv6 address into `out`; how many there were.
/// The last group may be an IPv4 address (two groups) when `v4_last` allows it.
fn ipv6_groups(s: &str, out: &mut [u16; 8], v4_last: bool) -> Option<usize> {
    if s.is_empty() {
        return Some(0);
    }
    let mut n = 0;
    let mut parts = s.split(':').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() && v4_last && part.contains('.') {
            let v4 = ipv4(part)?;
            if n + 2 > 8 {
                return None;
            }
            out[n] = u16::from_be_bytes([v4[0], v4[1]]);
            out[n + 1] = u16::from_be_bytes([v4[2], v4[3]]);
            return Some(n + 2);
        }
        if n == 8 || !(1..=4).contains(&part.len()) || !part.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return None;
        }
        out[n] = u16::from_str_radix(part, 16).ok()?;
        n += 1;
    }
    Some(n)
}

/// Parses an absolute http(s) URL with a host, without userinfo or fragment (a query is
/// allowed: RFC 6749 §3.2).
pub(super) fn parse_url(url: &str) -> Result<Uri, ConfigError> {
    if url.contains('#') {
        return Err(invalid_url(url));
    }
    let uri: Uri = url.parse().map_err(|_| invalid_url(url))?;
    let scheme_ok = uri
        .scheme_str()
        .is_some_and(|s| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"));
    let has_userinfo = uri.authority().is_some_and(|a| a.as_str().contains('@'));
    if !scheme_ok || uri.host().is_none_or(str::is_empty) || has_userinfo {
        return Err(invalid_url(url));
    }
    Ok(uri)
}

/// `InvalidUrl` for a URL, with any `user:password@` hidden.
pub(super) fn invalid_url(url: &str) -> ConfigError {
    ConfigError::InvalidUrl {
        url: redact_userinfo(url),
    }
}

/// A URL with its userinfo (`user:password@`) replaced by `[redacted]@`.
pub(super) fn redact_userinfo(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}[redacted]{}", &url[..start], &rest[at..]),
        None => url.to_owned(),
    }
}
