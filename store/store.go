// Package store keeps warden's local state in one embedded SQLite database,
// <home>/state.db: user grants, revocations, installed plugins, key metadata and
// each plugin's private key-value storage.
//
// # Why SQLite (modernc.org/sqlite) and not bbolt
//
// Both are embedded and need no server, and both are pure Go here. SQLite wins on
// the three things this state needs:
//
//   - Queries by column. The policy asks "grants of plugin P", the revocation
//     check asks "revocations of kind K", the CLI lists by plugin or by state. In
//     SQLite that is an index and a WHERE clause; in bbolt every such view is a
//     hand-kept secondary bucket that each writer must update in step.
//   - Migrations. Later issues extend these tables (the bundle issue adds columns
//     to plugins). SQL DDL in numbered, transactional migrations says exactly what
//     changed; a key-value store needs hand-written data rewrites.
//   - Two processes. A desktop runs `warden mcp` for the agent while the user runs
//     `warden grant` in a terminal. bbolt takes an exclusive file lock, so the
//     second process blocks until the first closes the database. SQLite in WAL
//     mode lets readers proceed during a write and queues writers behind a busy
//     timeout, which is what two warden processes on one home need.
//
// # How the database is opened
//
// Every connection runs with journal_mode=WAL, busy_timeout (so a writer waits for
// another process instead of failing with SQLITE_BUSY), foreign_keys=ON and
// synchronous=NORMAL (in WAL mode a commit survives a process crash; a power loss
// may lose the last commits but never corrupts the file). Every write
// transaction starts with BEGIN IMMEDIATE: a deferred transaction that first reads
// and then writes cannot wait for the lock and fails at once under contention.
//
// The schema is versioned by PRAGMA user_version, with one row per applied
// migration in schema_migrations for people reading the file. Migrations are the
// numbered SQL files in migrations/, embedded in the binary, each applied in its
// own transaction. A database written by a newer warden is refused with
// ErrSchemaTooNew rather than guessed at.
//
// The file is created with mode 0600 and refused (home.ErrUnsafe) when others can
// read it: plugins' private storage lives in it.
//
// Changes that security reviewers care about (grants, revocations, quarantine)
// are reported to a Recorder after they commit; that is the seam the audit ledger
// plugs into (see WithRecorder).
//
// Installing a plugin (its row, the grants it replaces and the grants it gets)
// is one transaction, InstallPlugin, and so is uninstalling one (row, kv data,
// grants), DeletePlugin: no failure leaves a plugin without its grants or
// grants without their plugin.
//
// # Grants are bound to an install
//
// Each install gets a random install id (Plugin.InstallID); an upgrade from
// the same publisher key keeps it, anything else mints a new one. Each grant
// records the install id and publisher key it was given for, and applies only
// while both match its plugin's row (Grant.BoundTo). ActiveGrants and
// ActiveGrantsOf, the only reads the host decides and mints tokens with, join
// on that, so no code path can hand a plugin a grant given to another
// publisher's plugin of the same name, to an earlier install, or before any
// install. A grant given before any install is pending (no install id) until
// a consent screen confirms it (InstallOpts.ConfirmGrantIDs).
//
// No stored grant reaches warden's own state: AddGrant and InstallPlugin
// refuse a filesystem pattern that reaches the home holding the database, the
// other homes of home.Known, or a path given with WithProtected, in any
// spelling (home.Protected), with an error wrapping home.ErrProtected, and
// report the refusal to the Recorder as grant.refused. Every way a grant is
// made ends here, so none can skip the check.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite" // also registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/wardenproject/warden/internal/home"
)

// FileName is the database's name under warden's home directory.
const FileName = "state.db"

// Errors a caller may branch on; every error the package returns wraps at most one
// of them.
var (
	// ErrNotFound: the grant, plugin, key or kv entry does not exist.
	ErrNotFound = errors.New("not found")
	// ErrSchemaTooNew: the database was written by a newer warden.
	ErrSchemaTooNew = errors.New("database schema is newer than this warden")
	// ErrInvalid: an argument breaks the store's rules (empty id, bad enum value, ...).
	ErrInvalid = errors.New("invalid argument")
	// ErrTooLarge: a kv key or value is over its size cap.
	ErrTooLarge = errors.New("too large")
	// ErrQuotaExceeded: a kv write would take the plugin over its storage quota.
	ErrQuotaExceeded = errors.New("storage quota exceeded")
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store is an open state database. It is safe for concurrent use by many
// goroutines, and the same file may be open in other processes at the same time.
type Store struct {
	db   *sql.DB
	path string
	cfg  config
}

type config struct {
	busyTimeout time.Duration
	kvQuota     int64
	recorder    Recorder
	now         func() time.Time
	maxVersion  int // tests stop migrations early to build an old database
	// afterPluginRow runs inside InstallPlugin's transaction between the
	// plugin row and the grants; tests fail or cancel there to prove that
	// nothing of a half-done install is committed.
	afterPluginRow func(ctx context.Context) error
	// protected are the paths no grant may reach: the home holding the
	// database and the others of home.Known, always, plus WithProtected's.
	protected home.Protected
	extra     []home.Guarded
}

// WithProtected adds paths no stored grant may reach (a compilation cache
// or policy file outside the home). The home that holds the database, the
// home $WARDEN_HOME names and the default home are protected always.
func WithProtected(paths ...home.Guarded) Option {
	return func(c *config) { c.extra = append(c.extra, paths...) }
}

// Option configures Open.
type Option func(*config)

// DefaultKVQuota is each plugin's kv storage quota (key bytes plus value bytes)
// unless WithKVQuota says otherwise.
const DefaultKVQuota = 64 << 20

// DefaultBusyTimeout is how long a write waits for another process's write.
const DefaultBusyTimeout = 10 * time.Second

// WithKVQuota sets each plugin's kv storage quota in bytes (key plus value bytes
// over all its entries).
func WithKVQuota(bytes int64) Option { return func(c *config) { c.kvQuota = bytes } }

// WithBusyTimeout sets how long a write waits for a lock held by another
// connection or process before failing.
func WithBusyTimeout(d time.Duration) Option { return func(c *config) { c.busyTimeout = d } }

// WithRecorder makes the store report each committed grant, revocation and
// plugin-state change to r. The lead wires the audit ledger here.
func WithRecorder(r Recorder) Option { return func(c *config) { c.recorder = r } }

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// Path returns the conventional database path under a warden home directory.
func Path(homeDir string) string { return filepath.Join(homeDir, FileName) }

// Open opens (creating if needed) the database at path and brings its schema up
// to date. The directory must exist.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	cfg := config{busyTimeout: DefaultBusyTimeout, kvQuota: DefaultKVQuota, now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	migs, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	if cfg.maxVersion == 0 || cfg.maxVersion > len(migs) {
		cfg.maxVersion = len(migs)
	}
	if err := createPrivate(path); err != nil {
		return nil, err
	}
	cfg.protected = home.NewProtected(home.Guarded{Path: filepath.Dir(path), What: home.WhatHome}).With(home.Known()...).With(cfg.extra...)
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(cfg.busyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	// A file: URI with the path escaped, so that a '?' or '#' in a directory name
	// cannot be read as DSN parameters.
	dsn := (&url.URL{Scheme: "file", Path: uriPath(path), RawQuery: q.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open state database %s: %w", path, err)
	}
	s := &Store{db: db, path: path, cfg: cfg}
	if err := s.migrate(ctx, migs[:cfg.maxVersion], len(migs)); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// createPrivate creates path with mode 0600 if it does not exist, and refuses an
// existing file that others can read or that is not the caller's.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		f.Close()
	case !errors.Is(err, fs.ErrExist):
		return fmt.Errorf("create state database %s: %w", path, err)
	}
	if err := home.CheckPrivate(path); err != nil {
		return fmt.Errorf("open state database: %w", err)
	}
	return nil
}

// Close closes the database. Other processes keep their own connections.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close state database %s: %w", s.path, err)
	}
	return nil
}

// Path returns the file the store was opened on.
func (s *Store) Path() string { return s.path }

// IntegrityCheck runs PRAGMA integrity_check and returns nil when SQLite reports
// "ok".
func (s *Store) IntegrityCheck(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("check state database %s: %w", s.path, err)
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return fmt.Errorf("check state database %s: %w", s.path, err)
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check state database %s: %w", s.path, err)
	}
	if len(msgs) == 1 && msgs[0] == "ok" {
		return nil
	}
	return fmt.Errorf("state database %s is damaged: %s", s.path, strings.Join(msgs, "; "))
}

// SchemaVersion returns the database's schema version (PRAGMA user_version).
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version of %s: %w", s.path, err)
	}
	return v, nil
}

// LatestSchemaVersion is the schema version this binary writes.
func LatestSchemaVersion() int {
	migs, err := loadMigrations()
	if err != nil {
		return 0
	}
	return len(migs)
}

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads migrations/NNNN_name.sql and checks that versions run
// 1, 2, 3, ... without gaps, so that a missing file fails every test at once.
func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	var migs []migration
	for _, e := range entries {
		name := e.Name()
		num, rest, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(rest, ".sql") {
			return nil, fmt.Errorf("embedded migration %q is not named NNNN_name.sql", name)
		}
		b, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			return nil, fmt.Errorf("read embedded migration %s: %w", name, err)
		}
		migs = append(migs, migration{version: v, name: strings.TrimSuffix(rest, ".sql"), sql: string(b)})
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].version < migs[j].version })
	for i, m := range migs {
		if m.version != i+1 {
			return nil, fmt.Errorf("embedded migrations skip from %d to %d", i, m.version)
		}
	}
	return migs, nil
}

// migrate applies the missing migrations, one transaction each. The version is
// re-read inside each BEGIN IMMEDIATE transaction, so two processes that open a
// fresh file at once apply each migration exactly once.
//
// The first connections to a brand-new file race to switch it to WAL mode, and
// SQLite answers that race with SQLITE_BUSY without calling the busy handler; so
// a busy error here is retried, with a short backoff, until the busy timeout.
func (s *Store) migrate(ctx context.Context, migs []migration, latest int) error {
	deadline := time.Now().Add(s.cfg.busyTimeout)
	wait := 5 * time.Millisecond
	for {
		done, err := s.migrateOne(ctx, migs, latest)
		switch {
		case err == nil && done:
			return nil
		case err == nil:
			continue
		case !isBusy(err) || time.Now().After(deadline):
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("open state database %s: %w", s.path, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// isBusy reports whether err is SQLite's SQLITE_BUSY (any extended code).
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

func (s *Store) migrateOne(ctx context.Context, migs []migration, latest int) (done bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate state database %s: %w", s.path, err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return false, fmt.Errorf("read schema version of %s: %w", s.path, err)
	}
	if v > latest {
		return false, fmt.Errorf("open state database %s: schema version %d, this warden knows up to %d; upgrade warden or use another --home: %w",
			s.path, v, latest, ErrSchemaTooNew)
	}
	if v < 0 {
		return false, fmt.Errorf("open state database %s: negative schema version %d; it was not written by warden", s.path, v)
	}
	if v >= len(migs) {
		return true, nil
	}
	m := migs[v]
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return false, fmt.Errorf("migrate state database %s: %w", s.path, err)
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("apply migration %04d_%s to %s: %w", m.version, m.name, s.path, err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
		m.version, m.name, s.cfg.now().UnixNano()); err != nil {
		return false, fmt.Errorf("record migration %04d_%s in %s: %w", m.version, m.name, s.path, err)
	}
	// PRAGMA takes no bound parameters; m.version is an int we parsed.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
		return false, fmt.Errorf("record migration %04d_%s in %s: %w", m.version, m.name, s.path, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("commit migration %04d_%s to %s: %w", m.version, m.name, s.path, err)
	}
	return false, nil
}

// nanos stores a time as Unix nanoseconds; the zero time is NULL ("never").
func nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}
