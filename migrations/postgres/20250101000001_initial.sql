-- Initial schema for the CloudStack CPI daemon (PostgreSQL). See migrations/README.md.

-- The agent settings the CPI gave each VM, plus the hash of the VM's own registry credential.
-- `settings` is TEXT, not JSONB and not varchar(n): the registry must hand back the exact bytes
-- it was given, and settings with mbus certificates run to many kilobytes.
CREATE TABLE vm_settings (
    vm_cid               TEXT        PRIMARY KEY,
    agent_id             TEXT,
    settings             TEXT,
    credential_hash      TEXT,
    stemcell_api_version INTEGER,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);

-- Templates the CPI registered (or adopted, for light stemcells).
CREATE TABLE stemcells (
    template_id  TEXT        PRIMARY KEY,
    name         TEXT        NOT NULL,
    zone_ids     JSONB       NOT NULL DEFAULT '[]'::jsonb,
    format       TEXT        NOT NULL,
    hypervisor   TEXT        NOT NULL,
    checksum     TEXT,
    store_path   TEXT,
    publish_mode TEXT        NOT NULL,
    light        BOOLEAN     NOT NULL,
    state        TEXT        NOT NULL CHECK (state IN ('creating', 'ready', 'failed', 'deleting')),
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

-- Files published on the WebDAV stemcell store, for the template garbage collector.
CREATE TABLE store_files (
    path        TEXT        PRIMARY KEY,
    template_id TEXT,
    size        BIGINT      NOT NULL,
    sha256      TEXT,
    state       TEXT        NOT NULL CHECK (state IN ('uploading', 'published', 'ready', 'failed')),
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ
);
CREATE INDEX store_files_state_expires ON store_files (state, expires_at);

-- Journal of multi-step cloud operations, so a restarted daemon can find half-done work.
CREATE TABLE operations (
    id          TEXT        PRIMARY KEY,
    kind        TEXT        NOT NULL,
    vm_cid      TEXT,
    disk_cid    TEXT,
    template_id TEXT,
    state       TEXT        NOT NULL CHECK (state IN ('started', 'done', 'failed')),
    payload     JSONB       NOT NULL DEFAULT '{}'::jsonb,
    error       TEXT,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ
);
CREATE INDEX operations_state_started ON operations (state, started_at);
