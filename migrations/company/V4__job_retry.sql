-- Company database, schema version 4: jobs that failed for the machine's sake (a full disk,
-- a locked or failing database) wait and run again instead of failing for good.
--
-- run_after: a pending job is not claimed before this time (NULL: at once).
-- retries:   how many times the job was put back for such a failure; the wait doubles with
--            each (capped), and these retries do not count as interrupted attempts.
ALTER TABLE processing_jobs ADD COLUMN run_after TEXT
    CHECK (run_after IS NULL OR run_after LIKE '____-__-__T__:__:__%');
ALTER TABLE processing_jobs ADD COLUMN retries INTEGER NOT NULL DEFAULT 0 CHECK (retries >= 0);
