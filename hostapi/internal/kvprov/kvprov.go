// Package kvprov is the key-value provider: each plugin's private storage in
// warden's state database (store.Store's KV table), reached only through the
// gate. It sits under hostapi/internal so that nothing outside hostapi can
// import it.
package kvprov

import (
	"context"
	"errors"

	"github.com/wardenproject/warden/store"
)

// Store is the part of store.Store the provider uses.
type Store interface {
	KVGet(ctx context.Context, plugin, key string) ([]byte, error)
	KVSet(ctx context.Context, plugin, key string, value []byte) error
	KVDelete(ctx context.Context, plugin, key string) error
	KVList(ctx context.Context, plugin, prefix string, limit int) ([]string, error)
}

// Get returns the value of key and whether it exists.
func Get(ctx context.Context, s Store, plugin, key string) ([]byte, bool, error) {
	v, err := s.KVGet(ctx, plugin, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return v, true, nil
}

// Set stores value under key.
func Set(ctx context.Context, s Store, plugin, key string, value []byte) error {
	return s.KVSet(ctx, plugin, key, value)
}

// Delete removes key and reports whether it existed.
func Delete(ctx context.Context, s Store, plugin, key string) (bool, error) {
	err := s.KVDelete(ctx, plugin, key)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// List returns the keys starting with prefix for which visible is true, at
// most store.MaxKVList of them.
func List(ctx context.Context, s Store, plugin, prefix string, visible func(key string) bool) ([]string, error) {
	keys, err := s.KVList(ctx, plugin, prefix, store.MaxKVList)
	if err != nil {
		return nil, err
	}
	out := keys[:0]
	for _, k := range keys {
		if visible(k) {
			out = append(out, k)
		}
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}
