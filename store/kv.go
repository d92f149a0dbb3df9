package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Caps on the per-plugin key-value storage. They bound what one plugin can make
// the host hold in memory for one call and on disk overall.
const (
	MaxKVKey    = 256     // bytes of UTF-8
	MaxKVValue  = 1 << 20 // bytes
	MaxKVList   = 1000    // keys per KVList call
	kvListFloor = 1
)

func checkKVKey(plugin, key string) error {
	switch {
	case plugin == "":
		return fmt.Errorf("kv: empty plugin id: %w", ErrInvalid)
	case key == "":
		return fmt.Errorf("kv %s: empty key: %w", plugin, ErrInvalid)
	case len(key) > MaxKVKey:
		return fmt.Errorf("kv %s: key of %d bytes is over the %d-byte cap: %w", plugin, len(key), MaxKVKey, ErrTooLarge)
	case !utf8.ValidString(key) || strings.ContainsRune(key, 0):
		return fmt.Errorf("kv %s: key is not valid UTF-8 text without NUL: %w", plugin, ErrInvalid)
	}
	return nil
}

// KVGet returns the value of key in plugin's storage, or ErrNotFound.
func (s *Store) KVGet(ctx context.Context, plugin, key string) ([]byte, error) {
	if err := checkKVKey(plugin, key); err != nil {
		return nil, err
	}
	var v []byte
	err := s.db.QueryRowContext(ctx, `SELECT value FROM kv WHERE plugin = ? AND key = ?`, plugin, key).Scan(&v)
	if err != nil {
		return nil, fmt.Errorf("kv get %s %q: %w", plugin, key, errNoRows(err))
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// KVSet stores value under key in plugin's storage. It fails with ErrTooLarge
// over the key or value cap and with ErrQuotaExceeded when the plugin's total
// (key bytes plus value bytes, counting the new value instead of the old) would
// pass the quota.
func (s *Store) KVSet(ctx context.Context, plugin, key string, value []byte) error {
	if err := checkKVKey(plugin, key); err != nil {
		return err
	}
	if len(value) > MaxKVValue {
		return fmt.Errorf("kv set %s %q: value of %d bytes is over the %d-byte cap: %w", plugin, key, len(value), MaxKVValue, ErrTooLarge)
	}
	if value == nil {
		value = []byte{} // NOT NULL column; an empty value is a value
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("kv set %s %q: %w", plugin, key, err)
	}
	defer tx.Rollback()
	var used, old int64
	if err := tx.QueryRowContext(ctx, `SELECT bytes FROM kv_usage WHERE plugin = ?`, plugin).Scan(&used); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("kv set %s %q: %w", plugin, key, err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT length(CAST(key AS BLOB)) + length(value) FROM kv WHERE plugin = ? AND key = ?`,
		plugin, key).Scan(&old); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("kv set %s %q: %w", plugin, key, err)
	}
	if total := used - old + int64(len(key)+len(value)); total > s.cfg.kvQuota {
		return fmt.Errorf("kv set %s %q: storage would grow to %d bytes, over the plugin's quota of %d; delete keys first: %w",
			plugin, key, total, s.cfg.kvQuota, ErrQuotaExceeded)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO kv (plugin, key, value, updated) VALUES (?, ?, ?, ?)
		ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value, updated = excluded.updated`,
		plugin, key, value, s.cfg.now().UnixNano()); err != nil {
		return fmt.Errorf("kv set %s %q: %w", plugin, key, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("kv set %s %q: %w", plugin, key, err)
	}
	return nil
}

// KVDelete removes key from plugin's storage, or returns ErrNotFound.
func (s *Store) KVDelete(ctx context.Context, plugin, key string) error {
	if err := checkKVKey(plugin, key); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM kv WHERE plugin = ? AND key = ?`, plugin, key)
	if err != nil {
		return fmt.Errorf("kv delete %s %q: %w", plugin, key, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("kv delete %s %q: %w", plugin, key, ErrNotFound)
	}
	return nil
}

// KVList returns up to limit keys of plugin's storage that start with prefix, in
// byte order. limit is clamped to [1, MaxKVList].
func (s *Store) KVList(ctx context.Context, plugin, prefix string, limit int) ([]string, error) {
	if plugin == "" {
		return nil, fmt.Errorf("kv list: empty plugin id: %w", ErrInvalid)
	}
	limit = max(kvListFloor, min(limit, MaxKVList))
	// A half-open key range instead of LIKE: it uses the primary key index and
	// treats '%' and '_' in the prefix as themselves.
	var (
		rows *sql.Rows
		err  error
	)
	if hi, ok := prefixEnd(prefix); ok {
		rows, err = s.db.QueryContext(ctx, `SELECT key FROM kv WHERE plugin = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?`,
			plugin, prefix, hi, limit)
	} else {
		rows, err = s.db.QueryContext(ctx, `SELECT key FROM kv WHERE plugin = ? AND key >= ? ORDER BY key LIMIT ?`,
			plugin, prefix, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("kv list %s %q: %w", plugin, prefix, err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("kv list %s %q: %w", plugin, prefix, err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("kv list %s %q: %w", plugin, prefix, err)
	}
	return keys, nil
}

// KVUsage returns the bytes plugin's storage counts against its quota.
func (s *Store) KVUsage(ctx context.Context, plugin string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT bytes FROM kv_usage WHERE plugin = ?`, plugin).Scan(&n)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("kv usage of %s: %w", plugin, err)
	}
	return n, nil
}

// prefixEnd returns the smallest string greater than every string with the
// prefix, or false when there is none (empty prefix or all 0xff bytes).
func prefixEnd(prefix string) (string, bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}
