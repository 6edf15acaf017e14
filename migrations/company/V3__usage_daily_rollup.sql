-- Company database, schema version 3: a daily rollup of token_usage for the usage summary.
--
-- The summary groups millions of usage rows by provider, model, operation, user and day.
-- Even a covering-index scan of a million rows takes ~200 ms, and grouping several hundred
-- more, so sums are kept per (day, provider, model, operation_type, user_id, currency) as
-- rows arrive. A summary then reads the rollup for whole days and the raw rows (through
-- idx_token_usage_summary) only for the partial days at the edges of its range; the result
-- is exact, not approximate.
--
-- The triggers keep the rollup equal to the table under every change: insert, delete and
-- update (usage rows are billing history and normally never change, but a repair must not
-- leave the rollup wrong). Rows whose last contribution is removed are deleted.

CREATE TABLE token_usage_daily (
    day               TEXT    NOT NULL CHECK (day LIKE '____-__-__'),
    provider          TEXT    NOT NULL,
    model             TEXT    NOT NULL,
    operation_type    TEXT    NOT NULL,
    user_id           TEXT    NOT NULL,
    currency          TEXT    NOT NULL,
    requests          INTEGER NOT NULL CHECK (requests >= 0),
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    embedding_tokens  INTEGER NOT NULL,
    total_tokens      INTEGER NOT NULL,
    estimated_cost    REAL    NOT NULL,
    PRIMARY KEY (day, provider, model, operation_type, user_id, currency)
) STRICT, WITHOUT ROWID;

-- "My usage" summaries: equality on the user, then the day range.
CREATE INDEX idx_token_usage_daily_user ON token_usage_daily (user_id, day);

-- With the rollup serving every summary, these three indexes of version 1 only slowed each
-- insert (measured: 29 µs → 18 µs per row without them): per-user and per-provider or
-- per-operation breakdowns read the rollup, and the raw rows of a summary's partial edge
-- days are a short created_at range of idx_token_usage_summary, which stays (it covers
-- user_id too).
DROP INDEX idx_token_usage_user_summary;
DROP INDEX idx_token_usage_provider_model;
DROP INDEX idx_token_usage_operation;

INSERT INTO token_usage_daily (day, provider, model, operation_type, user_id, currency, requests,
    prompt_tokens, completion_tokens, embedding_tokens, total_tokens, estimated_cost)
SELECT substr(created_at, 1, 10), provider, model, operation_type, user_id, currency, COUNT(*),
       SUM(prompt_tokens), SUM(completion_tokens), SUM(embedding_tokens), SUM(total_tokens),
       SUM(estimated_cost)
FROM token_usage
GROUP BY substr(created_at, 1, 10), provider, model, operation_type, user_id, currency;

CREATE TRIGGER token_usage_daily_ai AFTER INSERT ON token_usage BEGIN
    INSERT INTO token_usage_daily (day, provider, model, operation_type, user_id, currency,
        requests, prompt_tokens, completion_tokens, embedding_tokens, total_tokens, estimated_cost)
    VALUES (substr(NEW.created_at, 1, 10), NEW.provider, NEW.model, NEW.operation_type,
            NEW.user_id, NEW.currency, 1, NEW.prompt_tokens, NEW.completion_tokens,
            NEW.embedding_tokens, NEW.total_tokens, NEW.estimated_cost)
    ON CONFLICT (day, provider, model, operation_type, user_id, currency) DO UPDATE SET
        requests          = requests + 1,
        prompt_tokens     = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens,
        embedding_tokens  = embedding_tokens + excluded.embedding_tokens,
        total_tokens      = total_tokens + excluded.total_tokens,
        estimated_cost    = estimated_cost + excluded.estimated_cost;
END;

CREATE TRIGGER token_usage_daily_ad AFTER DELETE ON token_usage BEGIN
    UPDATE token_usage_daily SET
        requests          = requests - 1,
        prompt_tokens     = prompt_tokens - OLD.prompt_tokens,
        completion_tokens = completion_tokens - OLD.completion_tokens,
        embedding_tokens  = embedding_tokens - OLD.embedding_tokens,
        total_tokens      = total_tokens - OLD.total_tokens,
        estimated_cost    = estimated_cost - OLD.estimated_cost
    WHERE day = substr(OLD.created_at, 1, 10) AND provider = OLD.provider AND model = OLD.model
      AND operation_type = OLD.operation_type AND user_id = OLD.user_id AND currency = OLD.currency;
    DELETE FROM token_usage_daily
    WHERE day = substr(OLD.created_at, 1, 10) AND provider = OLD.provider AND model = OLD.model
      AND operation_type = OLD.operation_type AND user_id = OLD.user_id AND currency = OLD.currency
      AND requests = 0;
END;

-- An update is the removal of the old row's contribution and the addition of the new one's.
CREATE TRIGGER token_usage_daily_au AFTER UPDATE OF created_at, provider, model, operation_type,
    user_id, currency, prompt_tokens, completion_tokens, embedding_tokens, total_tokens,
    estimated_cost ON token_usage BEGIN
    UPDATE token_usage_daily SET
        requests          = requests - 1,
        prompt_tokens     = prompt_tokens - OLD.prompt_tokens,
        completion_tokens = completion_tokens - OLD.completion_tokens,
        embedding_tokens  = embedding_tokens - OLD.embedding_tokens,
        total_tokens      = total_tokens - OLD.total_tokens,
        estimated_cost    = estimated_cost - OLD.estimated_cost
    WHERE day = substr(OLD.created_at, 1, 10) AND provider = OLD.provider AND model = OLD.model
      AND operation_type = OLD.operation_type AND user_id = OLD.user_id AND currency = OLD.currency;
    DELETE FROM token_usage_daily
    WHERE day = substr(OLD.created_at, 1, 10) AND provider = OLD.provider AND model = OLD.model
      AND operation_type = OLD.operation_type AND user_id = OLD.user_id AND currency = OLD.currency
      AND requests = 0;
    INSERT INTO token_usage_daily (day, provider, model, operation_type, user_id, currency,
        requests, prompt_tokens, completion_tokens, embedding_tokens, total_tokens, estimated_cost)
    VALUES (substr(NEW.created_at, 1, 10), NEW.provider, NEW.model, NEW.operation_type,
            NEW.user_id, NEW.currency, 1, NEW.prompt_tokens, NEW.completion_tokens,
            NEW.embedding_tokens, NEW.total_tokens, NEW.estimated_cost)
    ON CONFLICT (day, provider, model, operation_type, user_id, currency) DO UPDATE SET
        requests          = requests + 1,
        prompt_tokens     = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens,
        embedding_tokens  = embedding_tokens + excluded.embedding_tokens,
        total_tokens      = total_tokens + excluded.total_tokens,
        estimated_cost    = estimated_cost + excluded.estimated_cost;
END;
