-- Company database, schema version 1: one of these files per company.
--
-- Conventions (shared by every table below):
-- * `id INTEGER PRIMARY KEY` is the internal rowid used for joins; `uuid` is the only id the
--   API ever shows (invariant 7), so integer ids never leak sequence information.
-- * Users live in primary.db, where no foreign key can reach them: user columns hold the
--   user's UUID as TEXT and are indexed so per-user filters and ownership checks stay cheap.
-- * Times are RFC 3339 UTC text ('2025-01-31T12:00:00.000Z'). The LIKE checks reject
--   SQLite's space-separated datetime('now') form, which would sort before 'T' and silently
--   break created_at range queries.
-- * Tables are STRICT so a wrongly typed bind fails loudly instead of being stored as-is.
-- * JSON lives in TEXT columns guarded by json_valid(); columns the code reads as lists
--   must also be arrays, so deserialising them into Vec<_> cannot fail later.

------------------------------------------------------------------------------------------
-- Documents and their chunks
------------------------------------------------------------------------------------------

CREATE TABLE documents (
    id                   INTEGER PRIMARY KEY,
    uuid                 TEXT    NOT NULL UNIQUE,
    filename             TEXT    NOT NULL CHECK (filename <> ''),
    -- Unique so deleting one document can never remove a file another row still uses.
    file_path            TEXT    NOT NULL UNIQUE CHECK (file_path <> ''),
    file_type            TEXT,
    mime_type            TEXT,
    file_size            INTEGER CHECK (file_size IS NULL OR file_size >= 0),
    -- Lower-case hex digest, used to spot duplicate uploads.
    sha256               TEXT    CHECK (sha256 IS NULL OR (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*')),
    title                TEXT,
    description          TEXT,
    category             TEXT,
    tags                 TEXT    CHECK (tags IS NULL OR (json_valid(tags) AND json_type(tags) = 'array')),
    -- 'company' documents are readable by everyone in the company, 'user' ones by the uploader.
    scope                TEXT    NOT NULL DEFAULT 'user' CHECK (scope IN ('company', 'user')),
    uploaded_by          TEXT    NOT NULL,
    status               TEXT    NOT NULL DEFAULT 'pending'
                                 CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    error_message        TEXT,
    num_chunks           INTEGER NOT NULL DEFAULT 0 CHECK (num_chunks >= 0),
    num_tokens           INTEGER NOT NULL DEFAULT 0 CHECK (num_tokens >= 0),
    -- LLM-generated metadata (seed 001).
    auto_summary         TEXT,
    auto_keywords        TEXT    CHECK (auto_keywords IS NULL OR (json_valid(auto_keywords) AND json_type(auto_keywords) = 'array')),
    auto_topics          TEXT    CHECK (auto_topics IS NULL OR (json_valid(auto_topics) AND json_type(auto_topics) = 'array')),
    content_type         TEXT,
    summarization_model  TEXT,
    summarization_tokens INTEGER CHECK (summarization_tokens IS NULL OR summarization_tokens >= 0),
    summarized_at        TEXT    CHECK (summarized_at LIKE '____-__-__T__:__:__%'),
    uploaded_at          TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                                 CHECK (uploaded_at LIKE '____-__-__T__:__:__%'),
    updated_at           TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                                 CHECK (updated_at LIKE '____-__-__T__:__:__%'),
    processed_at         TEXT    CHECK (processed_at LIKE '____-__-__T__:__:__%')
) STRICT;

-- Every list filter also sorts newest first, so each filter index carries uploaded_at and
-- the ORDER BY ... LIMIT page is read straight off the index without a sort.
CREATE INDEX idx_documents_uploaded_by ON documents (uploaded_by, uploaded_at);
CREATE INDEX idx_documents_scope       ON documents (scope, uploaded_at);
CREATE INDEX idx_documents_status      ON documents (status, uploaded_at);
CREATE INDEX idx_documents_category    ON documents (category, uploaded_at);
CREATE INDEX idx_documents_uploaded_at ON documents (uploaded_at);
CREATE INDEX idx_documents_sha256      ON documents (sha256) WHERE sha256 IS NOT NULL;

CREATE TABLE document_chunks (
    -- AUTOINCREMENT: the HNSW manifest records the highest chunk rowid already indexed and
    -- deleted chunks stay as tombstones in the index. A plain rowid would be reused after
    -- the newest chunks are deleted, and the index would then serve the old vector for a
    -- new chunk. AUTOINCREMENT guarantees a rowid is never handed out twice.
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid        TEXT    NOT NULL UNIQUE,
    document_id INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    content     TEXT    NOT NULL,
    chunk_index INTEGER NOT NULL CHECK (chunk_index >= 0),
    page_number INTEGER CHECK (page_number IS NULL OR page_number >= 1),
    section     TEXT,
    token_count INTEGER CHECK (token_count IS NULL OR token_count >= 0),
    -- Little-endian f32 vector. SQLite is the source of truth (invariant 3): the HNSW files
    -- are rebuilt from this column. NULL until the chunk is embedded.
    embedding   BLOB    CHECK (embedding IS NULL OR (length(embedding) > 0 AND length(embedding) % 4 = 0)),
    created_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                        CHECK (created_at LIKE '____-__-__T__:__:__%'),
    -- Its index (document_id first) also serves the foreign key, so the cascade from
    -- documents and "chunks of a document in order" need no separate index.
    UNIQUE (document_id, chunk_index)
) STRICT;

-- Keyword search. External content: the text is stored once, in document_chunks, and the
-- FTS rowid is the chunk id, so hits join back to chunks (and the vector index) directly.
CREATE VIRTUAL TABLE document_chunks_fts USING fts5 (
    content,
    content = 'document_chunks',
    content_rowid = 'id',
    tokenize = 'porter unicode61'
);

-- An external-content index is only as good as these triggers: they must see every change.
-- Deletes go through the 'delete' command with the old text, which FTS5 needs in order to
-- remove the old tokens (it has no copy of its own). Cascaded chunk deletes fire them too.
CREATE TRIGGER document_chunks_fts_ai AFTER INSERT ON document_chunks BEGIN
    INSERT INTO document_chunks_fts (rowid, content) VALUES (NEW.id, NEW.content);
END;

CREATE TRIGGER document_chunks_fts_ad AFTER DELETE ON document_chunks BEGIN
    INSERT INTO document_chunks_fts (document_chunks_fts, rowid, content)
    VALUES ('delete', OLD.id, OLD.content);
END;

CREATE TRIGGER document_chunks_fts_au AFTER UPDATE OF content ON document_chunks BEGIN
    INSERT INTO document_chunks_fts (document_chunks_fts, rowid, content)
    VALUES ('delete', OLD.id, OLD.content);
    INSERT INTO document_chunks_fts (rowid, content) VALUES (NEW.id, NEW.content);
END;

------------------------------------------------------------------------------------------
-- Conversations, messages, agent logs
------------------------------------------------------------------------------------------

CREATE TABLE conversations (
    id                    INTEGER PRIMARY KEY,
    uuid                  TEXT NOT NULL UNIQUE,
    title                 TEXT,
    user_id               TEXT NOT NULL,
    llm_provider          TEXT,
    llm_model             TEXT,
    -- Document UUIDs that scope retrieval; NULL means every document the user may read.
    selected_document_ids TEXT CHECK (selected_document_ids IS NULL
                                      OR (json_valid(selected_document_ids) AND json_type(selected_document_ids) = 'array')),
    created_at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                               CHECK (created_at LIKE '____-__-__T__:__:__%'),
    -- Moves forward with each new message (trigger below), so lists sort by activity.
    updated_at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                               CHECK (updated_at LIKE '____-__-__T__:__:__%')
) STRICT;

-- "My conversations, most recent first" is the only list; it is read off this index.
CREATE INDEX idx_conversations_user_updated ON conversations (user_id, updated_at);

CREATE TABLE messages (
    id                     INTEGER PRIMARY KEY,
    uuid                   TEXT    NOT NULL UNIQUE,
    conversation_id        INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role                   TEXT    NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content                TEXT    NOT NULL,
    -- RAG fields (seed 001 documents their JSON shapes).
    retrieved_documents    TEXT    CHECK (retrieved_documents IS NULL OR json_valid(retrieved_documents)),
    sources                TEXT    CHECK (sources IS NULL OR json_valid(sources)),
    confidence_score       REAL    CHECK (confidence_score IS NULL OR (confidence_score >= 0.0 AND confidence_score <= 1.0)),
    -- Stored rather than derived: the threshold (0.30 today) is configuration and may
    -- change, but the warning a user was shown must not.
    low_confidence_warning INTEGER NOT NULL DEFAULT 0 CHECK (low_confidence_warning IN (0, 1)),
    reasoning_chain        TEXT    CHECK (reasoning_chain IS NULL OR json_valid(reasoning_chain)),
    grounding_evidence     TEXT    CHECK (grounding_evidence IS NULL OR json_valid(grounding_evidence)),
    agents_involved        TEXT    CHECK (agents_involved IS NULL OR (json_valid(agents_involved) AND json_type(agents_involved) = 'array')),
    created_at             TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                                   CHECK (created_at LIKE '____-__-__T__:__:__%')
) STRICT;

-- Serves the cascade from conversations and the paginated history in order.
CREATE INDEX idx_messages_conversation_created ON messages (conversation_id, created_at);

CREATE TABLE agent_logs (
    id             INTEGER PRIMARY KEY,
    uuid           TEXT    NOT NULL UNIQUE,
    -- NULL for agent runs outside a conversation (e.g. report generation).
    message_id     INTEGER REFERENCES messages (id) ON DELETE CASCADE,
    -- Who triggered the run, for ownership checks on logs without a message.
    user_id        TEXT,
    agent_name     TEXT    NOT NULL CHECK (agent_name <> ''),
    agent_type     TEXT,
    action         TEXT,
    input_data     TEXT    CHECK (input_data IS NULL OR json_valid(input_data)),
    output_data    TEXT    CHECK (output_data IS NULL OR json_valid(output_data)),
    execution_time REAL    CHECK (execution_time IS NULL OR execution_time >= 0.0), -- seconds
    tokens_used    INTEGER CHECK (tokens_used IS NULL OR tokens_used >= 0),
    status         TEXT    NOT NULL DEFAULT 'success' CHECK (status IN ('success', 'failed', 'timeout')),
    error_message  TEXT,
    reasoning      TEXT,
    confidence     REAL    CHECK (confidence IS NULL OR (confidence >= 0.0 AND confidence <= 1.0)),
    created_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                           CHECK (created_at LIKE '____-__-__T__:__:__%')
) STRICT;

-- The API filters by message, agent type or status and lists newest first.
CREATE INDEX idx_agent_logs_message_created ON agent_logs (message_id, created_at);
CREATE INDEX idx_agent_logs_type_created    ON agent_logs (agent_type, created_at);
CREATE INDEX idx_agent_logs_status_created  ON agent_logs (status, created_at);
CREATE INDEX idx_agent_logs_user_created    ON agent_logs (user_id, created_at);
CREATE INDEX idx_agent_logs_created         ON agent_logs (created_at);

------------------------------------------------------------------------------------------
-- Metering
------------------------------------------------------------------------------------------

-- Usage is billing history: deleting a conversation, message or agent log must not erase
-- what was spent, so those links are set NULL instead of cascading.
CREATE TABLE token_usage (
    id                INTEGER PRIMARY KEY,
    uuid              TEXT    NOT NULL UNIQUE,
    user_id           TEXT    NOT NULL,
    conversation_id   INTEGER REFERENCES conversations (id) ON DELETE SET NULL,
    message_id        INTEGER REFERENCES messages (id) ON DELETE SET NULL,
    agent_log_id      INTEGER REFERENCES agent_logs (id) ON DELETE SET NULL,
    provider          TEXT    NOT NULL CHECK (provider <> ''),
    model             TEXT    NOT NULL CHECK (model <> ''),
    -- An open set (chat, embedding, analysis, grounding, explanation, summarization, ...):
    -- new agents add operations without a migration, but the canonical lower_snake form is
    -- enforced so "Chat" and "chat" never become two groups in the summary.
    operation_type    TEXT    NOT NULL CHECK (operation_type <> '' AND operation_type NOT GLOB '*[^a-z0-9_]*'),
    prompt_tokens     INTEGER NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens INTEGER NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    -- At least prompt + completion; whether embedding tokens are folded in is the caller's call.
    total_tokens      INTEGER NOT NULL DEFAULT 0 CHECK (total_tokens >= 0 AND total_tokens >= prompt_tokens + completion_tokens),
    embedding_tokens  INTEGER NOT NULL DEFAULT 0 CHECK (embedding_tokens >= 0),
    estimated_cost    REAL    NOT NULL DEFAULT 0.0 CHECK (estimated_cost >= 0.0),
    currency          TEXT    NOT NULL DEFAULT 'USD' CHECK (length(currency) = 3 AND currency NOT GLOB '*[^A-Z]*'),
    created_at        TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                              CHECK (created_at LIKE '____-__-__T__:__:__%')
) STRICT;

-- The usage summary (sums grouped by any of provider, model, operation_type, user and day,
-- over a created_at range) runs on millions of rows. This index leads with created_at so
-- the range is one contiguous index scan, and carries every column the summary groups or
-- sums, so the table itself is never touched; the handful of groups is then aggregated in a
-- small temp b-tree. Day grouping uses substr(created_at, 1, 10), also covered.
CREATE INDEX idx_token_usage_summary ON token_usage (
    created_at, provider, model, operation_type, user_id,
    prompt_tokens, completion_tokens, total_tokens, embedding_tokens, estimated_cost, currency
);
-- The same summary restricted to one user ("my usage") and the per-user index the
-- user_id column needs anyway: equality on user_id, then the range, still covering.
CREATE INDEX idx_token_usage_user_summary ON token_usage (
    user_id, created_at, provider, model, operation_type,
    prompt_tokens, completion_tokens, total_tokens, embedding_tokens, estimated_cost, currency
);
-- Deliberately without created_at: with a trailing created_at, once ANALYZE has run the
-- planner prefers a skip-scan of these (no sort, but a table lookup per row) over the
-- covering index above. Range queries belong to the covering index.
CREATE INDEX idx_token_usage_provider_model ON token_usage (provider, model);
CREATE INDEX idx_token_usage_operation      ON token_usage (operation_type);
-- Without these, each deleted conversation/message/agent log would scan the whole table to
-- apply ON DELETE SET NULL. Partial: many rows (embeddings, reports) have no such link, and
-- an "x IS NOT NULL" partial index still serves the "x = ?" lookup the foreign key makes.
CREATE INDEX idx_token_usage_conversation ON token_usage (conversation_id) WHERE conversation_id IS NOT NULL;
CREATE INDEX idx_token_usage_message      ON token_usage (message_id)      WHERE message_id IS NOT NULL;
CREATE INDEX idx_token_usage_agent_log    ON token_usage (agent_log_id)    WHERE agent_log_id IS NOT NULL;

------------------------------------------------------------------------------------------
-- Company profile and saved reports (seed 004)
------------------------------------------------------------------------------------------

-- Exactly one profile per company database: CHECK (id = 1) makes a second row impossible,
-- and writers upsert with INSERT ... ON CONFLICT (id) DO UPDATE.
CREATE TABLE profiles (
    id                            INTEGER PRIMARY KEY CHECK (id = 1),
    uuid                          TEXT    NOT NULL UNIQUE,
    industry                      TEXT,
    location                      TEXT,
    -- Sustainability targets: the year of the renewable transition and the % increase.
    target_year                   INTEGER CHECK (target_year IS NULL OR target_year BETWEEN 1900 AND 2200),
    renewable_percentage_increase REAL    CHECK (renewable_percentage_increase IS NULL OR renewable_percentage_increase >= 0.0),
    budget                        REAL    CHECK (budget IS NULL OR budget >= 0.0),
    historical_data_uploaded      INTEGER NOT NULL DEFAULT 0 CHECK (historical_data_uploaded IN (0, 1)),
    total_consumption_kwh         REAL    CHECK (total_consumption_kwh IS NULL OR total_consumption_kwh >= 0.0),
    current_renewable_percentage  REAL    CHECK (current_renewable_percentage IS NULL
                                                 OR (current_renewable_percentage >= 0.0 AND current_renewable_percentage <= 100.0)),
    sustainability_score          REAL    CHECK (sustainability_score IS NULL OR sustainability_score >= 0.0),
    onboarding_completed          INTEGER NOT NULL DEFAULT 0 CHECK (onboarding_completed IN (0, 1)),
    -- Report weighting; the defaults sum to 1. Not forced to sum to 1 so the UI can save
    -- one weight at a time; report code normalises.
    energy_mix_weight             REAL    NOT NULL DEFAULT 0.4  CHECK (energy_mix_weight BETWEEN 0.0 AND 1.0),
    price_optimization_weight     REAL    NOT NULL DEFAULT 0.35 CHECK (price_optimization_weight BETWEEN 0.0 AND 1.0),
    portfolio_decision_weight     REAL    NOT NULL DEFAULT 0.25 CHECK (portfolio_decision_weight BETWEEN 0.0 AND 1.0),
    -- Room for profile fields added before they earn a column.
    extra                         TEXT    CHECK (extra IS NULL OR (json_valid(extra) AND json_type(extra) = 'object')),
    created_at                    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                                          CHECK (created_at LIKE '____-__-__T__:__:__%'),
    updated_at                    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                                          CHECK (updated_at LIKE '____-__-__T__:__:__%')
) STRICT;

CREATE TABLE saved_reports (
    id          INTEGER PRIMARY KEY,
    uuid        TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL CHECK (title <> ''),
    report_type TEXT NOT NULL CHECK (report_type <> ''),
    report_data TEXT NOT NULL CHECK (json_valid(report_data)),
    tags        TEXT CHECK (tags IS NULL OR (json_valid(tags) AND json_type(tags) = 'array')),
    confidence  REAL CHECK (confidence IS NULL OR (confidence >= 0.0 AND confidence <= 1.0)),
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                     CHECK (created_at LIKE '____-__-__T__:__:__%'),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                     CHECK (updated_at LIKE '____-__-__T__:__:__%')
) STRICT;

CREATE INDEX idx_saved_reports_created_by ON saved_reports (created_by, created_at);
CREATE INDEX idx_saved_reports_type       ON saved_reports (report_type, created_at);
CREATE INDEX idx_saved_reports_created    ON saved_reports (created_at);

------------------------------------------------------------------------------------------
-- Background work (seed 003: one table for every kind of job)
------------------------------------------------------------------------------------------

CREATE TABLE processing_jobs (
    id              INTEGER PRIMARY KEY,
    uuid            TEXT    NOT NULL UNIQUE,
    -- Open set (document_processing, reindex, ...) in canonical lower_snake form.
    job_type        TEXT    NOT NULL CHECK (job_type <> '' AND job_type NOT GLOB '*[^a-z0-9_]*'),
    -- A document's jobs go with it: a job for a deleted document has nothing left to do.
    document_id     INTEGER REFERENCES documents (id) ON DELETE CASCADE,
    status          TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    total_items     INTEGER NOT NULL DEFAULT 0 CHECK (total_items >= 0),
    processed_items INTEGER NOT NULL DEFAULT 0 CHECK (processed_items >= 0),
    -- Fraction done, 0.0 to 1.0 (same scale as every confidence in this schema).
    progress        REAL    NOT NULL DEFAULT 0.0 CHECK (progress >= 0.0 AND progress <= 1.0),
    current_step    TEXT,
    params          TEXT    CHECK (params IS NULL OR json_valid(params)),
    result          TEXT    CHECK (result IS NULL OR json_valid(result)),
    error           TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- NULL for jobs the system starts itself (e.g. `silo reindex`).
    created_by      TEXT,
    created_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                            CHECK (created_at LIKE '____-__-__T__:__:__%'),
    started_at      TEXT    CHECK (started_at LIKE '____-__-__T__:__:__%'),
    completed_at    TEXT    CHECK (completed_at LIKE '____-__-__T__:__:__%'),
    updated_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                            CHECK (updated_at LIKE '____-__-__T__:__:__%')
) STRICT;

-- Workers claim the oldest pending job: WHERE status = 'pending' ORDER BY created_at.
CREATE INDEX idx_processing_jobs_status_created ON processing_jobs (status, created_at);
CREATE INDEX idx_processing_jobs_document       ON processing_jobs (document_id);
CREATE INDEX idx_processing_jobs_created_by     ON processing_jobs (created_by, created_at);
-- Two workers must never process the same document for the same purpose at once (duplicate
-- chunks, double-counted vectors): at most one live job per (document, job type).
CREATE UNIQUE INDEX uq_processing_jobs_active_document
    ON processing_jobs (document_id, job_type)
    WHERE document_id IS NOT NULL AND status IN ('pending', 'processing');

------------------------------------------------------------------------------------------
-- Keeping updated_at honest
------------------------------------------------------------------------------------------

-- Code may set updated_at itself; when an UPDATE leaves it untouched these triggers stamp
-- it, so no write path can forget. The inner UPDATE changes updated_at, so the WHEN clause
-- stops any re-entry even with recursive_triggers on.
CREATE TRIGGER documents_touch_updated_at AFTER UPDATE ON documents
WHEN NEW.updated_at IS OLD.updated_at BEGIN
    UPDATE documents SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    WHERE id = NEW.id AND updated_at IS NOT strftime('%Y-%m-%dT%H:%M:%fZ', 'now');
END;

CREATE TRIGGER conversations_touch_updated_at AFTER UPDATE ON conversations
WHEN NEW.updated_at IS OLD.updated_at BEGIN
    UPDATE conversations SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    WHERE id = NEW.id AND updated_at IS NOT strftime('%Y-%m-%dT%H:%M:%fZ', 'now');
END;

CREATE TRIGGER profiles_touch_updated_at AFTER UPDATE ON profiles
WHEN NEW.updated_at IS OLD.updated_at BEGIN
    UPDATE profiles SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    WHERE id = NEW.id AND updated_at IS NOT strftime('%Y-%m-%dT%H:%M:%fZ', 'now');
END;

CREATE TRIGGER saved_reports_touch_updated_at AFTER UPDATE ON saved_reports
WHEN NEW.updated_at IS OLD.updated_at BEGIN
    UPDATE saved_reports SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    WHERE id = NEW.id AND updated_at IS NOT strftime('%Y-%m-%dT%H:%M:%fZ', 'now');
END;

CREATE TRIGGER processing_jobs_touch_updated_at AFTER UPDATE ON processing_jobs
WHEN NEW.updated_at IS OLD.updated_at BEGIN
    UPDATE processing_jobs SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    WHERE id = NEW.id AND updated_at IS NOT strftime('%Y-%m-%dT%H:%M:%fZ', 'now');
END;

-- A conversation's updated_at is its last activity, so the recency-sorted list stays right
-- however the message was written.
CREATE TRIGGER messages_touch_conversation AFTER INSERT ON messages BEGIN
    UPDATE conversations SET updated_at = NEW.created_at
    WHERE id = NEW.conversation_id AND updated_at < NEW.created_at;
END;
