//! Origins the access token may be sent to (scheme, host, port), and the default ports.

use crate::error::ConfigError;

/// An origin the access token may be sent to, parsed once.
#[derive(Clone, Debug)]
pub(crate) struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    pub(crate) fn parse(origin: &str) -> Result<Self, ConfigError> {
        let invalid = || ConfigError::InvalidUrl {
            url: origin.to_owned(),
        };
        let uri: http::Uri = origin.parse().map_err(|_| invalid())?;
        let (Some(scheme), Some(auth)) = (uri.scheme_str(), uri.authority()) else {
            return Err(invalid());
        };
        Origin::from_parts(scheme, auth.host(), auth.port_u16()).map_err(|_| invalid())
    }

    /// An origin a URL parser has already read (`port` `None` for the scheme's default; an
    /// IPv6 host may keep its brackets).
    pub(crate) fn from_parts(
        scheme: &str,
        host: &str,
        port: Option<u16>,
    ) -> Result<Self, ConfigError> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if scheme.is_empty() || host.is_empty() {
            return Err(ConfigError::InvalidUrl {
                url: format!("{scheme}://{host}"),
            });
        }
        Ok(Origin {
            scheme: scheme.to_ascii_lowercase(),
            host: host.to_ascii_lowercase(),
            port: port.or_else(|| default_port(scheme)),
        })
    }
}

impl Origin {
    /// Whether one of `origins` is `scheme://host:port` (`port` `None` means the scheme's
    /// default; an IPv6 host may keep its brackets). Allocates nothing.
    pub(crate) fn any_allows(
        origins: &[Origin],
        scheme: &str,
        host: &str,
        port: Option<u16>,
    ) -> bool {
        let port = port.or_else(|| default_port(scheme));
        let host = match host.as_bytes() {
            [b'[', inner @ .., b']'] => &host[1..=inner.len()],
            _ => host,
        };
        // Cheapest comparisons first: the port, then the host's length, then the bytes as
        // they are (URL parsers hand out lower-case hosts and schemes) before ignoring case.
        origins.iter().any(|o| {
            o.port == port
                && o.host.len() == host.len()
                && (o.host == host || o.host.eq_ignore_ascii_case(host))
                && (o.scheme == scheme || o.scheme.eq_ignore_ascii_case(scheme))
        })
    }
}

/// The port a URL of this scheme has when it names none (`https` 443, `http` 80).
pub(crate) fn default_port(scheme: &str) -> Option<u16> {
    if scheme.eq_ignore_ascii_case("https") {
        Some(443)
    } else if scheme.eq_ignore_ascii_case("http") {
        Some(80)
    } else {
        None
    }
}
