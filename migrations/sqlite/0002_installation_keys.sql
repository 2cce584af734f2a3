-- The key ids this database depends on: every master key that may have wrapped a data key here
-- and every token-signing key the server has used with it. The server refuses to start without
-- the master keys, and with a signing key file that holds none of the signing keys, so a lost or
-- foreign key file is never silently replaced.
CREATE TABLE installation_keys (
    kid         TEXT PRIMARY KEY,
    purpose     TEXT NOT NULL CHECK (purpose IN ('master', 'signing')),
    recorded_at INTEGER NOT NULL
);
