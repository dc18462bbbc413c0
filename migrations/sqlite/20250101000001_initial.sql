-- Initial schema for the CloudStack CPI daemon (SQLite). See migrations/README.md.
-- Timestamps are INTEGER milliseconds since the Unix epoch (UTC) so that range queries compare
-- numbers, not strings. JSON columns are TEXT holding a JSON document.

CREATE TABLE vm_settings (
    vm_cid               TEXT    PRIMARY KEY NOT NULL,
    agent_id             TEXT,
    settings             TEXT,
    credential_hash      TEXT,
    stemcell_api_version INTEGER,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);

CREATE TABLE stemcells (
    template_id  TEXT    PRIMARY KEY NOT NULL,
    name         TEXT    NOT NULL,
    zone_ids     TEXT    NOT NULL DEFAULT '[]',
    format       TEXT    NOT NULL,
    hypervisor   TEXT    NOT NULL,
    checksum     TEXT,
    store_path   TEXT,
    publish_mode TEXT    NOT NULL,
    light        INTEGER NOT NULL CHECK (light IN (0, 1)),
    state        TEXT    NOT NULL CHECK (state IN ('creating', 'ready', 'failed', 'deleting')),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE store_files (
    path        TEXT    PRIMARY KEY NOT NULL,
    template_id TEXT,
    size        INTEGER NOT NULL,
    sha256      TEXT,
    state       TEXT    NOT NULL CHECK (state IN ('uploading', 'published', 'ready', 'failed')),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER
);
CREATE INDEX store_files_state_expires ON store_files (state, expires_at);

CREATE TABLE operations (
    id          TEXT    PRIMARY KEY NOT NULL,
    kind        TEXT    NOT NULL,
    vm_cid      TEXT,
    disk_cid    TEXT,
    template_id TEXT,
    state       TEXT    NOT NULL CHECK (state IN ('started', 'done', 'failed')),
    payload     TEXT    NOT NULL DEFAULT '{}',
    error       TEXT,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER
);
CREATE INDEX operations_state_started ON operations (state, started_at);
