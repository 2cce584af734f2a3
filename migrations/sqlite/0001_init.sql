-- Work Passport schema, SQLite dialect. Times are seconds since the epoch (INTEGER).

CREATE TABLE parties (
    id                  TEXT PRIMARY KEY,
    kind                TEXT NOT NULL CHECK (kind IN ('employee', 'employer', 'professional', 'admin')),
    display_name        TEXT NOT NULL,
    profession          TEXT,
    registration_body   TEXT,
    registration_number TEXT,
    created_at          INTEGER NOT NULL
);

-- A key belongs to exactly one party: kid (the RFC 7638 thumbprint) is unique.
CREATE TABLE party_keys (
    kid        TEXT PRIMARY KEY,
    party_id   TEXT NOT NULL REFERENCES parties (id),
    jwk        TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX party_keys_party ON party_keys (party_id);

-- Assertion and DPoP proof ids seen, kept until they could no longer be accepted anyway.
CREATE TABLE used_jtis (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX used_jtis_expiry ON used_jtis (expires_at);

CREATE TABLE passports (
    id         TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL REFERENCES parties (id),
    -- sync cursor: sequence number of the latest version, and the history hash at it
    seq        INTEGER NOT NULL DEFAULT 0,
    head       TEXT NOT NULL,
    -- access-log chain head
    log_seq    INTEGER NOT NULL DEFAULT 0,
    log_head   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    erased_at  INTEGER
);
-- One live passport per employee; an erased one does not block a new one.
CREATE UNIQUE INDEX passports_one_per_owner ON passports (owner_id) WHERE erased_at IS NULL;

-- The passport's data key, wrapped by a master key. Deleting this row is crypto-shredding.
CREATE TABLE passport_keys (
    passport_id TEXT PRIMARY KEY REFERENCES passports (id),
    master_kid  TEXT NOT NULL,
    wrapped_key BLOB NOT NULL
);

CREATE TABLE records (
    passport_id  TEXT NOT NULL REFERENCES passports (id),
    id           TEXT NOT NULL,
    section      TEXT NOT NULL,
    head_version INTEGER NOT NULL,
    head_hash    TEXT NOT NULL,
    deleted      BOOLEAN NOT NULL,
    PRIMARY KEY (passport_id, id)
);

-- Every version, kept for ever (until erasure). `sealed` is the author's JWS encrypted with the
-- passport's data key; the plaintext JWS never touches the disk.
CREATE TABLE record_versions (
    passport_id TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    version     INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    section     TEXT NOT NULL,
    author_id   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    deleted     BOOLEAN NOT NULL,
    sealed      BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (passport_id, record_id, version),
    UNIQUE (passport_id, seq)
);

CREATE TABLE grants (
    id           TEXT PRIMARY KEY,
    passport_id  TEXT NOT NULL REFERENCES passports (id),
    grantor_id   TEXT NOT NULL,
    grantee_id   TEXT NOT NULL REFERENCES parties (id),
    scopes       TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    consent_text TEXT NOT NULL,
    starts_at    INTEGER NOT NULL,
    ends_at      INTEGER NOT NULL,
    revoked_at   INTEGER,
    created_at   INTEGER NOT NULL
);
CREATE INDEX grants_passport ON grants (passport_id);
CREATE INDEX grants_grantee ON grants (grantee_id);

CREATE TABLE access_log (
    passport_id TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    actor_id    TEXT,
    grant_id    TEXT,
    action      TEXT NOT NULL,
    sections    TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    PRIMARY KEY (passport_id, seq)
);
