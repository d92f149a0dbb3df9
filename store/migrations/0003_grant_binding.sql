-- 0003: every grant is bound to the install it was given for (docs/threat-model.md,
-- issue 10 finding 9). A grant used to name only a plugin id, so a grant given
-- before an install, or to an earlier install, applied to whatever plugin of that
-- name was installed later, from any publisher.
--
-- plugins.install_id is a random id minted by each fresh install and kept by an
-- upgrade from the same publisher key; an uninstall and reinstall gets a new one.
-- grants.key_id and grants.install_id say which install a grant is for. A grant
-- applies only while both equal its plugin's row. install_id '' is a pending grant:
-- given before any install (for the publisher key in key_id, or for none when
-- key_id is ''); it applies only once a person confirms it on that install's
-- consent screen, which binds it.

ALTER TABLE plugins ADD COLUMN install_id TEXT NOT NULL DEFAULT '';
UPDATE plugins SET install_id = lower(hex(randomblob(16)));

ALTER TABLE grants ADD COLUMN key_id     TEXT NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN install_id TEXT NOT NULL DEFAULT '';

-- Grants of a plugin installed today are the ones in force today: they bind to
-- that install, so that an upgrade of warden changes no one's access. The store
-- cannot tell which of them were given before the install (installed_at moves
-- on each upgrade); that residue is named in docs/bundle-format.md. Grants of a
-- plugin that is not installed stay pending, for no particular key: a consent
-- screen shows them unselected, and nothing applies them unless a person does.
UPDATE grants SET
    key_id     = (SELECT p.key_id     FROM plugins p WHERE p.id = grants.plugin),
    install_id = (SELECT p.install_id FROM plugins p WHERE p.id = grants.plugin)
WHERE plugin IN (SELECT id FROM plugins);

-- (plugin, install_id) serves every query grants_by_plugin served, and the
-- host's "grants of this install".
DROP INDEX grants_by_plugin;
CREATE INDEX grants_by_install ON grants (plugin, install_id);
