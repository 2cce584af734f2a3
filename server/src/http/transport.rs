//! Who sent a request and how it reached us: the client's address (the socket peer's, or the
//! one a `--trusted-proxy` forwards) and whether the client used HTTPS (this server serves TLS,
//! its public URL is `https://`, or a trusted proxy says so with `Forwarded: proto=https` or
//! `X-Forwarded-Proto: https`). Forwarded headers from any other peer are ignored.
//!
//! Every request gets a [`ClientInfo`] (the rate limits and the request's log span read it),
//! and every answer given over HTTPS carries `Strict-Transport-Security`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use super::limit::client_address;

/// The client of one request.
#[derive(Debug, Clone, Copy)]
pub struct ClientInfo {
    /// For the rate limits and the logs.
    pub address: IpAddr,
    /// Whether the client reached this service over HTTPS.
    pub https: bool,
}

/// Middleware: works out the [`ClientInfo`], and adds HSTS to an answer over HTTPS.
pub async fn identify(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    // Served without connect info (not by `run`): every request comes from one unknown address.
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    let trusted = state.limits.is_trusted_proxy(peer);
    let client = ClientInfo {
        address: client_address(&state.limits, peer, request.headers()),
        https: state.https
            || (trusted
                && forwarded_proto(request.headers())
                    .is_some_and(|p| p.eq_ignore_ascii_case("https"))),
    };
    request.extensions_mut().insert(client);
    let mut response = next.run(request).await;
    if client.https {
        let hsts = format!("max-age={}", state.hsts_max_age);
        response.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_str(&hsts).expect("digits are a valid header value"),
        );
    }
    response
}

/// The scheme the nearest proxy says the client used: the `proto=` of the last `Forwarded`
/// element, or else the last `X-Forwarded-Proto` value (each proxy appends its own, so the last
/// is the one the trusted peer wrote).
fn forwarded_proto(headers: &HeaderMap) -> Option<String> {
    let last = |name: &str| -> Option<String> {
        let value = headers.get_all(name).iter().next_back()?.to_str().ok()?;
        Some(value.rsplit(',').next()?.trim().to_owned())
    };
    if let Some(element) = last("forwarded") {
        return element.split(';').find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("proto")
                .then(|| value.trim().trim_matches('"').to_owned())
        });
    }
    last("x-forwarded-proto")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn the_nearest_proxy_says_the_scheme() {
        assert_eq!(forwarded_proto(&HeaderMap::new()), None);
        let forwarded = headers(&[(
            "forwarded",
            "for=1.2.3.4;proto=http, for=5.6.7.8;Proto=\"https\"",
        )]);
        assert_eq!(forwarded_proto(&forwarded).as_deref(), Some("https"));
        let xfp = headers(&[
            ("x-forwarded-proto", "http"),
            ("x-forwarded-proto", "https"),
        ]);
        assert_eq!(forwarded_proto(&xfp).as_deref(), Some("https"));
        // Forwarded wins, as for the address.
        let both = headers(&[("forwarded", "for=1.2.3.4"), ("x-forwarded-proto", "https")]);
        assert_eq!(forwarded_proto(&both), None);
    }
}
