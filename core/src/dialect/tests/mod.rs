//! Table tests of the dialects: exact bodies and headers, validation, redaction.

mod builtin;
mod request;
mod url;

use super::*;
use http::header::AUTHORIZATION;

const PASSWORD: &str = "p&=+ %é☃-SECRET";

const PASSWORD_FORM: &str = "p%26%3D%2B+%25%C3%A9%E2%98%83-SECRET";

const REFRESH: &str = "refresh.token-SECRET";

fn alice() -> Credentials {
    Credentials::password("alice", PASSWORD)
}

fn header<'a>(r: &'a AuthHttpRequest, name: &str) -> Option<&'a str> {
    r.header_list()
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.to_str().unwrap())
}

fn body(r: &AuthHttpRequest) -> &str {
    core::str::from_utf8(r.body()).unwrap()
}

fn basic(id: &str, secret: &str) -> ClientAuth {
    ClientAuth::Basic {
        client_id: id.into(),
        client_secret: Secret::new(secret),
    }
}
