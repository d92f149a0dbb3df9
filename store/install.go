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
// installed, and which grants made before it carry over.
type InstallOpts struct {
	// Replace installs over an installed plugin of the same id (an upgrade or
	// a reinstall). Without it an installed id fails with ErrExists.
	Replace bool
	// Upgrade makes the new row continue the installed one: it keeps its
	// install id, so the grants bound to it stay bound (less the ones
	// this transaction removes). It needs Replace, and the installed row must
	// have the same publisher key (ErrInvalid otherwise: what a person granted
	// one publisher is not consent for another). Without Upgrade every
	// install is a fresh one: a new install id, and every grant bound to the
	// row it replaces is deleted.
	Upgrade bool
	// IfDigest, when set, makes the install apply only if the installed row
	// still has this digest: the caller read that row to decide what to ask
	// the person, and must not replace a row it never saw. ErrChanged if not.
	IfDigest string
	// KeepGrantIDs are this plugin's install or policy grants that survive
	// an Upgrade: those whose permission the new manifest declares unchanged
	// and the person did not clear, so the grant keeps its id. Ids of other
	// grants are ignored.
	KeepGrantIDs []int64
	// DropGrantIDs are this plugin's grants (user grants the new manifest no
	// longer covers or the person cleared, pending grants not confirmed) to
	// delete in the same transaction. An id that names another plugin's grant
	// is refused with ErrInvalid; an id already gone is skipped.
	DropGrantIDs []int64
	// ConfirmGrantIDs are pending grants of this plugin that a person
	// confirmed on the consent screen: they are bound to the new install.
	// Each must be pending and for the new row's publisher key or for no key
	// (ErrInvalid otherwise); an id already gone (revoked meanwhile) is
	// skipped. Pending grants named nowhere stay pending and apply to nothing.
	ConfirmGrantIDs []int64
}

// Installed is what InstallPlugin committed.
type Installed struct {
	Plugin    Plugin  // the row as stored
	Previous  *Plugin // the row it replaced; nil for a first install
	Added     []Grant // the grants given, with their ids
	Kept      []Grant // the install and policy grants kept (KeepGrantIDs)
	Confirmed []Grant // pending grants now bound to this install (ConfirmGrantIDs)
	Removed   []Grant // the grants taken away: of the replaced install, not kept, DropGrantIDs
}

// InstallPlugin installs p with grants in one transaction: either all of it
// is in the database afterwards or none of it is.
//
// In that transaction it writes the plugin row (replacing an installed one
// only with opts.Replace) with its install id: the installed row's on an
// Upgrade, a new one otherwise. It then settles the grants made before: on
// an Upgrade it deletes every install and policy grant of the old row except
// opts.KeepGrantIDs (the new install makes its own), on any other install
// every grant bound to an earlier install of p.ID; it deletes
// opts.DropGrantIDs, binds opts.ConfirmGrantIDs to the new install, and
// inserts grants, bound to the new install. User grants of an upgraded row
// not named in DropGrantIDs stay, and so does the plugin's kv storage.
//
// p.InstallID is ignored: the store decides it. Each grant's Plugin must be
// p.ID or empty (then p.ID); Source defaults to "install". After the commit
// every removed grant is reported to the Recorder as grant.deleted, every
// confirmed one as grant.confirmed, every added one as grant.added, and a
// change of state (an upgrade of a quarantined plugin) as
// plugin.state_changed; a Recorder error is returned wrapped in
// ErrNotRecorded together with the result, and the install stays.
func (s *Store) InstallPlugin(ctx context.Context, p Plugin, grants []Grant, opts InstallOpts) (Installed, error) {
	p, err := s.checkPlugin(p)
	if err != nil {
		return Installed{}, fmt.Errorf("install: %w", err)
	}
	if opts.Upgrade && !opts.Replace {
		return Installed{}, fmt.Errorf("install plugin %s: an upgrade replaces the installed row, so it needs Replace: %w", p.ID, ErrInvalid)
	}
	for _, id := range opts.ConfirmGrantIDs {
		if slices.Contains(opts.DropGrantIDs, id) {
			return Installed{}, fmt.Errorf("install plugin %s: grant %d is both confirmed and dropped: %w", p.ID, id, ErrInvalid)
		}
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
	res := Installed{}
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
	case opts.Upgrade && res.Previous != nil && old.KeyID != p.KeyID:
		return res, fmt.Errorf("the installed version %s is signed by %s, this one by %s; an upgrade keeps grants only for the same key: %w",
			old.Version, keyName(old.KeyID), keyName(p.KeyID), ErrInvalid)
	}
	upgrade := opts.Upgrade && res.Previous != nil && old.InstallID != ""
	if upgrade {
		p.InstallID = old.InstallID
	} else if p.InstallID, err = newInstallID(); err != nil {
		return res, err
	}
	res.Plugin = p
	if err := upsertPlugin(ctx, tx, p); err != nil {
		return res, fmt.Errorf("save plugin row: %w", err)
	}
	if s.cfg.afterPluginRow != nil {
		if err := s.cfg.afterPluginRow(ctx); err != nil {
			return res, err
		}
	}
	// Every grant bound to an install of this name, to decide which stay.
	rows, err := tx.QueryContext(ctx, `SELECT `+grantCols+` FROM grants WHERE plugin = ? AND install_id <> '' ORDER BY id`, p.ID)
	if err != nil {
		return res, fmt.Errorf("settle the grants of the installed version: %w", err)
	}
	bound, err := scanGrants(rows)
	if err != nil {
		return res, fmt.Errorf("settle the grants of the installed version: %w", err)
	}
	for _, g := range bound {
		switch {
		case !upgrade, !g.BoundTo(p):
			// A fresh install starts with no grant of an earlier one; a
			// grant of an install that is gone can never apply again.
		case g.Source == SourceUser:
			continue // stays unless DropGrantIDs names it
		case slices.Contains(opts.KeepGrantIDs, g.ID):
			res.Kept = append(res.Kept, g)
			continue
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM grants WHERE id = ?`, g.ID); err != nil {
			return res, fmt.Errorf("remove grant %d of the installed version: %w", g.ID, err)
		}
		res.Removed = append(res.Removed, g)
	}
	for _, id := range opts.DropGrantIDs {
		var owner string
		err := tx.QueryRowContext(ctx, `SELECT plugin FROM grants WHERE id = ?`, id).Scan(&owner)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			continue // revoked meanwhile, or already removed above
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
	for _, id := range opts.ConfirmGrantIDs {
		var owner, installID, keyID string
		err := tx.QueryRowContext(ctx, `SELECT plugin, install_id, key_id FROM grants WHERE id = ?`, id).Scan(&owner, &installID, &keyID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			continue // revoked meanwhile: the revocation wins
		case err != nil:
			return res, fmt.Errorf("confirm grant %d: %w", id, err)
		case owner != p.ID:
			return res, fmt.Errorf("confirm grant %d: it is a grant of %s: %w", id, owner, ErrInvalid)
		case installID != "":
			return res, fmt.Errorf("confirm grant %d: it is not pending: %w", id, ErrInvalid)
		case keyID != "" && keyID != p.KeyID:
			return res, fmt.Errorf("confirm grant %d: it is for key %s, this install is signed by %s: %w", id, keyID, keyName(p.KeyID), ErrInvalid)
		}
		rows, err := tx.QueryContext(ctx, `UPDATE grants SET key_id = ?, install_id = ? WHERE id = ? RETURNING `+grantCols, p.KeyID, p.InstallID, id)
		if err != nil {
			return res, fmt.Errorf("confirm grant %d: %w", id, err)
		}
		bound, err := scanGrants(rows)
		if err != nil {
			return res, fmt.Errorf("confirm grant %d: %w", id, err)
		}
		res.Confirmed = append(res.Confirmed, bound...)
	}
	for i := range grants {
		grants[i].KeyID, grants[i].InstallID = p.KeyID, p.InstallID
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
	for i := range res.Confirmed {
		note(s.record(ctx, Event{Type: EventGrantConfirmed, Grant: &res.Confirmed[i]}))
	}
	for i := range res.Added {
		note(s.record(ctx, Event{Type: EventGrantAdded, Grant: &res.Added[i]}))
	}
	if res.Previous != nil && res.Previous.State != res.Plugin.State {
		note(s.record(ctx, Event{Type: EventPluginStateChanged, Plugin: res.Plugin.ID, State: res.Plugin.State}))
	}
	return first
}
