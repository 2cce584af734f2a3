-- Access requests: an organisation's member asks an employee for access; the employee approves
-- (which makes a grant), narrows, or declines. Only the SHA-256 of the one-time code is kept.
-- roles is comma-separated; scopes is JSON, as in grants.
CREATE TABLE access_requests (
    id              TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES parties (id),
    requested_by    TEXT NOT NULL REFERENCES parties (id),
    roles           TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    duration_days   BIGINT NOT NULL,
    employee_id     TEXT,
    code_hash       TEXT NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    decided_at      BIGINT,
    decision        TEXT,
    grant_id        TEXT
);
CREATE INDEX access_requests_organisation ON access_requests (organisation_id);
