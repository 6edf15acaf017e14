-- The control plane: companies, users, roles and permissions, refresh tokens, audit log.
-- Timestamps are RFC 3339 UTC text; public ids are UUID text, integer ids stay internal.

CREATE TABLE companies (
    id             INTEGER PRIMARY KEY,
    uuid           TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL UNIQUE COLLATE NOCASE,
    slug           TEXT NOT NULL UNIQUE CHECK (slug GLOB '[a-z0-9]*' AND length(slug) BETWEEN 1 AND 63),
    industry       TEXT,
    -- Relative to the data directory; written only by provisioning, never from request input.
    db_path        TEXT NOT NULL UNIQUE,
    is_active      INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    -- NULL while the company's files are being made: such a row is invisible everywhere.
    provisioned_at TEXT
);

CREATE TABLE roles (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE permissions (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE CHECK (name = resource || ':' || action),
    resource    TEXT NOT NULL,
    action      TEXT NOT NULL,
    description TEXT
);

CREATE TABLE role_permissions (
    role_id       INTEGER NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission_id INTEGER NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, permission_id)
) WITHOUT ROWID;
CREATE INDEX idx_role_permissions_permission ON role_permissions (permission_id);

CREATE TABLE users (
    id                       INTEGER PRIMARY KEY,
    uuid                     TEXT NOT NULL UNIQUE,
    email                    TEXT NOT NULL UNIQUE COLLATE NOCASE,
    username                 TEXT NOT NULL UNIQUE COLLATE NOCASE,
    hashed_password          TEXT NOT NULL,
    full_name                TEXT,
    -- NULL only for super admins, who belong to no company.
    company_id               INTEGER REFERENCES companies (id) ON DELETE CASCADE,
    role_id                  INTEGER NOT NULL REFERENCES roles (id),
    preferred_llm            TEXT NOT NULL DEFAULT 'ollama',
    explainability_level     TEXT NOT NULL DEFAULT 'detailed'
                             CHECK (explainability_level IN ('basic', 'detailed', 'debug')),
    has_completed_onboarding INTEGER NOT NULL DEFAULT 0 CHECK (has_completed_onboarding IN (0, 1)),
    is_active                INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_login               TEXT
);
CREATE INDEX idx_users_company ON users (company_id);
CREATE INDEX idx_users_role ON users (role_id);

-- Refresh tokens are stored as SHA-256 hashes. Each login starts a family; every refresh
-- rotates within it, and presenting a rotated token revokes the whole family.
CREATE TABLE refresh_tokens (
    id          INTEGER PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id   TEXT NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    expires_at  TEXT NOT NULL,
    rotated_at  TEXT,
    revoked_at  TEXT
);
CREATE INDEX idx_refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX idx_refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    actor_id    INTEGER REFERENCES users (id) ON DELETE SET NULL,
    action      TEXT NOT NULL,
    target      TEXT,
    detail      TEXT CHECK (detail IS NULL OR json_valid(detail)),
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX idx_audit_log_actor ON audit_log (actor_id);
CREATE INDEX idx_audit_log_created ON audit_log (created_at);

INSERT INTO roles (name, description) VALUES
    ('super_admin', 'Operates the whole installation; works on the primary database only'),
    ('admin', 'Manages its company: users, documents, profile, reports'),
    ('analyst', 'Works with documents, chat, agents and reports'),
    ('viewer', 'Reads documents, conversations and reports');

INSERT INTO permissions (name, resource, action, description) VALUES
    ('documents:create', 'documents', 'create', 'Upload documents'),
    ('documents:read', 'documents', 'read', 'View documents and search them'),
    ('documents:update', 'documents', 'update', 'Modify document metadata'),
    ('documents:delete', 'documents', 'delete', 'Delete documents'),
    ('chat:use', 'chat', 'use', 'Use conversations'),
    ('agents:execute', 'agents', 'execute', 'Run agents and record their logs'),
    ('agents:read', 'agents', 'read', 'View agent logs'),
    ('explain:view', 'explain', 'view', 'View explainability data'),
    ('metering:read', 'metering', 'read', 'View token usage'),
    ('metering:write', 'metering', 'write', 'Record token usage'),
    ('reports:generate', 'reports', 'generate', 'Create and change saved reports'),
    ('reports:read', 'reports', 'read', 'View saved reports'),
    ('profile:read', 'profile', 'read', 'View the company profile'),
    ('profile:update', 'profile', 'update', 'Change the company profile'),
    ('users:manage', 'users', 'manage', 'Manage the company''s user accounts'),
    ('roles:manage', 'roles', 'manage', 'Change which permissions a role has'),
    ('companies:manage', 'companies', 'manage', 'Create, change and delete companies'),
    ('system:config', 'system', 'config', 'Change system configuration and run migrations'),
    ('admin:full', 'admin', 'full', 'Full administrative access to the installation');

-- Defaults: super_admin holds the installation-wide permissions only (it never reads company
-- data); admin everything of its company; analyst works; viewer reads.
INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id FROM roles r JOIN permissions p ON
    (r.name = 'super_admin' AND p.name IN ('admin:full', 'companies:manage', 'users:manage',
                                           'roles:manage', 'system:config'))
 OR (r.name = 'admin' AND p.name NOT IN ('admin:full', 'companies:manage', 'roles:manage',
                                         'system:config'))
 OR (r.name = 'analyst' AND p.name IN ('documents:create', 'documents:read', 'documents:update',
                                       'chat:use', 'agents:execute', 'agents:read', 'explain:view',
                                       'metering:read', 'metering:write', 'reports:generate',
                                       'reports:read', 'profile:read'))
 OR (r.name = 'viewer' AND p.name IN ('documents:read', 'chat:use', 'agents:read',
                                      'explain:view', 'reports:read', 'profile:read'));
