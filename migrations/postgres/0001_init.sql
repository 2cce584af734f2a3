-- Work Passport schema, PostgreSQL dialect. Times are seconds since the epoch (BIGINT).

CREATE TABLE parties (
    id                  TEXT PRIMARY KEY,
    kind                TEXT NOT NULL CHECK (kind IN ('employee', 'employer', 'professional', 'admin')),
    display_name        TEXT NOT NULL,
    profession          TEXT,
    registration_body   TEXT,
    registration_number TEXT,
    created_at          BIGINT NOT NULL
);

-- A key belongs to exactly one party: kid (the RFC 7638 thumbprint) is unique.
CREATE TABLE party_keys (
    kid        TEXT PRIMARY KEY,
    party_id   TEXT NOT NULL REFERENCES parties (id),
    jwk        TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX party_keys_party ON party_keys (party_id);

-- Assertion and DPoP proof ids seen, kept until they could no longer be accepted anyway.
CREATE TABLE used_jtis (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX used_jtis_expiry ON used_jtis (expires_at);

CREATE TABLE passports (
    id         TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL REFERENCES parties (id),
    -- sync cursor: sequence number of the latest version, and the history hash at it
    seq        BIGINT NOT NULL DEFAULT 0,
    head       TEXT NOT NULL,
    -- access-log chain head
    log_seq    BIGINT NOT NULL DEFAULT 0,
    log_head   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    erased_at  BIGINT
);
-- One live passport per employee; an erased one does not block a new one.
CREATE UNIQUE INDEX passports_one_per_owner ON passports (owner_id) WHERE erased_at IS NULL;

-- The passport's data key, wrapped by a master key. Deleting this row is crypto-shredding.
CREATE TABLE passport_keys (
    passport_id TEXT PRIMARY KEY REFERENCES passports (id),
    master_kid  TEXT NOT NULL,
    wrapped_key BYTEA NOT NULL
);

CREATE TABLE records (
    passport_id  TEXT NOT NULL REFERENCES passports (id),
    id           TEXT NOT NULL,
    section      TEXT NOT NULL,
    head_version BIGINT NOT NULL,
    head_hash    TEXT NOT NULL,
    deleted      BOOLEAN NOT NULL,
    PRIMARY KEY (passport_id, id)
);

-- Every version, kept for ever (until erasure). `sealed` is the author's JWS encrypted with the
-- passport's data key; the plaintext JWS never touches the disk.
CREATE TABLE record_versions (
    passport_id TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    version     BIGINT NOT NULL,
    seq         BIGINT NOT NULL,
    section     TEXT NOT NULL,
    author_id   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    deleted     BOOLEAN NOT NULL,
    sealed      BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
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
    starts_at    BIGINT NOT NULL,
    ends_at      BIGINT NOT NULL,
    revoked_at   BIGINT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX grants_passport ON grants (passport_id);
CREATE INDEX grants_grantee ON grants (grantee_id);

CREATE TABLE access_log (
    passport_id TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL,
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
