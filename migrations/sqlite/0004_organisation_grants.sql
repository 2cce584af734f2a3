-- A grant to an organisation names the roles and the members it covers (comma-separated; both
-- empty for a grant to one party, as before organisations existed).
ALTER TABLE grants ADD COLUMN roles TEXT NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN members TEXT NOT NULL DEFAULT '';
-- A member's log entries name the organisation they acted for and their role.
ALTER TABLE access_log ADD COLUMN organisation_id TEXT;
ALTER TABLE access_log ADD COLUMN role TEXT;
