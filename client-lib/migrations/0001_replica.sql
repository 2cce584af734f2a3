-- The replica's tables. `IF NOT EXISTS`: replica files made before migrations held these
-- tables already (created at open), and keep them as they are.

-- One row per passport: where its sync stands and what the server last signed.
CREATE TABLE IF NOT EXISTS replica_passports (
    passport_id     TEXT PRIMARY KEY,
    -- the grant the replica syncs under; NULL for the owner
    grant_id        TEXT,
    -- the `since` of the next sync
    cursor_seq      INTEGER NOT NULL,
    -- the ETag of the last complete answer, sent as If-None-Match
    etag            TEXT,
    -- the latest server-signed checkpoint, its claims, and the server key that verified it
    checkpoint      TEXT NOT NULL,
    checkpoint_seq  INTEGER NOT NULL,
    checkpoint_head TEXT NOT NULL,
    checkpoint_jwk  TEXT NOT NULL,
    -- the history hash recomputed locally, while every version so far was seen
    chain_seq       INTEGER,
    chain_head      TEXT,
    synced_at       INTEGER NOT NULL
);

-- Every version received, byte for byte as its author signed it.
CREATE TABLE IF NOT EXISTS replica_versions (
    passport_id TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    version     INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    section     TEXT NOT NULL,
    author      TEXT NOT NULL,
    hash        TEXT NOT NULL,
    deleted     INTEGER NOT NULL,
    jws         TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (passport_id, record_id, version),
    UNIQUE (passport_id, seq)
);

-- The authors as their signatures were checked (with their keys, for `verify_all`).
CREATE TABLE IF NOT EXISTS replica_parties (
    passport_id TEXT NOT NULL,
    party_id    TEXT NOT NULL,
    party       TEXT NOT NULL,
    PRIMARY KEY (passport_id, party_id)
);
