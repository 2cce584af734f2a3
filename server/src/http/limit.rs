//! The rate limits ([`crate::service::limits`]) on the routes whose operation says it is
//! rate-limited, counted by the client's address: the socket peer's, or, when the peer is one
//! of the operator's `--trusted-proxy` addresses, the one its `Forwarded` (RFC 7239) or
//! `X-Forwarded-For` header names.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::transport::ClientInfo;
use crate::service::limits::Limits;

/// Middleware: refuses a request over its client's budget or the overall one (429
/// `rate-limited`, with `Retry-After`).
pub async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // Found by `transport::identify`, which every request goes through.
    let client = request
        .extensions()
        .get::<ClientInfo>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.address);
    match state.limits.check(client) {
        Ok(()) => next.run(request).await,
        Err(refused) => {
            tracing::info!(%client, per_address = refused.per_address, "rate limited");
            refused.into_response()
        }
    }
}

/// The client's address: the peer's, unless the peer is a trusted proxy; then the nearest
/// address in the forwarded chain that is not a trusted proxy (a client can put anything at the
/// far end of the chain, so the chain is read from the near end, and only through trusted
/// hops). A hop the header does not name by address (`unknown`, an obfuscated name) stops
/// the walk at the trusted proxy that reported it.
pub fn client_address(limits: &Limits, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    if !limits.is_trusted_proxy(peer) {
        return peer;
    }
    let chain = forwarded_chain(headers);
    let mut nearest = peer;
    for hop in chain.iter().rev() {
        match hop {
            Some(ip) if limits.is_trusted_proxy(*ip) => nearest = *ip,
            Some(ip) => return *ip,
            None => return nearest,
        }
    }
    nearest
}

/// The hops a request came through, farthest first: the `for=` of every `Forwarded` element,
/// or else every `X-Forwarded-For` entry (None for a hop not named by address).
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let joined = |name: &str| -> Option<String> {
        let values: Vec<&str> = headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or("unknown"))
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    };
    if let Some(forwarded) = joined("forwarded") {
        return forwarded
            .split(',')
            .map(|element| {
                element.split(';').find_map(|pair| {
                    let (name, value) = pair.trim().split_once('=')?;
                    name.eq_ignore_ascii_case("for")
                        .then(|| node_address(value.trim().trim_matches('"')))
                })?
            })
            .collect();
    }
    joined("x-forwarded-for")
        .map(|xff| xff.split(',').map(|hop| node_address(hop.trim())).collect())
        .unwrap_or_default()
}

/// `192.0.2.1`, `192.0.2.1:80`, `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:80`.
fn node_address(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = node.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    node.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Settings;

    fn limits(trusted: &str) -> Limits {
        let mut settings = Settings::for_data_dir("/nonexistent");
        settings.trusted_proxies = trusted.split(',').map(|t| t.parse().unwrap()).collect();
        Limits::new(&settings).unwrap()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_address_only_from_a_trusted_proxy() {
        let limits = limits("10.0.0.0/8");
        let spoofed = headers(&[("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(
            client_address(&limits, ip("198.51.100.1"), &spoofed),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_address(&limits, ip("10.0.0.2"), &spoofed),
            ip("203.0.113.7")
        );
        // The client wrote the far end; the nearest untrusted hop is what the proxy saw.
        let chain = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.7, 10.0.0.9")]);
        assert_eq!(
            client_address(&limits, ip("10.0.0.2"), &chain),
            ip("203.0.113.7")
        );
        let lines = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "203.0.113.8"),
        ]);
        assert_eq!(
            client_address(&limits, ip("10.0.0.2"), &lines),
            ip("203.0.113.8")
        );
        // No header, or only unknown hops: the proxy itself.
        assert_eq!(
            client_address(&limits, ip("10.0.0.2"), &HeaderMap::new()),
            ip("10.0.0.2")
        );
        let unknown = headers(&[("x-forwarded-for", "1.1.1.1, garbage")]);
        assert_eq!(
            client_address(&limits, ip("10.0.0.2"), &unknown),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn rfc_7239_forwarded() {
        let limits = limits("10.0.0.1,::1");
        let forwarded = headers(&[(
            "forwarded",
            "for=1.1.1.1, for=\"[2001:db8:cafe::17]:4711\";proto=https, For=10.0.0.1",
        )]);
        assert_eq!(
            client_address(&limits, ip("::1"), &forwarded),
            ip("2001:db8:cafe::17")
        );
        let hidden = headers(&[("forwarded", "for=_hidden;by=10.0.0.1")]);
        assert_eq!(
            client_address(&limits, ip("10.0.0.1"), &hidden),
            ip("10.0.0.1")
        );
        // Forwarded wins over X-Forwarded-For.
        let both = headers(&[
            ("forwarded", "for=192.0.2.43:80"),
            ("x-forwarded-for", "1.1.1.1"),
        ]);
        assert_eq!(
            client_address(&limits, ip("10.0.0.1"), &both),
            ip("192.0.2.43")
        );
    }
}
