package trust

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wardenproject/warden/internal/keyid"
	"github.com/wardenproject/warden/store"
)

// RevocationDoc is the payload of a signed revocation list.
type RevocationDoc struct {
	Version uint64          `json:"version"`
	Issued  time.Time       `json:"issued"`
	Keys    []RevokedKey    `json:"keys"`
	Bundles []RevokedBundle `json:"bundles"`
	Plugins []RevokedPlugin `json:"plugins"`
	Tokens  []RevokedToken  `json:"tokens"`
}

// RevokedKey revokes a publisher key: every bundle it signed.
type RevokedKey struct {
	ID     string `json:"key_id"`
	Reason string `json:"reason"`
}

// RevokedBundle revokes one bundle by its digest (bundle.Bundle.Digest).
type RevokedBundle struct {
	Digest string `json:"digest"`
	Reason string `json:"reason"`
}

// RevokedPlugin revokes the versions of a plugin that match a range.
type RevokedPlugin struct {
	Name     string `json:"name"`
	Versions string `json:"versions"` // a range, see ParseRange
	Reason   string `json:"reason"`
}

// RevokedToken revokes one capability token by its id (jti).
type RevokedToken struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

func (d RevocationDoc) normalised() RevocationDoc {
	if d.Keys == nil {
		d.Keys = []RevokedKey{}
	}
	if d.Bundles == nil {
		d.Bundles = []RevokedBundle{}
	}
	if d.Plugins == nil {
		d.Plugins = []RevokedPlugin{}
	}
	if d.Tokens == nil {
		d.Tokens = []RevokedToken{}
	}
	return d
}

// RevocationList is a verified revocation list, ready for lookups. The zero
// value and nil revoke nothing. It implements bundle.Revocations.
type RevocationList struct {
	doc     RevocationDoc
	keys    map[string]string
	bundles map[string]string
	plugins []pluginRange
}

type pluginRange struct {
	name   string
	r      Range
	reason string
}

func newRevocationList(doc RevocationDoc) (*RevocationList, error) {
	l := &RevocationList{doc: doc.normalised(), keys: map[string]string{}, bundles: map[string]string{}}
	for _, k := range doc.Keys {
		if !keyid.Valid(k.ID) {
			return nil, fmt.Errorf("revoked key %q is not a key id: %w", k.ID, ErrFormat)
		}
		l.keys[k.ID] = k.Reason
	}
	for _, b := range doc.Bundles {
		if len(b.Digest) != 71 || !strings.HasPrefix(b.Digest, "sha256:") {
			return nil, fmt.Errorf("revoked bundle %q is not a sha256: digest: %w", b.Digest, ErrFormat)
		}
		l.bundles[b.Digest] = b.Reason
	}
	for _, p := range doc.Plugins {
		r, err := ParseRange(p.Versions)
		if err != nil {
			return nil, fmt.Errorf("revoked plugin %q: %v: %w", p.Name, err, ErrFormat)
		}
		if p.Name == "" {
			return nil, fmt.Errorf("revoked plugin with an empty name: %w", ErrFormat)
		}
		l.plugins = append(l.plugins, pluginRange{name: p.Name, r: r, reason: p.Reason})
	}
	for _, t := range doc.Tokens {
		if t.ID == "" {
			return nil, fmt.Errorf("revoked token with an empty id: %w", ErrFormat)
		}
	}
	return l, nil
}

// Version returns the list's version (0 for the empty list).
func (l *RevocationList) Version() uint64 {
	if l == nil {
		return 0
	}
	return l.doc.Version
}

// Doc returns the list's content.
func (l *RevocationList) Doc() RevocationDoc {
	if l == nil {
		return RevocationDoc{}.normalised()
	}
	return l.doc
}

// RevokedKey reports whether publisher key id is revoked.
func (l *RevocationList) RevokedKey(id string) (string, bool) {
	if l == nil {
		return "", false
	}
	why, ok := l.keys[id]
	return why, ok
}

// RevokedBundle reports whether the bundle with digest is revoked.
func (l *RevocationList) RevokedBundle(digest string) (string, bool) {
	if l == nil {
		return "", false
	}
	why, ok := l.bundles[digest]
	return why, ok
}

// RevokedVersion reports whether version of plugin is revoked.
func (l *RevocationList) RevokedVersion(plugin, version string) (string, bool) {
	if l == nil {
		return "", false
	}
	for _, p := range l.plugins {
		if p.name == plugin && p.r.Contains(version) {
			return p.reason, true
		}
	}
	return "", false
}

// PluginStore is what Apply needs of the state store.
type PluginStore interface {
	ListPlugins(ctx context.Context) ([]store.Plugin, error)
	SetPluginState(ctx context.Context, id string, state store.PluginState) error
	Revoke(ctx context.Context, kind store.RevocationKind, value, reason string) (store.Revocation, error)
}

// Applied says what Apply changed.
type Applied struct {
	Quarantined []string `json:"quarantined"` // plugin ids
	Keys        int      `json:"keys"`
	Tokens      int      `json:"tokens"`
}

// Apply makes l take effect in st: every installed plugin whose signing key,
// bundle digest or version is revoked is quarantined and gets a plugin
// revocation (which kills its tokens), and every revoked key and token id is
// recorded as a store revocation. It is idempotent.
func Apply(ctx context.Context, st PluginStore, l *RevocationList) (Applied, error) {
	var a Applied
	if l == nil {
		return a, nil
	}
	plugins, err := st.ListPlugins(ctx)
	if err != nil {
		return a, fmt.Errorf("apply revocation list: %w", err)
	}
	for _, p := range plugins {
		why, hit := l.RevokedKey(p.KeyID)
		if !hit {
			why, hit = l.RevokedBundle(p.Digest)
		}
		if !hit {
			why, hit = l.RevokedVersion(p.ID, p.Version)
		}
		if !hit {
			continue
		}
		if p.State != store.StateQuarantined {
			if err := st.SetPluginState(ctx, p.ID, store.StateQuarantined); err != nil {
				return a, fmt.Errorf("apply revocation list: %w", err)
			}
		}
		if _, err := st.Revoke(ctx, store.RevokePlugin, p.ID, "revocation list v"+fmt.Sprint(l.Version())+": "+why); err != nil {
			return a, fmt.Errorf("apply revocation list: %w", err)
		}
		a.Quarantined = append(a.Quarantined, p.ID)
	}
	for _, k := range l.doc.Keys {
		if _, err := st.Revoke(ctx, store.RevokeKey, k.ID, k.Reason); err != nil {
			return a, fmt.Errorf("apply revocation list: %w", err)
		}
		a.Keys++
	}
	for _, t := range l.doc.Tokens {
		if _, err := st.Revoke(ctx, store.RevokeToken, t.ID, t.Reason); err != nil {
			return a, fmt.Errorf("apply revocation list: %w", err)
		}
		a.Tokens++
	}
	slices.Sort(a.Quarantined)
	return a, nil
}
