-- Organisations and their people: an employer or a practice is a party, and each person who
-- acts for it is a party of kind 'member' with a membership and a role.
--
-- The parties' kind CHECK gains 'practice' and 'member'. SQLite cannot alter a CHECK, and the
-- usual rebuild (create, copy, drop, rename) needs foreign keys off, which cannot be switched
-- inside the transaction every migration runs in. So this uses SQLite's documented way to
-- change a CHECK constraint (https://sqlite.org/lang_altertable.html#otheralter): edit the
-- table's definition in sqlite_schema, then reload the schema. Widening a CHECK leaves every
-- stored row valid, and it is all in this migration's transaction: it applies whole or not at
-- all. The probe row below proves the new definition is in force before the migration counts.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql, '''professional'', ''admin'')',
                     '''professional'', ''admin'', ''practice'', ''member'')')
 WHERE type = 'table' AND name = 'parties';
PRAGMA writable_schema = RESET;
INSERT INTO parties (id, kind, display_name, created_at) VALUES ('migration-0003-probe', 'member', 'probe', 0);
DELETE FROM parties WHERE id = 'migration-0003-probe';

-- A person acts for one organisation. A removed member keeps the row, with removed_at set, so
-- the log can still say who they were; their access ends on their next request.
CREATE TABLE memberships (
    member_id       TEXT PRIMARY KEY REFERENCES parties (id),
    organisation_id TEXT NOT NULL REFERENCES parties (id),
    role            TEXT NOT NULL,
    joined_at       INTEGER NOT NULL,
    removed_at      INTEGER
);
CREATE INDEX memberships_organisation ON memberships (organisation_id);

-- One-time invitation codes. Only the SHA-256 of a code is kept: it is shown once.
CREATE TABLE invitations (
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
CREATE INDEX invitations_organisation ON invitations (organisation_id);
