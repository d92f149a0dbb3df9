package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// PluginState says whether an installed plugin may run.
type PluginState string

// Plugin states. A quarantined plugin stays installed (its files and data are kept
// for inspection) but the host refuses to run it.
const (
	StateActive      PluginState = "active"
	StateQuarantined PluginState = "quarantined"
)

// Plugin is one installed plugin.
type Plugin struct {
	ID          string          `json:"id"`
	Version     string          `json:"version"`
	Publisher   string          `json:"publisher,omitempty"`
	KeyID       string          `json:"key_id,omitempty"`
	Path        string          `json:"path,omitempty"` // directory the bundle was extracted to
	Manifest    json.RawMessage `json:"manifest"`
	Digest      string          `json:"digest,omitempty"`
	InstalledAt time.Time       `json:"installed_at"`
	State       PluginState     `json:"state"`
	Risk        int             `json:"risk"`
	// InstallID names this install: minted by each fresh install, kept by an
	// upgrade from the same publisher key (InstallOpts.Upgrade). Grants are
	// bound to it (Grant.BoundTo); an uninstall and reinstall gets a new one,
	// so no grant of the old install reaches the new one.
	InstallID string `json:"install_id"`
}

// UpsertPlugin inserts p or replaces the row with the same ID. InstalledAt
// defaults to now, State to active, and InstallID to a new install id: the
// grants bound to a row it replaces then no longer apply. It writes the row
// alone; installs and upgrades go through InstallPlugin, which also settles
// the grants in the same transaction.
func (s *Store) UpsertPlugin(ctx context.Context, p Plugin) error {
	p, err := s.checkPlugin(p)
	if err != nil {
		return err
	}
	if p.InstallID == "" {
		if p.InstallID, err = newInstallID(); err != nil {
			return fmt.Errorf("save plugin %s: %w", p.ID, err)
		}
	}
	if err := upsertPlugin(ctx, s.db, p); err != nil {
		return fmt.Errorf("save plugin %s: %w", p.ID, err)
	}
	return nil
}

// newInstallID returns 128 random bits in hex: ids of installs of the same
// name on one host never repeat, so a grant bound to one never matches
// another.
func newInstallID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("mint an install id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// checkPlugin applies the defaults (State active, InstalledAt now) and the
// rules a stored plugin row must follow.
func (s *Store) checkPlugin(p Plugin) (Plugin, error) {
	if p.ID == "" {
		return Plugin{}, fmt.Errorf("save plugin: empty id: %w", ErrInvalid)
	}
	if !json.Valid(p.Manifest) {
		return Plugin{}, fmt.Errorf("save plugin %s: manifest is not valid JSON: %w", p.ID, ErrInvalid)
	}
	if p.State == "" {
		p.State = StateActive
	}
	if p.State != StateActive && p.State != StateQuarantined {
		return Plugin{}, fmt.Errorf("save plugin %s: state %q is not active or quarantined: %w", p.ID, p.State, ErrInvalid)
	}
	if p.InstalledAt.IsZero() {
		p.InstalledAt = s.cfg.now()
	}
	p.InstalledAt = p.InstalledAt.UTC()
	return p, nil
}

// execer is *sql.DB or *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func upsertPlugin(ctx context.Context, db execer, p Plugin) error {
	_, err := db.ExecContext(ctx, `INSERT INTO plugins (id, version, publisher, key_id, path, manifest, digest, installed_at, state, risk, install_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET version = excluded.version, publisher = excluded.publisher, key_id = excluded.key_id,
			path = excluded.path, manifest = excluded.manifest, digest = excluded.digest, installed_at = excluded.installed_at,
			state = excluded.state, risk = excluded.risk, install_id = excluded.install_id`,
		p.ID, p.Version, p.Publisher, p.KeyID, p.Path, string(p.Manifest), p.Digest, p.InstalledAt.UnixNano(), string(p.State), p.Risk, p.InstallID)
	return err
}

const pluginCols = `id, version, publisher, key_id, path, manifest, digest, installed_at, state, risk, install_id`

type scanner interface{ Scan(dest ...any) error }

func scanPlugin(r scanner) (Plugin, error) {
	var (
		p        Plugin
		manifest string
		at       int64
		state    string
	)
	if err := r.Scan(&p.ID, &p.Version, &p.Publisher, &p.KeyID, &p.Path, &manifest, &p.Digest, &at, &state, &p.Risk, &p.InstallID); err != nil {
		return Plugin{}, err
	}
	p.Manifest = json.RawMessage(manifest)
	p.InstalledAt = time.Unix(0, at).UTC()
	p.State = PluginState(state)
	return p, nil
}

// GetPlugin returns installed plugin id, or ErrNotFound.
func (s *Store) GetPlugin(ctx context.Context, id string) (Plugin, error) {
	p, err := scanPlugin(s.db.QueryRowContext(ctx, `SELECT `+pluginCols+` FROM plugins WHERE id = ?`, id))
	if err != nil {
		return Plugin{}, fmt.Errorf("get plugin %s: %w", id, errNoRows(err))
	}
	return p, nil
}

// ListPlugins returns every installed plugin, ordered by id.
func (s *Store) ListPlugins(ctx context.Context) ([]Plugin, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+pluginCols+` FROM plugins ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list plugins: %w", err)
	}
	defer rows.Close()
	var out []Plugin
	for rows.Next() {
		p, err := scanPlugin(rows)
		if err != nil {
			return nil, fmt.Errorf("list plugins: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list plugins: %w", err)
	}
	return out, nil
}

// DeletePlugin uninstalls id: its row, its kv storage and every grant of that
// name (bound to this install or pending) go in one transaction. Grants go too
// because a later plugin of the same id may come from another publisher and
// must not inherit what the user granted this one; the install id each grant
// is bound to would keep them inert anyway, but a grant that can never apply
// should not sit in `warden grants` looking as if it could. Revocations stay.
// ErrNotFound if id is not installed.
func (s *Store) DeletePlugin(ctx context.Context, id string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete plugin %s: %w", id, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM plugins WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete plugin %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("delete plugin %s: %w", id, ErrNotFound)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM kv WHERE plugin = ?`, id); err != nil {
		return fmt.Errorf("delete storage of plugin %s: %w", id, err)
	}
	rows, err := tx.QueryContext(ctx, `DELETE FROM grants WHERE plugin = ? RETURNING `+grantCols, id)
	if err != nil {
		return fmt.Errorf("delete grants of plugin %s: %w", id, err)
	}
	gone, err := scanGrants(rows)
	if err != nil {
		return fmt.Errorf("delete grants of plugin %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete plugin %s: %w", id, err)
	}
	for i := range gone {
		if err := s.record(ctx, Event{Type: EventGrantDeleted, Grant: &gone[i]}); err != nil {
			return err
		}
	}
	return nil
}

// SetPluginState quarantines or re-activates plugin id.
func (s *Store) SetPluginState(ctx context.Context, id string, state PluginState) error {
	if state != StateActive && state != StateQuarantined {
		return fmt.Errorf("set state of plugin %s: %q is not active or quarantined: %w", id, state, ErrInvalid)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE plugins SET state = ? WHERE id = ?`, string(state), id)
	if err != nil {
		return fmt.Errorf("set state of plugin %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("set state of plugin %s: %w", id, ErrNotFound)
	}
	return s.record(ctx, Event{Type: EventPluginStateChanged, Plugin: id, State: state})
}

// KeyKind says what a key is for.
type KeyKind string

// Key kinds.
const (
	KeyHost      KeyKind = "host"      // signs capability tokens and audit checkpoints
	KeyPublisher KeyKind = "publisher" // signs plugin bundles
	KeyRoot      KeyKind = "root"      // signs trust registries and revocation lists
)

// Key is metadata about a key; private keys never enter the database.
type Key struct {
	ID        string    `json:"id"`
	Kind      KeyKind   `json:"kind"`
	PublicKey []byte    `json:"public_key,omitempty"`
	Created   time.Time `json:"created"`
	Retired   time.Time `json:"retired,omitzero"` // zero: in use
	Note      string    `json:"note,omitempty"`
}

// PutKey records k, replacing the metadata of a key with the same id.
func (s *Store) PutKey(ctx context.Context, k Key) error {
	switch {
	case k.ID == "":
		return fmt.Errorf("save key: empty id: %w", ErrInvalid)
	case k.Kind != KeyHost && k.Kind != KeyPublisher && k.Kind != KeyRoot:
		return fmt.Errorf("save key %s: kind %q is not host, publisher or root: %w", k.ID, k.Kind, ErrInvalid)
	}
	if k.Created.IsZero() {
		k.Created = s.cfg.now()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO keys (id, kind, public_key, created, retired, note) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, public_key = excluded.public_key, created = excluded.created,
			retired = excluded.retired, note = excluded.note`,
		k.ID, string(k.Kind), k.PublicKey, k.Created.UnixNano(), nanos(k.Retired), k.Note)
	if err != nil {
		return fmt.Errorf("save key %s: %w", k.ID, err)
	}
	return nil
}

// RetireKey marks key id retired at the store's current time.
func (s *Store) RetireKey(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE keys SET retired = ? WHERE id = ? AND retired IS NULL`, s.cfg.now().UnixNano(), id)
	if err != nil {
		return fmt.Errorf("retire key %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("retire key %s: no key in use with that id: %w", id, ErrNotFound)
	}
	return nil
}

// ListKeys returns the keys of kind (every kind when empty), oldest first.
func (s *Store) ListKeys(ctx context.Context, kind KeyKind) ([]Key, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, kind, public_key, created, retired, note FROM keys
		WHERE ? = '' OR kind = ? ORDER BY created, id`, string(kind), string(kind))
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	defer rows.Close()
	var out []Key
	for rows.Next() {
		var (
			k       Key
			kk      string
			created int64
			retired sql.NullInt64
		)
		if err := rows.Scan(&k.ID, &kk, &k.PublicKey, &created, &retired, &k.Note); err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		k.Kind = KeyKind(kk)
		k.Created = time.Unix(0, created).UTC()
		k.Retired = fromNanos(retired)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return out, nil
}
