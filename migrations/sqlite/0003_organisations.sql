-- no-transaction
-- Organisations and their people: an employer or a practice is a party, and each person who
-- acts for it is a party of kind 'member' with a membership and a role. SQLite cannot change a
-- CHECK constraint in place, so the parties table is rebuilt the way SQLite documents
-- (https://sqlite.org/lang_altertable.html#otheralter): foreign keys off, and the whole change
-- in one transaction of its own. Every step can run again, so a crash between this script's
-- commit and the migrator's note of it only repeats it.
PRAGMA foreign_keys = OFF;
BEGIN;
DROP TABLE IF EXISTS parties_rebuilt;
CREATE TABLE parties_rebuilt (
    id                  TEXT PRIMARY KEY,
    kind                TEXT NOT NULL CHECK (kind IN ('employee', 'employer', 'professional', 'admin', 'practice', 'member')),
    display_name        TEXT NOT NULL,
    profession          TEXT,
    registration_body   TEXT,
    registration_number TEXT,
    created_at          INTEGER NOT NULL
);
INSERT INTO parties_rebuilt (id, kind, display_name, profession, registration_body, registration_number, created_at)
    SELECT id, kind, display_name, profession, registration_body, registration_number, created_at FROM parties;
DROP TABLE parties;
ALTER TABLE parties_rebuilt RENAME TO parties;

-- A person acts for one organisation. A removed member keeps the row, with removed_at set, so
-- the log can still say who they were; their access ends on their next request.
CREATE TABLE IF NOT EXISTS memberships (
    member_id       TEXT PRIMARY KEY REFERENCES parties (id),
    organisation_id TEXT NOT NULL REFERENCES parties (id),
    role            TEXT NOT NULL,
    joined_at       INTEGER NOT NULL,
    removed_at      INTEGER
);
CREATE INDEX IF NOT EXISTS memberships_organisation ON memberships (organisation_id);

-- One-time invitation codes. Only the SHA-256 of a code is kept: it is shown once.
CREATE TABLE IF NOT EXISTS invitations (
    id              TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES parties (id),
    role            TEXT NOT NULL,
    code_hash       TEXT NOT NULL UNIQUE,
    created_by      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    redeemed_at     INTEGER,
    redeemed_by     TEXT,
    revoked_at      INTEGER
);
CREATE INDEX IF NOT EXISTS invitations_organisation ON invitations (organisation_id);
PRAGMA foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;
