-- primary.db, schema version 2: what the integrity checks found about each company's database.
--
-- integrity_checked_at: the last check (the background scrub, migrate-all, a backup).
-- damaged_at, damage:   set when a check (or SQLITE_CORRUPT at run time) found the database
--                       damaged; writes are refused until `silo restore` puts a good copy back.
ALTER TABLE companies ADD COLUMN integrity_checked_at TEXT;
ALTER TABLE companies ADD COLUMN damaged_at TEXT;
ALTER TABLE companies ADD COLUMN damage TEXT;
