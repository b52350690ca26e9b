//! Dialects as data (DESIGN §2.3): where to log in and refresh, how the body is encoded, which
//! field carries what, and how the client authenticates. The built-in dialects (VitalGraph,
//! OAuth 2.0 password and client-credentials grants) are plain values; a custom one is built
//! from the same parts.
//!
//! A dialect turns credentials or a refresh token into a complete `http::Request<Vec<u8>>`; it
//! never sends anything. `Debug` never prints a password, client secret or token.

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Method, Request, Uri};
use zeroize::Zeroizing;

use crate::error::ConfigError;
use crate::parse::{base64, json};
use crate::secret::Secret;

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-www-form-urlencoded` (OAuth 2.0 token endpoints, VitalGraph login).
    Form,
    /// `application/json`: an object whose values are all strings (VitalGraph refresh).
    Json,
}

/// How the client authenticates itself to the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuth {
    /// No client authentication (public clients, VitalGraph).
    None,
    /// HTTP Basic: `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`.
    Basic {
        /// The client id.
        client_id: String,
        /// The client secret.
        client_secret: Secret,
    },
    /// `client_id` (and `client_secret`, if any) as body fields.
    Body {
        /// The client id.
        client_id: String,
        /// The client secret; `None` for a public client that only identifies itself.
        client_secret: Option<Secret>,
    },
}

/// Where a body field's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// A fixed value (`grant_type=password`). Printed by `Debug`: never put a secret here.
    Literal(String),
    /// The username from [`Credentials`]; required (no request without it).
    Username,
    /// The password from [`Credentials`]; required.
    Password,
    /// The refresh token; required (only a refresh request has one).
    RefreshToken,
    /// The dialect's [`scope`](Dialect::scope); the field is left out when there is none.
    Scope,
}

/// One auth endpoint (login or refresh): URL, body, client authentication and extra headers.
/// The request is always a `POST` with `Accept: application/json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Absolute `https` URL (`http` only for loopback hosts unless allowed; see
    /// [`Dialect::validate`]).
    pub url: Uri,
    /// How the body is encoded.
    pub encoding: Encoding,
    /// The body fields in order: name and where the value comes from. Client authentication
    /// in the body ([`ClientAuth::Body`]) is appended after them.
    pub fields: Vec<(String, Field)>,
    /// Send the refresh token as `Authorization: Bearer <refresh token>` (VitalGraph). Cannot be
    /// combined with [`ClientAuth::Basic`].
    pub refresh_token_as_bearer: bool,
    /// How the client authenticates itself.
    pub client_auth: ClientAuth,
    /// Extra headers; they replace the defaults of the same name (`Accept`, `Content-Type`).
    /// Mark secret values sensitive so `Debug` hides them.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// A wire format: the login and refresh endpoints, and the scope to ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialect {
    /// A name for logs and diagnostics (`vitalgraph`, `oauth2-password`, ...).
    pub name: String,
    /// How to obtain tokens with credentials; `None` when tokens only come from outside.
    pub login: Option<Endpoint>,
    /// How to renew the access token with the refresh token; `None` when the server has no
    /// refresh (the session re-authenticates instead).
    pub refresh: Option<Endpoint>,
    /// The scope to request ([`Field::Scope`]), space-separated.
    pub scope: Option<String>,
}

/// What the user logs in with. `Debug` shows the username and redacts the password.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// The username, if any.
    pub username: Option<String>,
    /// The password, if any.
    pub password: Option<Secret>,
}

impl Credentials {
    /// A username and password.
    pub fn password(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Credentials {
            username: Some(username.into()),
            password: Some(password.into()),
        }
    }

    /// No credentials (client-credentials grant, or tokens supplied from outside).
    pub fn none() -> Self {
        Credentials::default()
    }
}

/// The largest `token_expiry_seconds` VitalGraph accepts.
const VITALGRAPH_MAX_EXPIRY: u64 = 1800;

impl Dialect {
    /// VitalGraph: `POST {base}/api/login` with form `username`, `password`; `POST
    /// {base}/api/refresh` with JSON `{"refresh_token": ...}` and `Authorization: Bearer <refresh
    /// token>`. `base_url` may end with a slash and may have a path prefix; it must be an
    /// absolute http(s) URL without query or fragment.
    pub fn vitalgraph(base_url: &str) -> Result<Dialect, ConfigError> {
        let base = base_url.trim();
        let invalid = |_: ConfigError| invalid_url(base);
        if base.contains(['?', '#']) {
            return Err(invalid_url(base));
        }
        let root = base.trim_end_matches('/');
        let login = Endpoint {
            url: parse_url(&format!("{root}/api/login")).map_err(invalid)?,
            encoding: Encoding::Form,
            fields: vec![
                ("username".into(), Field::Username),
                ("password".into(), Field::Password),
            ],
            refresh_token_as_bearer: false,
            client_auth: ClientAuth::None,
            headers: Vec::new(),
        };
        let refresh = Endpoint {
            url: parse_url(&format!("{root}/api/refresh")).map_err(invalid)?,
            encoding: Encoding::Json,
            fields: vec![("refresh_token".into(), Field::RefreshToken)],
            refresh_token_as_bearer: true,
            client_auth: ClientAuth::None,
            headers: Vec::new(),
        };
        Ok(Dialect {
            name: "vitalgraph".into(),
            login: Some(login),
            refresh: Some(refresh),
            scope: None,
        })
    }

    /// [`vitalgraph`](Dialect::vitalgraph) asking for a token lifetime: the login form also
    /// carries `token_expiry_seconds`. Values outside `1..=1800` (which the server refuses with
    /// 400) are refused here with [`ConfigError::TokenExpiryOutOfRange`].
    pub fn vitalgraph_with_expiry(
        base_url: &str,
        token_expiry_seconds: u64,
    ) -> Result<Dialect, ConfigError> {
        if !(1..=VITALGRAPH_MAX_EXPIRY).contains(&token_expiry_seconds) {
            return Err(ConfigError::TokenExpiryOutOfRange {
                seconds: token_expiry_seconds,
            });
        }
        let mut dialect = Dialect::vitalgraph(base_url)?;
        if let Some(login) = dialect.login.as_mut() {
            login.fields.push((
                "token_expiry_seconds".into(),
                Field::Literal(token_expiry_seconds.to_string()),
            ));
        }
        Ok(dialect)
    }

    /// OAuth 2.0 resource owner password grant (RFC 6749 §4.3) at `token_url`:
    /// `grant_type=password&username&password[&scope]`, refresh per §6, both form-encoded, with
    /// the given client authentication.
    pub fn oauth2_password(
        token_url: &str,
        client: ClientAuth,
        scope: Option<&str>,
    ) -> Result<Dialect, ConfigError> {
        let fields = vec![
            ("grant_type".into(), Field::Literal("password".into())),
            ("username".into(), Field::Username),
            ("password".into(), Field::Password),
            ("scope".into(), Field::Scope),
        ];
        Dialect::oauth2("oauth2-password", token_url, fields, client, scope)
    }

    /// OAuth 2.0 client credentials grant (RFC 6749 §4.4) at `token_url`:
    /// `grant_type=client_credentials[&scope]` (no username or password), refresh per §6 if
    /// the server issues a refresh token.
    pub fn oauth2_client_credentials(
        token_url: &str,
        client: ClientAuth,
        scope: Option<&str>,
    ) -> Result<Dialect, ConfigError> {
        let fields = vec![
            (
                "grant_type".into(),
                Field::Literal("client_credentials".into()),
            ),
            ("scope".into(), Field::Scope),
        ];
        Dialect::oauth2(
            "oauth2-client-credentials",
            token_url,
            fields,
            client,
            scope,
        )
    }

    /// An OAuth 2.0 dialect with this login body and the §6 refresh grant.
    fn oauth2(
        name: &str,
        token_url: &str,
        login_fields: Vec<(String, Field)>,
        client: ClientAuth,
        scope: Option<&str>,
    ) -> Result<Dialect, ConfigError> {
        let url = parse_url(token_url.trim())?;
        let refresh_fields = vec![
            ("grant_type".into(), Field::Literal("refresh_token".into())),
            ("refresh_token".into(), Field::RefreshToken),
            ("scope".into(), Field::Scope),
        ];
        let form = |url, fields, client_auth| Endpoint {
            url,
            encoding: Encoding::Form,
            fields,
            refresh_token_as_bearer: false,
            client_auth,
            headers: Vec::new(),
        };
        let login = form(url.clone(), login_fields, client.clone());
        let refresh = form(url, refresh_fields, client);
        Ok(Dialect {
            name: name.into(),
            login: Some(login),
            refresh: Some(refresh),
            scope: scope
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(Into::into),
        })
    }

    /// Checks the dialect before anything is sent: every endpoint URL is an absolute http(s)
    /// URL with a host and no `user:password@`; plain `http` only for loopback hosts
    /// (`localhost`, `127.0.0.0/8`, `::1`) unless `allow_insecure_http`; client id and secret
    /// have no control characters and the id is not empty; `Basic` client authentication is not
    /// combined with `refresh_token_as_bearer`; no body field has an empty name.
    pub fn validate(&self, allow_insecure_http: bool) -> Result<(), ConfigError> {
        for endpoint in [&self.login, &self.refresh].into_iter().flatten() {
            validate_endpoint(endpoint, allow_insecure_http)?;
        }
        Ok(())
    }

    /// Whether a login request can be built with these credentials: there is a login endpoint
    /// and every username or password field it needs is available.
    pub fn can_login(&self, creds: &Credentials) -> bool {
        self.login
            .as_ref()
            .is_some_and(|e| ready(e, Some(creds), None, self.requested_scope()))
    }

    /// Whether the login takes user credentials (a username or password field): whether asking
    /// someone for them can make a login possible.
    pub fn login_takes_credentials(&self) -> bool {
        self.login.as_ref().is_some_and(|e| {
            e.fields
                .iter()
                .any(|(_, f)| matches!(f, Field::Username | Field::Password))
        })
    }

    /// Whether a refresh request can be built: there is a refresh endpoint that needs nothing
    /// but the refresh token.
    pub fn can_refresh(&self) -> bool {
        self.refresh
            .as_ref()
            .is_some_and(|e| ready(e, None, Some(""), self.requested_scope()))
    }

    /// The login request for these credentials, or `None` when [`can_login`](Self::can_login)
    /// is false. Its body and `Authorization` header hold secrets: never log them.
    pub fn login_request(&self, creds: &Credentials) -> Option<Request<Vec<u8>>> {
        build(
            self.login.as_ref()?,
            Some(creds),
            None,
            self.requested_scope(),
        )
    }

    /// The refresh request for this refresh token, or `None` when
    /// [`can_refresh`](Self::can_refresh) is false (or the token cannot be sent in a header
    /// where the endpoint puts it there). Its body and headers hold secrets: never log them.
    pub fn refresh_request(&self, refresh_token: &Secret) -> Option<Request<Vec<u8>>> {
        build(
            self.refresh.as_ref()?,
            None,
            Some(refresh_token),
            self.requested_scope(),
        )
    }

    /// `scheme://host[:port]` of the login endpoint (else the refresh endpoint), lower-case,
    /// without a default port: the origin the access token may be sent to by default.
    pub fn origin(&self) -> Option<String> {
        let url = &self.login.as_ref().or(self.refresh.as_ref())?.url;
        let scheme = url.scheme_str()?.to_ascii_lowercase();
        let host = url.host().filter(|h| !h.is_empty())?.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => Some(443),
            "http" => Some(80),
            _ => None,
        };
        Some(match url.port_u16() {
            Some(port) if Some(port) != default_port => format!("{scheme}://{host}:{port}"),
            _ => format!("{scheme}://{host}"),
        })
    }

    /// The scope to send, if any.
    fn requested_scope(&self) -> Option<&str> {
        self.scope.as_deref().filter(|s| !s.is_empty())
    }
}

/// Whether a request can be built from this endpoint with these values.
fn ready(
    endpoint: &Endpoint,
    creds: Option<&Credentials>,
    refresh_token: Option<&str>,
    scope: Option<&str>,
) -> bool {
    !auth_conflict(endpoint)
        && (!endpoint.refresh_token_as_bearer || refresh_token.is_some())
        && body_pairs(endpoint, creds, refresh_token, scope).is_some()
}

/// Both `Basic` client authentication and the refresh token want the `Authorization` header.
fn auth_conflict(endpoint: &Endpoint) -> bool {
    endpoint.refresh_token_as_bearer && matches!(endpoint.client_auth, ClientAuth::Basic { .. })
}

/// The body's name/value pairs, or `None` when a required value is missing.
fn body_pairs<'a>(
    endpoint: &'a Endpoint,
    creds: Option<&'a Credentials>,
    refresh_token: Option<&'a str>,
    scope: Option<&'a str>,
) -> Option<Vec<(&'a str, &'a str)>> {
    let mut pairs = Vec::with_capacity(endpoint.fields.len() + 2);
    for (name, field) in &endpoint.fields {
        let value = match field {
            Field::Literal(v) => v.as_str(),
            Field::Username => creds?.username.as_deref()?,
            Field::Password => creds?.password.as_ref()?.expose(),
            Field::RefreshToken => refresh_token?,
            Field::Scope => match scope {
                Some(s) => s,
                None => continue,
            },
        };
        pairs.push((name.as_str(), value));
    }
    if let ClientAuth::Body {
        client_id,
        client_secret,
    } = &endpoint.client_auth
    {
        pairs.push(("client_id", client_id.as_str()));
        if let Some(secret) = client_secret {
            pairs.push(("client_secret", secret.expose()));
        }
    }
    Some(pairs)
}

/// Builds the complete request.
fn build(
    endpoint: &Endpoint,
    creds: Option<&Credentials>,
    refresh_token: Option<&Secret>,
    scope: Option<&str>,
) -> Option<Request<Vec<u8>>> {
    if auth_conflict(endpoint) {
        return None;
    }
    let pairs = body_pairs(endpoint, creds, refresh_token.map(Secret::expose), scope)?;
    let (content_type, body) = match endpoint.encoding {
        Encoding::Form => ("application/x-www-form-urlencoded", form_body(&pairs)),
        Encoding::Json => ("application/json", json_body(&pairs)),
    };
    let authorization = if endpoint.refresh_token_as_bearer {
        Some(refresh_token?.bearer_header()?)
    } else if let ClientAuth::Basic {
        client_id,
        client_secret,
    } = &endpoint.client_auth
    {
        Some(basic_auth(client_id, client_secret)?)
    } else {
        None
    };
    let mut request = Request::new(body);
    *request.method_mut() = Method::POST;
    *request.uri_mut() = endpoint.url.clone();
    let headers = request.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    for (name, _) in &endpoint.headers {
        headers.remove(name);
    }
    for (name, value) in &endpoint.headers {
        headers.append(name.clone(), value.clone());
    }
    if let Some(value) = authorization {
        headers.insert(AUTHORIZATION, value);
    }
    Some(request)
}

/// `application/x-www-form-urlencoded` body. The buffer is sized up front so no stray copy of
/// a secret is left behind by a reallocation.
fn form_body(pairs: &[(&str, &str)]) -> Vec<u8> {
    let capacity = pairs.iter().map(|(k, v)| 3 * (k.len() + v.len()) + 2).sum();
    let mut body = String::with_capacity(capacity);
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            body.push('&');
        }
        form_encode(&mut body, name);
        body.push('=');
        form_encode(&mut body, value);
    }
    body.into_bytes()
}

/// Appends `s` as the `application/x-www-form-urlencoded` serializer writes it (WHATWG URL
/// standard, the same output as `form_urlencoded::byte_serialize`): ASCII letters, digits and
/// `*-._` as they are, a space as `+`, every other byte as `%XX` with upper-case hex. Written
/// out here rather than taken from the crate, whose 768-byte table of `%XX` strings would be
/// part of the `.wasm`.
fn form_encode(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
        }
    }
}

/// A JSON object of string values, in field order, sized up front like [`form_body`].
fn json_body(pairs: &[(&str, &str)]) -> Vec<u8> {
    let capacity = 2 + pairs
        .iter()
        .map(|(k, v)| 6 * (k.len() + v.len()) + 6)
        .sum::<usize>();
    let mut body = Vec::with_capacity(capacity);
    body.push(b'{');
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        json::write_str(&mut body, name);
        body.push(b':');
        json::write_str(&mut body, value);
    }
    body.push(b'}');
    body
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1), marked sensitive.
fn basic_auth(client_id: &str, client_secret: &Secret) -> Option<HeaderValue> {
    let secret = client_secret.expose();
    let mut user_pass = Zeroizing::new(String::with_capacity(
        3 * (client_id.len() + secret.len()) + 1,
    ));
    form_encode(&mut user_pass, client_id);
    user_pass.push(':');
    form_encode(&mut user_pass, secret);
    let mut value = Zeroizing::new(Vec::with_capacity(6 + user_pass.len().div_ceil(3) * 4));
    value.extend_from_slice(b"Basic ");
    base64::encode(user_pass.as_bytes(), &mut value);
    let mut header = HeaderValue::from_maybe_shared(Bytes::from_owner(ZeroOnDrop(value))).ok()?;
    header.set_sensitive(true);
    Some(header)
}

/// Owner of a header's bytes that wipes them when the last `Bytes` handle is dropped.
struct ZeroOnDrop(Zeroizing<Vec<u8>>);

impl AsRef<[u8]> for ZeroOnDrop {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Checks one endpoint (see [`Dialect::validate`]).
fn validate_endpoint(endpoint: &Endpoint, allow_insecure_http: bool) -> Result<(), ConfigError> {
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
fn is_loopback(host: &str) -> bool {
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
fn ipv4(s: &str) -> Option<[u8; 4]> {
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
fn ipv6(s: &str) -> Option<[u16; 8]> {
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
fn parse_url(url: &str) -> Result<Uri, ConfigError> {
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
fn invalid_url(url: &str) -> ConfigError {
    ConfigError::InvalidUrl {
        url: redact_userinfo(url),
    }
}

/// A URL with its userinfo (`user:password@`) replaced by `[redacted]@`.
fn redact_userinfo(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}[redacted]{}", &url[..start], &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests;
