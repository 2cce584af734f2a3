//! A handler's answer names its own schema: the route table reads a handler's success status
//! and schema from its return type ([`Documented`], [`Answers`]), so the OpenAPI document
//! cannot say one thing while the handler answers another.

use std::future::Future;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::Serialize;
use wp_schemas::openapi::{SchemaOf, Schemas};

use crate::service::Logged;

/// A JSON answer with 201 Created.
pub struct Created<T>(pub T);

impl<T: Serialize> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        (StatusCode::CREATED, Json(self.0)).into_response()
    }
}

/// What a handler's return type says of its success answer: the status and schema of its JSON
/// body, or None when it builds its answer by hand (a `Response`, a bare status), whose
/// operation then says it.
pub trait Documented {
    fn success() -> Option<(u16, SchemaOf)>;
}

impl<T: JsonSchema> Documented for Json<T> {
    fn success() -> Option<(u16, SchemaOf)> {
        Some((200, Schemas::of::<T>))
    }
}

/// A passport answer made from its log entry's receipt is the answer itself on the wire.
impl<T: JsonSchema> Documented for Json<Logged<T>> {
    fn success() -> Option<(u16, SchemaOf)> {
        Some((200, Schemas::of::<T>))
    }
}

impl<T: JsonSchema> Documented for Created<T> {
    fn success() -> Option<(u16, SchemaOf)> {
        Some((201, Schemas::of::<T>))
    }
}

/// Refusals are the problems the operation lists.
impl<T: Documented, E> Documented for Result<T, E> {
    fn success() -> Option<(u16, SchemaOf)> {
        T::success()
    }
}

impl Documented for Response {
    fn success() -> Option<(u16, SchemaOf)> {
        None
    }
}

impl Documented for StatusCode {
    fn success() -> Option<(u16, SchemaOf)> {
        None
    }
}

/// The return type of an async handler taking `Args`: axum's `Handler` does not name it.
pub trait Answers<Args> {
    type Output;
}

macro_rules! answers {
    ($($arg:ident),*) => {
        impl<F, Fut, $($arg,)*> Answers<($($arg,)*)> for F
        where
            F: FnOnce($($arg),*) -> Fut,
            Fut: Future,
        {
            type Output = Fut::Output;
        }
    };
}

answers!();
answers!(T1);
answers!(T1, T2);
answers!(T1, T2, T3);
answers!(T1, T2, T3, T4);
answers!(T1, T2, T3, T4, T5);
answers!(T1, T2, T3, T4, T5, T6);
answers!(T1, T2, T3, T4, T5, T6, T7);
answers!(T1, T2, T3, T4, T5, T6, T7, T8);
