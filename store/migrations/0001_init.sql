-- 0001: the first schema. Times are INTEGER Unix nanoseconds (UTC); NULL means "never".

CREATE TABLE grants (
    id       INTEGER PRIMARY KEY AUTOINCREMENT, -- AUTOINCREMENT: an id is never reused, so "grant:17" in an old audit event names one grant forever
    plugin   TEXT    NOT NULL CHECK (plugin <> ''),
    resource TEXT    NOT NULL CHECK (resource <> ''),
    actions  TEXT    NOT NULL CHECK (actions <> ''), -- comma-separated, sorted, no duplicates
    created  INTEGER NOT NULL,
    expires  INTEGER,
    source   TEXT    NOT NULL CHECK (source IN ('user', 'install', 'policy')),
    note     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX grants_by_plugin ON grants (plugin);

CREATE TABLE revocations (
    kind           TEXT    NOT NULL CHECK (kind IN ('token', 'plugin', 'publisher', 'key')),
    value          TEXT    NOT NULL CHECK (value <> ''),
    reason         TEXT    NOT NULL DEFAULT '',
    created        INTEGER NOT NULL,
    revoked_before INTEGER, -- plugin, publisher: every token issued before this instant is dead
    PRIMARY KEY (kind, value)
) WITHOUT ROWID;

CREATE TABLE plugins (
    id           TEXT    PRIMARY KEY CHECK (id <> ''),
    version      TEXT    NOT NULL,
    publisher    TEXT    NOT NULL DEFAULT '',
    key_id       TEXT    NOT NULL DEFAULT '',
    path         TEXT    NOT NULL DEFAULT '',
    manifest     TEXT    NOT NULL CHECK (json_valid(manifest)),
    digest       TEXT    NOT NULL DEFAULT '',
    installed_at INTEGER NOT NULL,
    state        TEXT    NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'quarantined')),
    risk         INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE keys (
    id         TEXT    PRIMARY KEY CHECK (id <> ''),
    kind       TEXT    NOT NULL CHECK (kind IN ('host', 'publisher', 'root')),
    public_key BLOB,
    created    INTEGER NOT NULL,
    retired    INTEGER,
    note       TEXT    NOT NULL DEFAULT ''
);
