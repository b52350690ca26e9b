//! Endpoint checks: URLs, client credentials, redaction of userinfo, and the loopback address
//! readers against `core::net`.

use super::*;
use crate::dialect::url::{ipv4, ipv6, is_loopback};
use crate::error::redact_userinfo;

#[test]
fn bad_urls_are_refused_without_echoing_userinfo() {
    let table = [
        ("", ""),
        ("not a url", "not a url"),
        ("vg.example", "vg.example"),
        ("/api", "/api"),
        ("ftp://vg.example", "ftp://vg.example"),
        ("https://", "https://"),
        ("https://vg.example?x=1", "https://vg.example?x=1"),
        ("https://vg.example/#frag", "https://vg.example/#frag"),
        (
            "https://admin:SECRET@vg.example",
            "https://[redacted]@vg.example",
        ),
    ];
    for (base, shown) in table {
        let err = Dialect::vitalgraph(base).unwrap_err();
        assert_eq!(err, ConfigError::InvalidUrl { url: shown.into() }, "{base}");
        assert!(!err.to_string().contains("SECRET"));
        if base.contains('?') {
            continue; // a token endpoint may have a query (RFC 6749 §3.2)
        }
        let err = Dialect::oauth2_password(base, ClientAuth::None, None).unwrap_err();
        assert!(
            matches!(err, ConfigError::InvalidUrl { .. }),
            "{base}: {err:?}"
        );
        assert!(!err.to_string().contains("SECRET"));
    }
}

#[test]
fn validate_urls_table() {
    let insecure = |u: &str| Err(ConfigError::InsecureUrl { url: u.into() });
    let invalid = |u: &str| Err(ConfigError::InvalidUrl { url: u.into() });
    // (login url, allow_insecure_http, expected)
    let table: Vec<(&str, bool, Result<(), ConfigError>)> = vec![
        ("https://as.example/token", false, Ok(())),
        ("HTTPS://AS.EXAMPLE/token", false, Ok(())),
        ("http://localhost/token", false, Ok(())),
        ("http://LOCALHOST:8080/token", false, Ok(())),
        ("http://localhost./token", false, Ok(())),
        ("http://127.0.0.1:3000/token", false, Ok(())),
        ("http://127.255.0.9/token", false, Ok(())),
        ("http://[::1]:3000/token", false, Ok(())),
        ("http://[::ffff:127.0.0.1]/token", false, Ok(())),
        (
            "http://as.example/token",
            false,
            insecure("http://as.example/token"),
        ),
        (
            "http://10.0.0.1/token",
            false,
            insecure("http://10.0.0.1/token"),
        ),
        (
            "http://128.0.0.1/token",
            false,
            insecure("http://128.0.0.1/token"),
        ),
        ("http://[::2]/token", false, insecure("http://[::2]/token")),
        (
            "http://localhost.evil.example/token",
            false,
            insecure("http://localhost.evil.example/token"),
        ),
        (
            "http://127.0.0.1.nip.io/token",
            false,
            insecure("http://127.0.0.1.nip.io/token"),
        ),
        ("http://as.example/token", true, Ok(())),
        (
            "ftp://as.example/token",
            false,
            invalid("ftp://as.example/token"),
        ),
        ("/token", false, invalid("/token")),
    ];
    for (url, allow, want) in table {
        // A URL that is not absolute http(s) cannot be an `EndpointUrl` at all.
        let got = url.parse::<EndpointUrl>().and_then(|url| {
            let mut d = Dialect::vitalgraph("https://vg.example").unwrap();
            d.login.as_mut().unwrap().url = url;
            d.validate(allow)
        });
        assert_eq!(got, want, "{url} allow={allow}");
    }
    // The refresh endpoint is checked too.
    let mut d = Dialect::vitalgraph("https://vg.example").unwrap();
    d.refresh.as_mut().unwrap().url = "http://vg.example/api/refresh".parse().unwrap();
    assert!(matches!(
        d.validate(false),
        Err(ConfigError::InsecureUrl { .. })
    ));
    // Userinfo in a hand-built URL is refused without being echoed, from either parser.
    let err = EndpointUrl::parse("https://u:SECRET@vg.example/api/refresh").unwrap_err();
    assert_eq!(
        err,
        ConfigError::InvalidUrl {
            url: "https://[redacted]@vg.example/api/refresh".into()
        }
    );
    let err = EndpointUrl::from_parsed(
        "https://u:SECRET@vg.example/api/refresh",
        "https",
        "vg.example",
        None,
    )
    .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("SECRET"), "{err:?}");
    // No endpoints at all: nothing to check.
    let empty = Dialect {
        name: "external".into(),
        login: None,
        refresh: None,
        scope: None,
    };
    assert_eq!(empty.validate(false), Ok(()));
    assert_eq!(empty.origin(), None);
}

#[test]
fn validate_client_auth_table() {
    let body = |id: &str, secret: Option<&str>| ClientAuth::Body {
        client_id: id.into(),
        client_secret: secret.map(Secret::new),
    };
    let table: Vec<(ClientAuth, Result<(), ConfigError>)> = vec![
        (ClientAuth::None, Ok(())),
        (basic("id", "secret with spaces & symbols é"), Ok(())),
        (body("id", None), Ok(())),
        (
            basic("", "s"),
            Err(ConfigError::Invalid {
                field: "client_id",
                reason: "empty",
            }),
        ),
        (
            body("", None),
            Err(ConfigError::Invalid {
                field: "client_id",
                reason: "empty",
            }),
        ),
        (
            basic("i\nd", "s"),
            Err(ConfigError::InvalidHeaderValue { field: "client_id" }),
        ),
        (
            basic("id", "s\r\nX-Evil: 1"),
            Err(ConfigError::InvalidHeaderValue {
                field: "client_secret",
            }),
        ),
        (
            body("id", Some("s\0")),
            Err(ConfigError::InvalidHeaderValue {
                field: "client_secret",
            }),
        ),
    ];
    for (client, want) in table {
        let d = Dialect::oauth2_password("https://as.example/token", client.clone(), None).unwrap();
        assert_eq!(d.validate(false), want, "{client:?}");
    }
    let mut conflict = Dialect::vitalgraph("https://vg.example").unwrap();
    conflict.refresh.as_mut().unwrap().client_auth = basic("id", "s");
    assert!(matches!(
        conflict.validate(false),
        Err(ConfigError::Invalid {
            field: "client_auth",
            ..
        })
    ));
    let mut unnamed = Dialect::vitalgraph("https://vg.example").unwrap();
    unnamed
        .login
        .as_mut()
        .unwrap()
        .fields
        .push((String::new(), Field::Literal("x".into())));
    assert!(matches!(
        unnamed.validate(false),
        Err(ConfigError::Invalid {
            field: "fields",
            ..
        })
    ));
}

#[test]
fn redact_userinfo_table() {
    let table = [
        ("https://u:p@host/x", "https://[redacted]@host/x"),
        ("https://u@host", "https://[redacted]@host"),
        ("https://host/x@y", "https://host/x@y"),
        ("https://host?q=a@b", "https://host?q=a@b"),
        ("u:p@host", "[redacted]@host"),
        ("https://host", "https://host"),
        ("", ""),
    ];
    for (url, want) in table {
        assert_eq!(redact_userinfo(url), want);
    }
}

/// The hand-written address readers against `core::net`'s parsers.
fn agrees_with_core_net(s: &str) {
    use core::net::{Ipv4Addr, Ipv6Addr};
    assert_eq!(
        ipv4(s),
        s.parse::<Ipv4Addr>().ok().map(|a| a.octets()),
        "v4 {s}"
    );
    assert_eq!(
        ipv6(s),
        s.parse::<Ipv6Addr>().ok().map(|a| a.segments()),
        "v6 {s}"
    );
    let std_loopback = s.parse::<Ipv4Addr>().is_ok_and(|a| a.is_loopback())
        || s.parse::<Ipv6Addr>().is_ok_and(|a| {
            a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        });
    assert_eq!(
        is_loopback(s),
        std_loopback || s.eq_ignore_ascii_case("localhost"),
        "{s}"
    );
}

#[test]
fn loopback_addresses_read_as_core_net_reads_them() {
    for s in [
        "127.0.0.1",
        "127.255.255.255",
        "127.0.0.01",
        "127.0.0.256",
        "127.0.0",
        "127.0.0.1.1",
        "0127.0.0.1",
        "127.0.0.+1",
        "::1",
        "0:0:0:0:0:0:0:1",
        "0000:0000::0001",
        "::0:1",
        "::ffff:127.0.0.1",
        "::ffff:7f00:1",
        "::FFFF:127.1.2.3",
        "0:0:0:0:0:ffff:127.0.0.1",
        "::ffff:128.0.0.1",
        "::127.0.0.1",
        "1.2.3.4::",
        "::1::",
        ":::1",
        "1:2:3:4:5:6:7::8",
        "1:2:3:4:5:6::8",
        "1:2:3:4:5:6:7:8:9",
        "::00001",
        "::",
        "",
        "localhost",
        "::1:2:3:4:5:6:1.2.3.4",
        "::1:2:3:4:5:1.2.3.4",
    ] {
        agrees_with_core_net(s);
    }
}

proptest::proptest! {
    #[test]
    fn address_readers_agree_with_core_net(s in "[0-9a-fA-F:.]{0,24}") {
        agrees_with_core_net(&s);
    }

    #[test]
    fn dotted_quads_agree_with_core_net(s in "(0|1|12|127|255|256|01)(\\.(0|1|25|255|256|00|009)){2,4}") {
        agrees_with_core_net(&s);
    }
}

/// `from_parsed` takes what another parser read and applies `parse`'s checks: the same
/// scheme, host and port, the same refusals (userinfo, fragment, other schemes, no host),
/// and a default port forgotten as `parse` forgets it.
#[test]
fn from_parsed_agrees_with_parse() {
    let table: [(&str, &str, &str, Option<u16>); 6] = [
        ("https://vg.example/api/login", "https", "vg.example", None),
        ("https://vg.example:443/t", "https", "vg.example", Some(443)),
        (
            "http://localhost:8001/t?x=1",
            "http",
            "localhost",
            Some(8001),
        ),
        ("http://[::1]:8001/t", "http", "[::1]", Some(8001)),
        ("HTTPS://VG.example/t", "HTTPS", "VG.example", None),
        (
            "https://vg.example:8443/p/",
            "https",
            "vg.example",
            Some(8443),
        ),
    ];
    for (href, scheme, host, port) in table {
        let parsed = EndpointUrl::parse(href).unwrap();
        let given = EndpointUrl::from_parsed(href, scheme, host, port).unwrap();
        assert_eq!(
            (given.scheme(), given.host(), given.port()),
            (parsed.scheme(), parsed.host(), parsed.port()),
            "{href}"
        );
        assert_eq!(given.origin(), parsed.origin(), "{href}");
        assert_eq!(given.as_str(), href);
    }
    let refused: [(&str, &str, &str); 5] = [
        ("https://vg.example/#frag", "https", "vg.example"),
        ("https://a@vg.example/", "https", "vg.example"),
        ("https://a:b@vg.example?x", "https", "vg.example"),
        ("ftp://vg.example/", "ftp", "vg.example"),
        ("https:///x", "https", ""),
    ];
    for (href, scheme, host) in refused {
        assert!(EndpointUrl::parse(href).is_err(), "{href}");
        assert!(
            matches!(
                EndpointUrl::from_parsed(href, scheme, host, None),
                Err(ConfigError::InvalidUrl { .. })
            ),
            "{href}"
        );
    }
    // An `@` after the authority (in the path or query) is not userinfo.
    assert!(
        EndpointUrl::from_parsed("https://vg.example/a@b?c@d", "https", "vg.example", None).is_ok()
    );
    assert!(EndpointUrl::parse("https://vg.example/a@b?c@d").is_ok());
}

/// `reread_urls` replaces both endpoints' URLs (and so the origin) and stops at an error.
#[test]
fn reread_urls_replaces_both_endpoints() {
    let mut d = Dialect::vitalgraph("http://127.1:8080").unwrap();
    d.reread_urls(|u| {
        let href = u.as_str().replace("127.1", "127.0.0.1");
        EndpointUrl::from_parsed(&href, "http", "127.0.0.1", Some(8080))
    })
    .unwrap();
    assert_eq!(d.origin().as_deref(), Some("http://127.0.0.1:8080"));
    assert_eq!(
        d.login.as_ref().unwrap().url,
        "http://127.0.0.1:8080/api/login"
    );
    assert_eq!(
        d.refresh.as_ref().unwrap().url,
        "http://127.0.0.1:8080/api/refresh"
    );
    let err = d.reread_urls(|u| Err(ConfigError::invalid_url(u.as_str())));
    assert!(matches!(err, Err(ConfigError::InvalidUrl { .. })));
}
