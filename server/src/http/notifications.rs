//! Notifications: a person's list, their email address and choices, the calendar feed; and the
//! two links an email carries, which work without signing in (verification, unsubscribe).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use wp_schemas::api::{
    CalendarFeed, NotificationPage, NotificationSettings, SetEmailChoices, SetNotificationEmail,
    VerifyEmail,
};

use super::AppState;
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use super::reply::Created;
use crate::domain::ids::NotificationId;
use crate::error::Result;
use crate::service::notifications;

#[derive(Deserialize)]
pub struct ListQuery {
    before: Option<String>,
}

/// `GET /v1/notifications`: newest first, with the unread count.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<NotificationPage>> {
    let page = notifications::list(&state, &caller, query.before.as_deref()).await?;
    Ok(Json(page))
}

/// `POST /v1/notifications/{nid}/read`.
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(nid): ApiPath<NotificationId>,
) -> Result<StatusCode> {
    notifications::mark_read(&state, &caller, Some(&nid)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/notifications/read-all`.
pub async fn read_all(State(state): State<AppState>, caller: Caller) -> Result<StatusCode> {
    notifications::mark_read(&state, &caller, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/notifications/settings`.
pub async fn settings(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<NotificationSettings>> {
    Ok(Json(notifications::settings(&state, &caller).await?))
}

/// `PUT /v1/notifications/settings`: which kinds come by email.
pub async fn set_choices(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(choices): ApiJson<SetEmailChoices>,
) -> Result<Json<NotificationSettings>> {
    Ok(Json(
        notifications::set_choices(&state, &caller, choices).await?,
    ))
}

/// `PUT /v1/notifications/email`: the address, unverified until its link is opened.
pub async fn set_email(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<SetNotificationEmail>,
) -> Result<Json<NotificationSettings>> {
    Ok(Json(
        notifications::set_email(&state, &caller, request).await?,
    ))
}

/// `DELETE /v1/notifications/email`.
pub async fn remove_email(State(state): State<AppState>, caller: Caller) -> Result<StatusCode> {
    notifications::remove_email(&state, &caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/notifications/calendar`: a new secret feed address.
pub async fn new_calendar(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Created<CalendarFeed>> {
    Ok(Created(notifications::new_calendar(&state, &caller).await?))
}

/// `DELETE /v1/notifications/calendar`.
pub async fn remove_calendar(State(state): State<AppState>, caller: Caller) -> Result<StatusCode> {
    notifications::remove_calendar(&state, &caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/email/verify`: no sign-in, the code is the proof.
pub async fn verify_email(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<VerifyEmail>,
) -> Result<StatusCode> {
    notifications::verify_email(&state, request).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/unsubscribe/{token}`: RFC 8058 one-click (the mail client posts
/// `List-Unsubscribe=One-Click`; any body is ignored), or the page's button.
pub async fn unsubscribe(
    State(state): State<AppState>,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> Result<StatusCode> {
    notifications::unsubscribe(&state, &token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/calendar/{token}`: the feed a calendar app subscribes to (the token is the secret).
pub async fn calendar(
    State(state): State<AppState>,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> Result<axum::response::Response> {
    use axum::response::IntoResponse;
    let text = notifications::calendar(&state, &token).await?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/calendar; charset=utf-8",
            ),
            (axum::http::header::CACHE_CONTROL, "private, no-store"),
        ],
        text,
    )
        .into_response())
}
