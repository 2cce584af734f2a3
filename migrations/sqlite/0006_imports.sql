-- Passports moved here from another server (docs/BUNDLE.md). The authors of an imported
-- passport's versions who are not parties here become external parties: origin is the public
-- URL of the server they are registered at (NULL for every party registered here). Their keys,
-- as the bundle carried them, are kept apart from party_keys: a key in external_keys never
-- signs anyone in, and the same key may be both a party's own here and, under its old party
-- id, an external party's (an owner who moved keeps their key).
ALTER TABLE parties ADD COLUMN origin TEXT;

CREATE TABLE external_keys (
    party_id   TEXT NOT NULL REFERENCES parties (id),
    kid        TEXT NOT NULL,
    jwk        TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    PRIMARY KEY (party_id, kid)
);
