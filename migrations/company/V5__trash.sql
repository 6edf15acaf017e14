-- Company database, schema version 5: the trash. Deleting a document, a conversation or a
-- saved report sets deleted_at (and who did it) instead of removing the row: the row is
-- hidden from every list, get and search at once, restorable for the retention period
-- (30 days by default), then purged with everything that hangs off it (chunks, jobs,
-- messages, stored files). Usage rows are never purged: they keep the bill, with
-- conversation_id set to NULL when their conversation goes.
ALTER TABLE documents ADD COLUMN deleted_at TEXT
    CHECK (deleted_at IS NULL OR deleted_at LIKE '____-__-__T__:__:__%');
ALTER TABLE documents ADD COLUMN deleted_by TEXT;
ALTER TABLE conversations ADD COLUMN deleted_at TEXT
    CHECK (deleted_at IS NULL OR deleted_at LIKE '____-__-__T__:__:__%');
ALTER TABLE conversations ADD COLUMN deleted_by TEXT;
ALTER TABLE saved_reports ADD COLUMN deleted_at TEXT
    CHECK (deleted_at IS NULL OR deleted_at LIKE '____-__-__T__:__:__%');
ALTER TABLE saved_reports ADD COLUMN deleted_by TEXT;

-- The trash is small next to the live rows: partial indexes keep "what is in the trash"
-- and "what is due for purging" cheap, and cost nothing for live rows.
CREATE INDEX idx_documents_trash ON documents (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX idx_conversations_trash ON conversations (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX idx_saved_reports_trash ON saved_reports (deleted_at) WHERE deleted_at IS NOT NULL;

-- The chunks of trashed documents: what keyword search leaves out when it has no list of
-- allowed documents (an admin's search). Empty, it costs one probe of idx_documents_trash.
CREATE VIEW trashed_chunks AS
    SELECT c.id FROM document_chunks c JOIN documents d ON d.id = c.document_id
     WHERE d.deleted_at IS NOT NULL;
