-- Organisations and their people: an employer or a practice is a party, and each person who
-- acts for it is a party of kind 'member' with a membership and a role.
ALTER TABLE parties DROP CONSTRAINT parties_kind_check;
ALTER TABLE parties ADD CONSTRAINT parties_kind_check
    CHECK (kind IN ('employee', 'employer', 'professional', 'admin', 'practice', 'member'));

-- A person acts for one organisation. A removed member keeps the row, with removed_at set, so
-- the log can still say who they were; their access ends on their next request.
CREATE TABLE memberships (
    member_id       TEXT PRIMARY KEY REFERENCES parties (id),
    organisation_id TEXT NOT NULL REFERENCES parties (id),
    role            TEXT NOT NULL,
    joined_at       BIGINT NOT NULL,
    removed_at      BIGINT
);
CREATE INDEX memberships_organisation ON memberships (organisation_id);

-- One-time invitation codes. Only the SHA-256 of a code is kept: it is shown once.
CREATE TABLE invitations (
    id              TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES parties (id),
    role            TEXT NOT NULL,
    code_hash       TEXT NOT NULL UNIQUE,
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    redeemed_at     BIGINT,
    redeemed_by     TEXT,
    revoked_at      BIGINT
);
CREATE INDEX invitations_organisation ON invitations (organisation_id);
