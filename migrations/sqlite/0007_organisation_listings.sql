-- How employees find an organisation to share with (docs/PROTOCOL.md section 3.6): its share
-- code, which its members show and anyone signed in can resolve, and, if the organisation
-- chooses to be listed (listed_at set), its entry in the directory of names, with a place and
-- a line about it that tell two organisations of the same name apart. A row is made the first
-- time an organisation's listing is read or set (so organisations made before this migration
-- get a share code too); an organisation without a row is not listed.
CREATE TABLE organisation_listings (
    organisation_id TEXT PRIMARY KEY REFERENCES parties (id),
    share_code      TEXT NOT NULL UNIQUE,
    listed_at       INTEGER,
    place           TEXT,
    about           TEXT,
    updated_at      INTEGER NOT NULL,
    updated_by      TEXT
);
