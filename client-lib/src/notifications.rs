//! Notifications as a client sees them: the list and unread count, the email address and which
//! kinds come by email, the calendar feed; and the two links an email carries (verification,
//! one-click unsubscribe), which work without signing in.

use std::collections::BTreeMap;

use reqwest::Method;
use wp_schemas::api::{
    CalendarFeed, NotificationKind, NotificationPage, NotificationSettings, SetEmailChoices,
    SetNotificationEmail, VerifyEmail,
};
use wp_schemas::paths;

use crate::client::Client;
use crate::error::{ClientError, Result};

impl Client {
    /// This party's notifications, newest first (50 at a time; `before` is the previous page's
    /// `next_before`), with the unread count.
    pub async fn notifications(&self, before: Option<&str>) -> Result<NotificationPage> {
        let path = match before {
            Some(id) => format!("{}?before={id}", paths::NOTIFICATIONS),
            None => paths::NOTIFICATIONS.to_owned(),
        };
        self.call(Method::GET, &path, None, None::<&()>).await
    }

    /// Marks one notification read, or every one with None.
    pub async fn mark_notifications_read(&self, id: Option<&str>) -> Result<()> {
        let path = match id {
            Some(id) => paths::notification_read(id),
            None => paths::NOTIFICATIONS_READ_ALL.to_owned(),
        };
        self.send(Method::POST, &path, None, None::<&()>, None)
            .await?;
        Ok(())
    }

    /// The email address, which kinds come by email, and whether a calendar feed exists.
    pub async fn notification_settings(&self) -> Result<NotificationSettings> {
        self.call(Method::GET, paths::NOTIFICATION_SETTINGS, None, None::<&()>)
            .await
    }

    /// Turns kinds on or off by email (a security alert cannot be turned off).
    pub async fn set_email_choices(
        &self,
        email: BTreeMap<NotificationKind, bool>,
    ) -> Result<NotificationSettings> {
        let body = SetEmailChoices { email };
        self.call(Method::PUT, paths::NOTIFICATION_SETTINGS, None, Some(&body))
            .await
    }

    /// Sets the address notifications go to; the server emails it a verification link.
    pub async fn set_notification_email(&self, address: &str) -> Result<NotificationSettings> {
        let body = SetNotificationEmail {
            address: address.to_owned(),
        };
        self.call(Method::PUT, paths::NOTIFICATION_EMAIL, None, Some(&body))
            .await
    }

    /// Removes the address: no more email.
    pub async fn remove_notification_email(&self) -> Result<()> {
        self.send(
            Method::DELETE,
            paths::NOTIFICATION_EMAIL,
            None,
            None::<&()>,
            None,
        )
        .await?;
        Ok(())
    }

    /// Verifies an address with the code from its verification link (the part after
    /// `#/email/verify/`). Needs no sign-in.
    pub async fn verify_notification_email(&self, code: &str) -> Result<()> {
        let url = format!("{}{}", self.base_url(), paths::EMAIL_VERIFY);
        let body = VerifyEmail {
            code: code.to_owned(),
        };
        let response = self.http().post(url).json(&body).send().await?;
        if !response.status().is_success() {
            return Err(Client::problem(response).await);
        }
        Ok(())
    }

    /// Follows an email's `List-Unsubscribe` URL as a mail client does (RFC 8058).
    pub async fn unsubscribe(&self, url: &str) -> Result<()> {
        if !url.starts_with(self.base_url()) {
            return Err(ClientError::Other(format!(
                "{url} is not an address of this server"
            )));
        }
        let response = self
            .http()
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(Client::problem(response).await);
        }
        Ok(())
    }

    /// A new secret address for this party's calendar feed (the old one stops working).
    pub async fn new_calendar_feed(&self) -> Result<CalendarFeed> {
        self.call(
            Method::POST,
            paths::NOTIFICATION_CALENDAR,
            None,
            None::<&()>,
        )
        .await
    }

    /// Stops this party's calendar feed.
    pub async fn remove_calendar_feed(&self) -> Result<()> {
        self.send(
            Method::DELETE,
            paths::NOTIFICATION_CALENDAR,
            None,
            None::<&()>,
            None,
        )
        .await?;
        Ok(())
    }

    /// The calendar at a feed address (iCalendar text), as a calendar app fetches it.
    pub async fn calendar(&self, url: &str) -> Result<String> {
        let response = self.http().get(url).send().await?;
        if !response.status().is_success() {
            return Err(Client::problem(response).await);
        }
        Ok(response.text().await?)
    }
}
