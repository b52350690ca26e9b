//! Checking endpoints before anything is sent: URLs (absolute http(s), no userinfo, plain
//! http only for loopback hosts unless allowed), client ids and secrets, body field names.

use http::Uri;

use super::{ClientAuth, Endpoint};
use crate::error::ConfigError;
use crate::origin::default_port;
use crate::secret::Secret;

/// Checks one endpoint (see [`Dialect::validate`]).
pub(super) fn validate_endpoint(
    endpoint: &Endpoint,
    allow_insecure_http: bool,
) -> Result<(), ConfigError> {
    // An `EndpointUrl` is absolute http(s) with a host and no userinfo by construction.
    let url = &endpoint.url;
    if url.scheme() == "http" && !allow_insecure_http && !is_loopback(url.host()) {
        return Err(ConfigError::InsecureUrl {
            url: url.as_str().to_owned(),
        });
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

/// A login or refresh endpoint's URL: absolute `http` or `https`, with a host, without
/// userinfo (`user:password@`) or fragment; a query is allowed (RFC 6749 §3.2).
///
/// It holds the URL as it is sent ([`as_str`](Self::as_str)) and the parts of the same parse
/// that the engine judges (the scheme, the host, the port), so the origin a token may go to is
/// the origin of the URL that is sent. [`EndpointUrl::parse`] parses with `http::Uri`; a driver
/// whose platform has its own URL parser (WHATWG `URL` in a browser) parses there and hands
/// the result over with [`EndpointUrl::from_parsed`].
#[derive(Clone, PartialEq, Eq)]
pub struct EndpointUrl {
    href: String,
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl EndpointUrl {
    /// Parses `url` with `http::Uri`. Errors with [`ConfigError::InvalidUrl`] (userinfo
    /// redacted) when it is not an absolute http(s) URL with a host, or has userinfo or a
    /// fragment.
    pub fn parse(url: &str) -> Result<EndpointUrl, ConfigError> {
        if url.contains('#') {
            return Err(ConfigError::invalid_url(url));
        }
        let uri: Uri = url.parse().map_err(|_| ConfigError::invalid_url(url))?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(ConfigError::invalid_url(url));
        };
        if authority.as_str().contains('@') {
            return Err(ConfigError::invalid_url(url));
        }
        EndpointUrl::checked(
            uri.to_string(),
            scheme,
            authority.host(),
            authority.port_u16(),
        )
        .map_err(|_| ConfigError::invalid_url(url))
    }

    /// A URL another parser has read: `href` as it will be sent, and the scheme (without
    /// `:`), host (an IPv6 address in brackets) and explicit port (`None` for none, or the
    /// scheme's default) that the same parse found. The same checks as
    /// [`EndpointUrl::parse`]; userinfo and a fragment are looked for in `href`.
    pub fn from_parsed(
        href: &str,
        scheme: &str,
        host: &str,
        port: Option<u16>,
    ) -> Result<EndpointUrl, ConfigError> {
        let start = href.find("://").map_or(0, |i| i + 3);
        let authority =
            &href[start..][..href[start..].find(['/', '?']).unwrap_or(href.len() - start)];
        if href.contains('#') || authority.contains('@') {
            return Err(ConfigError::invalid_url(href));
        }
        EndpointUrl::checked(href.to_owned(), scheme, host, port)
    }

    fn checked(
        href: String,
        scheme: &str,
        host: &str,
        port: Option<u16>,
    ) -> Result<EndpointUrl, ConfigError> {
        let scheme = scheme.to_ascii_lowercase();
        if !matches!(scheme.as_str(), "http" | "https") || host.is_empty() {
            return Err(ConfigError::invalid_url(&href));
        }
        Ok(EndpointUrl {
            port: port.filter(|&p| Some(p) != default_port(&scheme)),
            host: host.to_ascii_lowercase(),
            scheme,
            href,
        })
    }

    /// The URL as it is sent.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.href
    }

    /// `http` or `https`.
    #[must_use]
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The host, lower-case (an IPv6 address in brackets).
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, when it is not the scheme's default.
    #[must_use]
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// `scheme://host[:port]`, without a default port.
    #[must_use]
    pub fn origin(&self) -> String {
        match self.port {
            Some(port) => format!("{}://{}:{port}", self.scheme, self.host),
            None => format!("{}://{}", self.scheme, self.host),
        }
    }
}

impl core::str::FromStr for EndpointUrl {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EndpointUrl::parse(s)
    }
}

impl core::fmt::Display for EndpointUrl {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.href)
    }
}

impl core::fmt::Debug for EndpointUrl {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(&self.href, f)
    }
}

impl PartialEq<str> for EndpointUrl {
    fn eq(&self, other: &str) -> bool {
        self.href == other
    }
}

impl PartialEq<&str> for EndpointUrl {
    fn eq(&self, other: &&str) -> bool {
        self.href == *other
    }
}
