package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
)

// Errors InstallPlugin returns (wrapped), besides ErrInvalid and ErrNotRecorded.
var (
	// ErrExists: InstallPlugin without Replace found the plugin installed.
	ErrExists = errors.New("already installed")
	// ErrChanged: InstallOpts.IfDigest named a row that is no longer the one
	// installed (another process upgraded or uninstalled the plugin meanwhile).
	ErrChanged = errors.New("installed plugin changed meanwhile")
)

// InstallOpts says how InstallPlugin treats a plugin that is already
// installed.
type InstallOpts struct {
	// Replace installs over an installed plugin of the same id (an upgrade or
	// a reinstall). Without it an installed id fails with ErrExists.
	Replace bool
	// IfDigest, when set, makes the install apply only if the installed row
	// still has this digest: the caller read that row to decide what to ask
	// the person, and must not replace a row it never saw. ErrChanged if not.
	IfDigest string
	// KeepGrantIDs are this plugin's install or policy grants that survive
	// the replace: on an upgrade, those whose permission the new manifest
	// declares unchanged, so the person is not asked again and the grant
	// keeps its id. Ids of other grants are ignored.
	KeepGrantIDs []int64
	// DropGrantIDs are this plugin's grants (in practice user grants) to
	// delete in the same transaction: those the caller, which can parse the
	// new manifest, found outside it. An id that names another plugin's grant
	// is refused with ErrInvalid; an id already gone is skipped.
	DropGrantIDs []int64
}

// Installed is what InstallPlugin committed.
type Installed struct {
	Plugin   Plugin  // the row as stored
	Previous *Plugin // the row it replaced; nil for a first install
	Added    []Grant // the grants given, with their ids
	Kept     []Grant // the install and policy grants kept (KeepGrantIDs)
	Removed  []Grant // the grants taken away: install and policy grants replaced, DropGrantIDs
}

// InstallPlugin installs p with grants in one transaction: either all of it
// is in the database afterwards or none of it is.
//
// In that transaction it writes the plugin row (replacing an installed one
// only with opts.Replace), deletes every grant of p.ID whose source is
// "install" or "policy" except opts.KeepGrantIDs (they are the product of an
// install, and the new install makes its own; on a first install they can
// only be leftovers of a broken one), deletes opts.DropGrantIDs, and inserts
// grants. User grants not
// named in DropGrantIDs stay, and so does the plugin's kv storage.
//
// Each grant's Plugin must be p.ID or empty (then p.ID); Source defaults to
// "install". After the commit every removed grant is reported to the Recorder
// as grant.deleted, every added one as grant.added, and a change of state
// (an upgrade of a quarantined plugin) as plugin.state_changed; a Recorder
// error is returned wrapped in ErrNotRecorded together with the result, and
// the install stays.
func (s *Store) InstallPlugin(ctx context.Context, p Plugin, grants []Grant, opts InstallOpts) (Installed, error) {
	p, err := s.checkPlugin(p)
	if err != nil {
		return Installed{}, fmt.Errorf("install: %w", err)
	}
	checked := make([]Grant, 0, len(grants))
	for _, g := range grants {
		if g.Plugin == "" {
			g.Plugin = p.ID
		}
		if g.Plugin != p.ID {
			return Installed{}, fmt.Errorf("install plugin %s: a grant names plugin %s: %w", p.ID, g.Plugin, ErrInvalid)
		}
		g, err := s.checkGrant(g, SourceInstall)
		if err != nil {
			return Installed{}, s.refused(ctx, g, fmt.Errorf("install plugin %s: %w", p.ID, err))
		}
		checked = append(checked, g)
	}
	res, err := s.installTx(ctx, p, checked, opts)
	if err != nil {
		return Installed{}, fmt.Errorf("install plugin %s: %w", p.ID, err)
	}
	return res, s.recordInstall(ctx, res)
}

func (s *Store) installTx(ctx context.Context, p Plugin, grants []Grant, opts InstallOpts) (Installed, error) {
	res := Installed{Plugin: p}
	tx, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (the DSN's _txlock)
	if err != nil {
		return res, err
	}
	defer tx.Rollback()

	old, err := scanPlugin(tx.QueryRowContext(ctx, `SELECT `+pluginCols+` FROM plugins WHERE id = ?`, p.ID))
	switch {
	case err == nil:
		res.Previous = &old
	case !errors.Is(err, sql.ErrNoRows):
		return res, err
	}
	switch {
	case res.Previous != nil && !opts.Replace:
		return res, fmt.Errorf("version %s is installed: %w", old.Version, ErrExists)
	case opts.IfDigest != "" && res.Previous == nil:
		return res, fmt.Errorf("it was uninstalled meanwhile: %w", ErrChanged)
	case opts.IfDigest != "" && old.Digest != opts.IfDigest:
		return res, fmt.Errorf("installed digest is now %s, not %s: %w", old.Digest, opts.IfDigest, ErrChanged)
	}
	if err := upsertPlugin(ctx, tx, p); err != nil {
		return res, fmt.Errorf("save plugin row: %w", err)
	}
	if s.cfg.afterPluginRow != nil {
		if err := s.cfg.afterPluginRow(ctx); err != nil {
			return res, err
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+grantCols+` FROM grants WHERE plugin = ? AND source IN ('install', 'policy') ORDER BY id`, p.ID)
	if err != nil {
		return res, fmt.Errorf("replace install grants: %w", err)
	}
	installGrants, err := scanGrants(rows)
	if err != nil {
		return res, fmt.Errorf("replace install grants: %w", err)
	}
	for _, g := range installGrants {
		if slices.Contains(opts.KeepGrantIDs, g.ID) {
			res.Kept = append(res.Kept, g)
			continue
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM grants WHERE id = ?`, g.ID); err != nil {
			return res, fmt.Errorf("replace install grant %d: %w", g.ID, err)
		}
		res.Removed = append(res.Removed, g)
	}
	for _, id := range opts.DropGrantIDs {
		var owner string
		err := tx.QueryRowContext(ctx, `SELECT plugin FROM grants WHERE id = ?`, id).Scan(&owner)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			continue // revoked meanwhile, or an install grant already removed above
		case err != nil:
			return res, fmt.Errorf("drop grant %d: %w", id, err)
		case owner != p.ID:
			return res, fmt.Errorf("drop grant %d: it is a grant of %s: %w", id, owner, ErrInvalid)
		}
		rows, err := tx.QueryContext(ctx, `DELETE FROM grants WHERE id = ? RETURNING `+grantCols, id)
		if err != nil {
			return res, fmt.Errorf("drop grant %d: %w", id, err)
		}
		gone, err := scanGrants(rows)
		if err != nil {
			return res, fmt.Errorf("drop grant %d: %w", id, err)
		}
		res.Removed = append(res.Removed, gone...)
	}
	for i := range grants {
		if err := insertGrant(ctx, tx, &grants[i]); err != nil {
			return res, fmt.Errorf("add grant on %s: %w", grants[i].Resource, err)
		}
	}
	res.Added = grants
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("commit: %w", err)
	}
	return res, nil
}

// recordInstall reports a committed install. Every event is offered to the
// Recorder even after one fails, so that one lost event does not hide the
// rest; the first failure is returned.
func (s *Store) recordInstall(ctx context.Context, res Installed) error {
	var first error
	note := func(err error) {
		if first == nil {
			first = err
		}
	}
	for i := range res.Removed {
		note(s.record(ctx, Event{Type: EventGrantDeleted, Grant: &res.Removed[i]}))
	}
	for i := range res.Added {
		note(s.record(ctx, Event{Type: EventGrantAdded, Grant: &res.Added[i]}))
	}
	if res.Previous != nil && res.Previous.State != res.Plugin.State {
		note(s.record(ctx, Event{Type: EventPluginStateChanged, Plugin: res.Plugin.ID, State: res.Plugin.State}))
	}
	return first
}
