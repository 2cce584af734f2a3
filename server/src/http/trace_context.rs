//! W3C Trace Context (<https://www.w3.org/TR/trace-context/>): a request's `traceparent`
//! carries the caller's trace into this server's logs and problem answers. A request that
//! arrives with a valid `traceparent` and no `X-Request-Id` gets the request id
//! `<trace-id>-<span-id>`: the caller's trace id, and a new span id for this server's part of
//! the trace. So the problem's `instance`, the `X-Request-Id` answer header and every log line of
//! the request (whose span also has a `trace_id` field) can be found by the trace id. An invalid
//! `traceparent` is ignored, as the specification says (section 3.2: start a new trace).

use axum::http::{HeaderMap, HeaderValue, Request};
use tower_http::request_id::{MakeRequestId, RequestId};

/// The caller's trace id (32 lower-case hex digits, not all zero), from a valid `traceparent`.
pub fn trace_id(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all("traceparent").iter();
    let value = values.next()?.to_str().ok()?;
    // A repeated header is not one traceparent.
    if values.next().is_some() {
        return None;
    }
    parse(value.trim())
}

/// The trace id of a `traceparent` value: `version-traceid-parentid-flags`, each field lower-case
/// hex of its length. Version `ff` is invalid; a later version than 00 may append fields after
/// a `-`, which are ignored (section 4.3).
fn parse(value: &str) -> Option<&str> {
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let (head, rest) = value.split_at_checked(55)?;
    let mut fields = head.split('-');
    let (version, trace, parent, flags) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    let valid = hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && trace.bytes().any(|b| b != b'0')
        && hex(parent, 16)
        && parent.bytes().any(|b| b != b'0')
        && hex(flags, 2)
        && (rest.is_empty() || (version != "00" && rest.starts_with('-')));
    valid.then_some(trace)
}

/// Request ids: `<trace-id>-<new span id>` under a caller's trace, a random UUID otherwise.
#[derive(Clone, Copy, Default)]
pub struct MakeTraceRequestId;

impl MakeRequestId for MakeTraceRequestId {
    fn make_request_id<B>(&mut self, request: &Request<B>) -> Option<RequestId> {
        let random = uuid::Uuid::new_v4();
        let id = match trace_id(request.headers()) {
            // 64 random bits, as hex: never all zero in practice, and only a label here.
            Some(trace) => format!("{trace}-{:016x}", random.as_u64_pair().0),
            None => random.to_string(),
        };
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    #[test]
    fn reads_valid_traceparents() {
        for value in [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            // A later version may carry more fields.
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next",
        ] {
            assert_eq!(parse(value), Some(TRACE), "{value}");
        }
    }

    #[test]
    fn ignores_invalid_traceparents() {
        for value in [
            "",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            "zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(parse(value), None, "{value:?}");
        }
    }

    #[test]
    fn request_ids_carry_the_trace() {
        let request = |traceparent: Option<&str>| {
            let mut builder = Request::builder();
            if let Some(value) = traceparent {
                builder = builder.header("traceparent", value);
            }
            builder.body(()).unwrap()
        };
        let id = MakeTraceRequestId
            .make_request_id(&request(Some(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )))
            .unwrap();
        let id = id.header_value().to_str().unwrap();
        let (trace, span) = id.split_once('-').unwrap();
        assert_eq!(trace, TRACE);
        assert_eq!(span.len(), 16);
        let plain = MakeTraceRequestId.make_request_id(&request(None)).unwrap();
        assert!(uuid::Uuid::parse_str(plain.header_value().to_str().unwrap()).is_ok());
    }
}
