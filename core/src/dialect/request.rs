//! Building a login or refresh request from an endpoint: the body's fields, its encoding and
//! the client authentication. Bodies and headers hold secrets; buffers are sized up front (no
//! stray copies left by reallocation) and wiped when they hold credentials.

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};

use super::EndpointUrl;
use zeroize::Zeroizing;

use super::{ClientAuth, Credentials, Encoding, Endpoint, Field};
use crate::parse::{base64, json};
use crate::secret::{Secret, ZeroOnDrop};

/// Whether a request can be built from this endpoint with these values.
pub(super) fn ready(
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
pub(super) fn build(
    endpoint: &Endpoint,
    creds: Option<&Credentials>,
    refresh_token: Option<&Secret>,
    scope: Option<&str>,
) -> Option<AuthHttpRequest> {
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
    let mut headers = Vec::with_capacity(3 + endpoint.headers.len());
    headers.push((CONTENT_TYPE, HeaderValue::from_static(content_type)));
    headers.push((ACCEPT, HeaderValue::from_static("application/json")));
    headers.retain(|(name, _)| !endpoint.headers.iter().any(|(n, _)| n == name));
    headers.extend(endpoint.headers.iter().cloned());
    if let Some(value) = authorization {
        headers.retain(|(name, _)| name != AUTHORIZATION);
        headers.push((AUTHORIZATION, value));
    }
    Some(AuthHttpRequest {
        url: endpoint.url.clone(),
        headers,
        body: Zeroizing::new(body),
    })
}

/// A login or refresh request as a dialect builds it: a `POST` of [`body`](Self::body) to
/// [`url`](Self::url) with [`header_list`](Self::header_list). Its body and `Authorization`
/// header hold secrets: never log them. The body is wiped when the request is dropped.
///
/// A driver with `http` types takes it whole with [`into_http`](Self::into_http); one without
/// (the npm package) reads the parts, which keeps `http`'s header map and URI parser out of
/// its build.
#[derive(Clone)]
pub struct AuthHttpRequest {
    url: EndpointUrl,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Zeroizing<Vec<u8>>,
}

impl AuthHttpRequest {
    /// The method: always `POST`.
    #[must_use]
    pub fn method(&self) -> Method {
        Method::POST
    }

    /// Where the request goes: the endpoint's URL, as it is sent.
    #[must_use]
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The headers in the order they are sent (a name given twice by the endpoint is sent
    /// twice); secret values are marked
    /// sensitive.
    #[must_use]
    pub fn header_list(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }

    /// The headers as an `http` header map.
    #[must_use]
    pub fn headers(&self) -> HeaderMap {
        self.headers.iter().cloned().collect()
    }

    /// The body (form-encoded or JSON, see the endpoint's encoding).
    #[must_use]
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Wipes the body now rather than on drop, for a driver that has handed a copy to its
    /// platform and keeps the request a while longer (or drops it unsent).
    pub fn wipe_body(&mut self) {
        zeroize::Zeroize::zeroize(&mut *self.body);
    }

    /// The body, to hand to an HTTP library after reading the URL and the headers; it still
    /// wipes itself when dropped.
    #[must_use]
    pub fn into_body(self) -> Zeroizing<Vec<u8>> {
        self.body
    }

    /// The request as an `http::Request`; its body still wipes itself when dropped. Fails
    /// only when the URL, read by another parser ([`EndpointUrl::from_parsed`]), is not one
    /// `http::Uri` accepts.
    pub fn into_http(self) -> Result<Request<Zeroizing<Vec<u8>>>, http::Error> {
        let uri = Uri::try_from(self.url.as_str())?;
        let mut request = Request::new(self.body);
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri;
        *request.headers_mut() = self.headers.into_iter().collect();
        Ok(request)
    }
}

/// The method and URL only: the headers and body hold secrets.
impl core::fmt::Debug for AuthHttpRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AuthHttpRequest")
            .field("method", &"POST")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// `application/x-www-form-urlencoded` body. The buffer is sized up front so no stray copy of
/// a secret is left behind by a reallocation.
pub(super) fn form_body(pairs: &[(&str, &str)]) -> Vec<u8> {
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
pub(super) fn form_encode(out: &mut String, s: &str) {
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
pub(super) fn json_body(pairs: &[(&str, &str)]) -> Vec<u8> {
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
pub(super) fn basic_auth(client_id: &str, client_secret: &Secret) -> Option<HeaderValue> {
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
