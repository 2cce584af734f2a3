//! The rate limits of the routes anyone can call without an access token: one address over
//! its budget is refused (429 `rate-limited`, `Retry-After`) while another still gets through,
//! all addresses together have a budget of their own, and a forwarded address counts only when
//! the peer is a proxy the operator named. Two client addresses are two loopback addresses
//! (127.0.0.1 and 127.0.0.2: the whole 127/8 is loopback on Linux).

use std::net::IpAddr;

use reqwest::StatusCode;
use serde_json::json;
use wp_schemas::problem::ProblemType;
use wp_tests::{Backend, TestServer, backend_tests, problem_of};

/// An HTTP client whose requests come from `from`.
fn client_from(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from.parse::<IpAddr>().expect("address"))
        .build()
        .expect("client")
}

/// A registration the server refuses for its body (422), or for the limit (429): cheap, and it
/// passes through the limit like any other.
async fn register(
    http: &reqwest::Client,
    server: &TestServer,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = http
        .post(format!("{}/v1/parties", server.url))
        .json(&json!({}));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("request")
}

/// A token request with an empty form: refused for the form (400) or for the limit.
async fn token(http: &reqwest::Client, server: &TestServer) -> reqwest::Response {
    http.post(format!("{}/v1/token", server.url))
        .form(&[("grant_type", "nothing")])
        .send()
        .await
        .expect("request")
}

/// The response is 429 `rate-limited` with a `Retry-After` of whole seconds within a minute.
async fn assert_limited(response: reqwest::Response, whom: &str) {
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .expect("ascii")
        .parse()
        .expect("whole seconds");
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    let (status, problem) = problem_of(response).await;
    assert_eq!(status, 429);
    assert_eq!(problem.kind(), Some(ProblemType::RateLimited));
    let detail = problem.detail.unwrap_or_default();
    assert!(detail.contains(whom), "{detail}");
}

async fn one_address_is_stopped_before_all_are(backend: Backend) {
    let server = TestServer::start_with(backend, |s| {
        s.rate_limit_per_address = 3;
        s.rate_limit_global = 5;
    })
    .await;
    let (a, b, c) = (
        client_from("127.0.0.1"),
        client_from("127.0.0.2"),
        client_from("127.0.0.3"),
    );

    // Address A spends its budget across the limited routes, and is refused the next request.
    assert_eq!(register(&a, &server, &[]).await.status(), 422);
    assert_eq!(token(&a, &server).await.status(), 400);
    assert_eq!(register(&a, &server, &[]).await.status(), 422);
    assert_limited(register(&a, &server, &[]).await, "this address").await;
    assert_limited(token(&a, &server).await, "this address").await;
    // Finding an organisation shares the budget, before any token is looked at: a caller
    // cannot try names or share codes faster than it could register.
    for path in [
        "/v1/organisations?name=acme",
        "/v1/share-codes/K7PD-4MQX-93HN",
    ] {
        let response = a.get(format!("{}{path}", server.url)).send().await.unwrap();
        assert_limited(response, "this address").await;
    }
    // Routes that are not limited still answer A.
    let health = a
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    // A's refused requests spent nothing of the overall budget: B gets through, twice.
    assert_eq!(register(&b, &server, &[]).await.status(), 422);
    assert_eq!(token(&b, &server).await.status(), 400);
    // Now all addresses together have made 5: the overall budget refuses B and a newcomer.
    assert_limited(register(&b, &server, &[]).await, "all clients").await;
    assert_limited(register(&c, &server, &[]).await, "all clients").await;
    server.stop().await;
}

async fn forwarded_address_counts_only_through_a_trusted_proxy(backend: Backend) {
    let server = TestServer::start_with(backend, |s| {
        s.rate_limit_per_address = 2;
        s.rate_limit_global = 100;
        s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let (proxy, other) = (client_from("127.0.0.1"), client_from("127.0.0.2"));

    // Through the trusted proxy, each forwarded client has its own budget.
    let first = [("x-forwarded-for", "203.0.113.1")];
    assert_eq!(register(&proxy, &server, &first).await.status(), 422);
    assert_eq!(register(&proxy, &server, &first).await.status(), 422);
    assert_limited(register(&proxy, &server, &first).await, "this address").await;
    // The client wrote the far end of the chain; the proxy appended what it saw.
    let spoofed_chain = [("x-forwarded-for", "198.51.100.9, 203.0.113.1")];
    assert_limited(
        register(&proxy, &server, &spoofed_chain).await,
        "this address",
    )
    .await;
    let second = [("x-forwarded-for", "203.0.113.2")];
    assert_eq!(register(&proxy, &server, &second).await.status(), 422);
    let rfc7239 = [("forwarded", "for=\"[2001:db8::1]:4711\";proto=http")];
    assert_eq!(register(&proxy, &server, &rfc7239).await.status(), 422);
    assert_eq!(register(&proxy, &server, &rfc7239).await.status(), 422);
    assert_limited(register(&proxy, &server, &rfc7239).await, "this address").await;

    // From a peer that is not a trusted proxy, a forwarded header changes nothing.
    for (i, expected) in [422, 422, 429].into_iter().enumerate() {
        let forged = format!("192.0.2.{i}");
        let response = register(&other, &server, &[("x-forwarded-for", forged.as_str())]).await;
        assert_eq!(response.status().as_u16(), expected, "request {i}");
    }
    server.stop().await;
}

/// The limits a server starts with when no flag sets them leave an ordinary client alone: an
/// employee registers, gets tokens and works.
async fn defaults_leave_an_ordinary_client_alone(backend: Backend) {
    let defaults = wp_server::Settings::for_data_dir("/unused");
    let server = TestServer::start_with(backend, |s| {
        s.rate_limit_per_address = defaults.rate_limit_per_address;
        s.rate_limit_global = defaults.rate_limit_global;
    })
    .await;
    assert!(defaults.rate_limit_per_address > 0 && defaults.rate_limit_global > 0);
    for i in 0..5 {
        let employee = server.employee(&format!("Employee {i}")).await;
        employee.create_passport().await.expect("passport");
    }
    server.stop().await;
}

backend_tests!(
    one_address_is_stopped_before_all_are,
    forwarded_address_counts_only_through_a_trusted_proxy,
    defaults_leave_an_ordinary_client_alone,
);
