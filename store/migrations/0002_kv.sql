-- 0002: per-plugin private key-value storage behind the host API's kv.* methods.

CREATE TABLE kv (
    plugin  TEXT    NOT NULL CHECK (plugin <> ''),
    key     TEXT    NOT NULL CHECK (key <> ''),
    value   BLOB    NOT NULL,
    updated INTEGER NOT NULL,
    PRIMARY KEY (plugin, key)
) WITHOUT ROWID;

-- kv_usage keeps each plugin's byte total (key bytes + value bytes) so that the
-- quota check on every set is one row read, not a scan of the plugin's keys.
-- Triggers keep it exact whatever statement touches kv.
CREATE TABLE kv_usage (
    plugin TEXT    PRIMARY KEY,
    bytes  INTEGER NOT NULL CHECK (bytes >= 0)
) WITHOUT ROWID;

CREATE TRIGGER kv_usage_insert AFTER INSERT ON kv BEGIN
    INSERT INTO kv_usage (plugin, bytes) VALUES (NEW.plugin, length(CAST(NEW.key AS BLOB)) + length(NEW.value))
    ON CONFLICT (plugin) DO UPDATE SET bytes = bytes + excluded.bytes;
END;

CREATE TRIGGER kv_usage_delete AFTER DELETE ON kv BEGIN
    UPDATE kv_usage SET bytes = bytes - (length(CAST(OLD.key AS BLOB)) + length(OLD.value)) WHERE plugin = OLD.plugin;
    DELETE FROM kv_usage WHERE plugin = OLD.plugin AND bytes = 0;
END;

CREATE TRIGGER kv_usage_update AFTER UPDATE ON kv BEGIN
    UPDATE kv_usage SET bytes = bytes - (length(CAST(OLD.key AS BLOB)) + length(OLD.value)) WHERE plugin = OLD.plugin;
    INSERT INTO kv_usage (plugin, bytes) VALUES (NEW.plugin, length(CAST(NEW.key AS BLOB)) + length(NEW.value))
    ON CONFLICT (plugin) DO UPDATE SET bytes = bytes + excluded.bytes;
END;
