-- Notifications (docs/PROTOCOL.md section 16). A notification is written in the transaction of
-- the change that causes it (a transactional outbox): a change that rolls back notifies nobody.
-- `facts` holds what the words are made from (an organisation's or a person's name, a date),
-- never health data. A reminder has a `dedupe_key` (kind, subject, due date), so that however
-- many instances scan, each reminder is written once.
--
-- The email of a notification is decided when it is written (`email_to`: the recipient's
-- verified address, if they take this kind by email) and is pending until sent or parked. An
-- instance claims a pending email by setting `email_lease_until` and its own `email_claim` (on
-- PostgreSQL with FOR UPDATE SKIP LOCKED); an email whose lease ran out while unsent is claimed
-- again, and an instance sends an email only after renewing the lease under its own claim. A notification with no
-- recipient is an email to an address alone (an invitation to someone not yet here).
CREATE TABLE notifications (
    id                TEXT PRIMARY KEY,
    recipient_id      TEXT REFERENCES parties (id),
    kind              TEXT NOT NULL,
    facts             TEXT NOT NULL,
    dedupe_key        TEXT UNIQUE,
    created_at        BIGINT NOT NULL,
    read_at           BIGINT,
    email_to          TEXT,
    email_attempts    BIGINT NOT NULL DEFAULT 0,
    email_next_at     BIGINT,
    email_lease_until BIGINT,
    email_claim       TEXT,
    email_sent_at     BIGINT,
    email_parked_at   BIGINT,
    email_error       TEXT
);
CREATE INDEX notifications_by_recipient ON notifications (recipient_id, created_at);
CREATE INDEX notifications_emails_due ON notifications (email_next_at)
    WHERE email_to IS NOT NULL AND email_sent_at IS NULL AND email_parked_at IS NULL;

-- A person's email address for notifications, verified by a one-time link (the code's hash
-- here, the code only in the email). `unsubscribe_secret` keys the one-click unsubscribe links
-- of their emails; a new address gets a new one.
CREATE TABLE email_addresses (
    party_id           TEXT PRIMARY KEY REFERENCES parties (id),
    address            TEXT NOT NULL,
    verified_at        BIGINT,
    code_hash          TEXT UNIQUE,
    code_expires_at    BIGINT,
    unsubscribe_secret TEXT NOT NULL,
    updated_at         BIGINT NOT NULL
);

-- The kinds a person chose not to receive by email (every kind is on by default once an address
-- is verified; security alerts cannot be turned off).
CREATE TABLE email_opt_outs (
    party_id TEXT NOT NULL REFERENCES parties (id),
    kind     TEXT NOT NULL,
    PRIMARY KEY (party_id, kind)
);

-- A person's calendar feed: the SHA-256 of the secret in its URL.
CREATE TABLE calendar_feeds (
    party_id   TEXT PRIMARY KEY REFERENCES parties (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

-- The review date of each live adjustment, kept with the version that sets it (the date alone:
-- the reminders and the calendar need nothing of the adjustment's text). `agreed_by` is the
-- organisation whose member agreed the adjustment, whose members covered by a live grant are
-- reminded too.
CREATE TABLE review_dates (
    passport_id TEXT NOT NULL REFERENCES passports (id),
    record_id   TEXT NOT NULL,
    review_on   TEXT NOT NULL,
    set_at      BIGINT NOT NULL,
    agreed_by   TEXT REFERENCES parties (id),
    PRIMARY KEY (passport_id, record_id)
);
CREATE INDEX review_dates_by_date ON review_dates (review_on);
