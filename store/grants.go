package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/wardenproject/warden/internal/home"
	"github.com/wardenproject/warden/resource"
)

// GrantSource says who made a grant.
type GrantSource string

// Grant sources. A grant never comes from a tool call: "user" is `warden grant` or
// a prompt a person answered, "install" is the install consent screen, "policy"
// is an enterprise pre-approval materialised at install.
const (
	SourceUser    GrantSource = "user"
	SourceInstall GrantSource = "install"
	SourcePolicy  GrantSource = "policy"
)

// Grant is a user's permission for one installed plugin to use one resource
// pattern with some actions. The store keeps the pattern as text; the policy
// package parses it and checks it against the plugin's manifest.
//
// A grant is bound to the install it was given for: the publisher key and the
// install id of the plugin's row (Plugin.KeyID, Plugin.InstallID). It applies
// only while both still match the installed row, so a grant never reaches a
// plugin of the same name from another publisher or key, nor a later install
// after an uninstall. A grant with no InstallID is pending: given before any
// install, for the publisher key KeyID (or, in a database written before
// grants were bound, for no key: KeyID ""). A pending grant applies to
// nothing until a person confirms it on the consent screen of an install from
// that key, which binds it (InstallOpts.ConfirmGrantIDs).
type Grant struct {
	ID        int64       `json:"id"`
	Plugin    string      `json:"plugin"`
	Resource  string      `json:"resource"`
	Actions   []string    `json:"actions"`
	Created   time.Time   `json:"created"`
	Expires   time.Time   `json:"expires,omitzero"` // zero: never
	Source    GrantSource `json:"source"`
	Note      string      `json:"note,omitempty"`
	KeyID     string      `json:"key_id,omitempty"`     // the publisher key of the install it is for
	InstallID string      `json:"install_id,omitempty"` // the install it is for; empty: pending
}

// Active reports whether g has not expired at now. Whether it applies also
// depends on its binding: see BoundTo.
func (g Grant) Active(now time.Time) bool { return g.Expires.IsZero() || now.Before(g.Expires) }

// Pending reports whether g waits for a consent screen to bind it to an
// install.
func (g Grant) Pending() bool { return g.InstallID == "" }

// BoundTo reports whether g is a grant of p's install: the same plugin,
// install id and publisher key. Only such a grant may ever apply to p.
func (g Grant) BoundTo(p Plugin) bool {
	return g.InstallID != "" && g.Plugin == p.ID && g.InstallID == p.InstallID && g.KeyID == p.KeyID
}

// normActions sorts and de-duplicates actions and rejects empty or
// comma-carrying ones (the column is comma-separated).
func normActions(acts []string) ([]string, error) {
	if len(acts) == 0 {
		return nil, fmt.Errorf("no actions: %w", ErrInvalid)
	}
	out := make([]string, 0, len(acts))
	for _, a := range acts {
		a = strings.TrimSpace(a)
		if a == "" || strings.ContainsAny(a, ", \t\n") {
			return nil, fmt.Errorf("action %q is empty or contains a comma or space: %w", a, ErrInvalid)
		}
		out = append(out, a)
	}
	sort.Strings(out)
	j := 0
	for i, a := range out {
		if i == 0 || a != out[j-1] {
			out[j] = a
			j++
		}
	}
	return out[:j], nil
}

// AddGrant stores g and returns it with its ID and Created set. Created defaults
// to now; Source defaults to "user".
//
// g.InstallID names the install the grant is for: the installed row's
// InstallID, which the caller read when it checked the grant against that
// row's manifest. The grant is stored bound to that install, with KeyID set to
// the install's key, only if it is still the one installed: ErrChanged if the
// plugin was reinstalled or uninstalled meanwhile, or if g.KeyID names another
// key. With no InstallID the grant is pending, for the publisher key g.KeyID;
// that is refused with ErrExists while a plugin of that name is installed,
// because the grant would wait for a consent screen that is not coming.
func (s *Store) AddGrant(ctx context.Context, g Grant) (Grant, error) {
	g, err := s.checkGrant(g, SourceUser)
	if err != nil {
		return Grant{}, s.refused(ctx, g, fmt.Errorf("add grant: %w", err))
	}
	if err := s.addGrantTx(ctx, &g); err != nil {
		return Grant{}, fmt.Errorf("add grant for %s on %s: %w", g.Plugin, g.Resource, err)
	}
	return g, s.record(ctx, Event{Type: EventGrantAdded, Grant: &g})
}

// addGrantTx checks g's binding against the installed row and inserts g, in
// one transaction so that no install can come between the two.
func (s *Store) addGrantTx(ctx context.Context, g *Grant) error {
	tx, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (the DSN's _txlock)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var installID, keyID string
	err = tx.QueryRowContext(ctx, `SELECT install_id, key_id FROM plugins WHERE id = ?`, g.Plugin).Scan(&installID, &keyID)
	installed := err == nil
	switch {
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return err
	case g.InstallID == "" && installed:
		return fmt.Errorf("%s is installed (signed by %s), so a grant must be for that install, not pending: %w", g.Plugin, keyName(keyID), ErrExists)
	case g.InstallID != "" && !installed:
		return fmt.Errorf("%s was uninstalled meanwhile: %w", g.Plugin, ErrChanged)
	case g.InstallID != "" && g.InstallID != installID:
		return fmt.Errorf("%s was reinstalled meanwhile (install %s, not %s): %w", g.Plugin, installID, g.InstallID, ErrChanged)
	case g.InstallID != "" && g.KeyID != "" && g.KeyID != keyID:
		return fmt.Errorf("the installed %s is signed by %s, not %s: %w", g.Plugin, keyName(keyID), g.KeyID, ErrChanged)
	}
	if installed {
		g.KeyID = keyID
	}
	if err := insertGrant(ctx, tx, g); err != nil {
		return err
	}
	return tx.Commit()
}

// checkGrant applies the defaults (Created now, Source def) and the rules a
// stored grant must follow, and returns the grant as it will be stored.
func (s *Store) checkGrant(g Grant, def GrantSource) (Grant, error) {
	if g.Plugin == "" || g.Resource == "" {
		return Grant{}, fmt.Errorf("plugin and resource are required: %w", ErrInvalid)
	}
	acts, err := normActions(g.Actions)
	if err != nil {
		return Grant{}, fmt.Errorf("grant for %s on %s: %w", g.Plugin, g.Resource, err)
	}
	g.Actions = acts
	if g.Source == "" {
		g.Source = def
	}
	switch g.Source {
	case SourceUser, SourceInstall, SourcePolicy:
	default:
		return Grant{}, fmt.Errorf("grant for %s: source %q is not user, install or policy: %w", g.Plugin, g.Source, ErrInvalid)
	}
	if g.Created.IsZero() {
		g.Created = s.cfg.now()
	}
	g.Created = g.Created.UTC()
	if !g.Expires.IsZero() {
		g.Expires = g.Expires.UTC()
		if !g.Expires.After(g.Created) {
			return Grant{}, fmt.Errorf("grant for %s on %s: expires %s is not after created %s: %w",
				g.Plugin, g.Resource, g.Expires.Format(time.RFC3339), g.Created.Format(time.RFC3339), ErrInvalid)
		}
	}
	// Whatever path a grant comes by (warden grant, an install, a future
	// one), none that reaches warden's own state is ever stored. A pattern
	// that does not parse is stored as text and only ever denies.
	if pat, err := resource.Parse(g.Resource); err == nil {
		if err := s.cfg.protected.Check(pat); err != nil {
			return g, fmt.Errorf("grant for %s: %w", g.Plugin, err)
		}
	}
	return g, nil
}

// keyName names a publisher key id in an error.
func keyName(id string) string {
	if id == "" {
		return "no publisher key"
	}
	return "key " + id
}

// refused records a grant checkGrant refused because it reaches warden's
// own state (tamper evidence: something tried) and returns err.
func (s *Store) refused(ctx context.Context, g Grant, err error) error {
	if !errors.Is(err, home.ErrProtected) {
		return err
	}
	if rerr := s.record(ctx, Event{Type: EventGrantRefused, Grant: &g, Reason: err.Error()}); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// queryRower is *sql.DB or *sql.Tx.
type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// insertGrant inserts a checked grant and sets its ID.
func insertGrant(ctx context.Context, q queryRower, g *Grant) error {
	return q.QueryRowContext(ctx,
		`INSERT INTO grants (plugin, resource, actions, created, expires, source, note, key_id, install_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		g.Plugin, g.Resource, strings.Join(g.Actions, ","), g.Created.UnixNano(), nanos(g.Expires), string(g.Source), g.Note, g.KeyID, g.InstallID,
	).Scan(&g.ID)
}

const grantCols = `id, plugin, resource, actions, created, expires, source, note, key_id, install_id`

func scanGrants(rows *sql.Rows) ([]Grant, error) {
	defer rows.Close()
	var out []Grant
	for rows.Next() {
		var (
			g       Grant
			acts    string
			created int64
			expires sql.NullInt64
			source  string
		)
		if err := rows.Scan(&g.ID, &g.Plugin, &g.Resource, &acts, &created, &expires, &source, &g.Note, &g.KeyID, &g.InstallID); err != nil {
			return nil, err
		}
		g.Actions = strings.Split(acts, ",")
		g.Created = time.Unix(0, created).UTC()
		g.Expires = fromNanos(expires)
		g.Source = GrantSource(source)
		out = append(out, g)
	}
	return out, rows.Err()
}

// ListGrants returns the grants of plugin, or of every plugin when plugin is
// empty, expired ones included, ordered by id.
func (s *Store) ListGrants(ctx context.Context, plugin string) ([]Grant, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if plugin == "" {
		rows, err = s.db.QueryContext(ctx, `SELECT `+grantCols+` FROM grants ORDER BY id`)
	} else {
		rows, err = s.db.QueryContext(ctx, `SELECT `+grantCols+` FROM grants WHERE plugin = ? ORDER BY id`, plugin)
	}
	if err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	gs, err := scanGrants(rows)
	if err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	return gs, nil
}

// boundCols are grantCols of grants g joined to the installed row p that
// they are bound to: the one place that says which grants can apply.
const boundCols = `g.id, g.plugin, g.resource, g.actions, g.created, g.expires, g.source, g.note, g.key_id, g.install_id`

const boundJoin = ` FROM grants g JOIN plugins p ON p.id = g.plugin AND p.install_id = g.install_id AND p.key_id = g.key_id
	WHERE g.install_id <> '' AND (g.expires IS NULL OR g.expires > ?)`

// ActiveGrants returns every grant in force at now, ordered by id: the snapshot
// the policy engine decides with. A grant is in force when it has not expired
// and is bound to its plugin's current install (Grant.BoundTo); pending
// grants and grants of an install that is gone are never returned.
func (s *Store) ActiveGrants(ctx context.Context, now time.Time) ([]Grant, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+boundCols+boundJoin+` ORDER BY g.id`, now.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("list active grants: %w", err)
	}
	gs, err := scanGrants(rows)
	if err != nil {
		return nil, fmt.Errorf("list active grants: %w", err)
	}
	return gs, nil
}

// ActiveGrantsOf returns the grants in force at now for the install p (its
// id, install id and publisher key), ordered by id: the grants the host mints
// p's tokens from. If p is no longer the installed row, nothing is returned.
func (s *Store) ActiveGrantsOf(ctx context.Context, p Plugin, now time.Time) ([]Grant, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+boundCols+boundJoin+` AND p.id = ? AND p.install_id = ? AND p.key_id = ? ORDER BY g.id`,
		now.UnixNano(), p.ID, p.InstallID, p.KeyID)
	if err != nil {
		return nil, fmt.Errorf("list active grants of %s: %w", p.ID, err)
	}
	gs, err := scanGrants(rows)
	if err != nil {
		return nil, fmt.Errorf("list active grants of %s: %w", p.ID, err)
	}
	return gs, nil
}

// DeleteGrant removes grant id; ErrNotFound if there is none.
func (s *Store) DeleteGrant(ctx context.Context, id int64) error {
	rows, err := s.db.QueryContext(ctx, `DELETE FROM grants WHERE id = ? RETURNING `+grantCols, id)
	if err != nil {
		return fmt.Errorf("delete grant %d: %w", id, err)
	}
	gs, err := scanGrants(rows)
	if err != nil {
		return fmt.Errorf("delete grant %d: %w", id, err)
	}
	if len(gs) == 0 {
		return fmt.Errorf("delete grant %d: %w", id, ErrNotFound)
	}
	return s.record(ctx, Event{Type: EventGrantDeleted, Grant: &gs[0]})
}

// RevocationKind says what a revocation names.
type RevocationKind string

// Revocation kinds. A token revocation names one token by its jti; a plugin or
// publisher revocation kills every token issued to it before the revocation
// (RevokedBefore), so tokens minted after a re-grant still work; a key revocation
// names a key id.
const (
	RevokeToken     RevocationKind = "token"
	RevokePlugin    RevocationKind = "plugin"
	RevokePublisher RevocationKind = "publisher"
	RevokeKey       RevocationKind = "key"
)

// Revocation is one row of the local revocation list.
type Revocation struct {
	Kind          RevocationKind `json:"kind"`
	Value         string         `json:"value"`
	Reason        string         `json:"reason,omitempty"`
	Created       time.Time      `json:"created"`
	RevokedBefore time.Time      `json:"revoked_before,omitzero"` // plugin, publisher: tokens issued before this are dead
}

// Revoke records a revocation of kind for value, at now. Revoking the same
// value again moves Created and RevokedBefore forward and replaces the reason.
func (s *Store) Revoke(ctx context.Context, kind RevocationKind, value, reason string) (Revocation, error) {
	switch kind {
	case RevokeToken, RevokePlugin, RevokePublisher, RevokeKey:
	default:
		return Revocation{}, fmt.Errorf("revoke: kind %q is not token, plugin, publisher or key: %w", kind, ErrInvalid)
	}
	if value == "" {
		return Revocation{}, fmt.Errorf("revoke %s: empty value: %w", kind, ErrInvalid)
	}
	now := s.cfg.now().UTC()
	r := Revocation{Kind: kind, Value: value, Reason: reason, Created: now}
	if kind == RevokePlugin || kind == RevokePublisher {
		r.RevokedBefore = now
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO revocations (kind, value, reason, created, revoked_before) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (kind, value) DO UPDATE SET reason = excluded.reason, created = excluded.created, revoked_before = excluded.revoked_before`,
		string(kind), value, reason, now.UnixNano(), nanos(r.RevokedBefore))
	if err != nil {
		return Revocation{}, fmt.Errorf("revoke %s %s: %w", kind, value, err)
	}
	return r, s.record(ctx, Event{Type: EventRevoked, Revocation: &r})
}

// Revocations returns every revocation, ordered by kind and value.
func (s *Store) Revocations(ctx context.Context) ([]Revocation, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT kind, value, reason, created, revoked_before FROM revocations ORDER BY kind, value`)
	if err != nil {
		return nil, fmt.Errorf("list revocations: %w", err)
	}
	defer rows.Close()
	var out []Revocation
	for rows.Next() {
		var (
			r       Revocation
			kind    string
			created int64
			before  sql.NullInt64
		)
		if err := rows.Scan(&kind, &r.Value, &r.Reason, &created, &before); err != nil {
			return nil, fmt.Errorf("list revocations: %w", err)
		}
		r.Kind = RevocationKind(kind)
		r.Created = time.Unix(0, created).UTC()
		r.RevokedBefore = fromNanos(before)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list revocations: %w", err)
	}
	return out, nil
}

// errNoRows maps sql.ErrNoRows to ErrNotFound.
func errNoRows(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}
