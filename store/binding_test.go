package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

const (
	keyA = "ed25519:00000000000000aa"
	keyB = "ed25519:00000000000000bb"
)

func signedBy(version, key string) Plugin {
	p := plugin(version)
	p.KeyID = key
	return p
}

// activeIDs is the ids of ActiveGrants, and checks that ActiveGrantsOf the
// installed row agrees with it.
func activeIDs(t *testing.T, s *Store) []int64 {
	t.Helper()
	ctx := context.Background()
	all, err := s.ActiveGrants(ctx, time.Now())
	must(t, err)
	var ids []int64
	for _, g := range all {
		ids = append(ids, g.ID)
	}
	if p, err := s.GetPlugin(ctx, "demo"); err == nil {
		of, err := s.ActiveGrantsOf(ctx, p, time.Now())
		must(t, err)
		if len(of) != len(all) {
			t.Fatalf("ActiveGrantsOf(demo) = %v, ActiveGrants = %v", of, all)
		}
	}
	return ids
}

// Attack: a grant given to a plugin name before any install, pinned to
// publisher key A, must not apply when a plugin of that name from key B is
// installed, nor after an uninstall and reinstall from A unless confirmed
// again; only a confirmation at an install from A binds it.
func TestGrantBindingAcrossInstalls(t *testing.T) {
	ctx := context.Background()
	rec := &events{}
	s := openTest(t, WithRecorder(rec))

	pending, err := s.AddGrant(ctx, Grant{Plugin: "demo", Resource: "kv:secret", Actions: []string{"read"}, KeyID: keyA})
	must(t, err)
	if !pending.Pending() || pending.KeyID != keyA {
		t.Fatalf("grant before install: %+v, want pending for key A", pending)
	}

	// Key B installs "demo": the pending grant is not its, and cannot be
	// made its.
	b, err := s.InstallPlugin(ctx, signedBy("1.0.0", keyB), []Grant{grant("clipboard", "write")}, InstallOpts{})
	must(t, err)
	if ids := activeIDs(t, s); len(ids) != 1 || ids[0] != b.Added[0].ID {
		t.Fatalf("active grants with key B installed: %v, want only B's install grant", ids)
	}
	if _, err := s.InstallPlugin(ctx, signedBy("1.0.1", keyB), nil, InstallOpts{Replace: true, Upgrade: true, ConfirmGrantIDs: []int64{pending.ID}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("confirming key A's pending grant for key B: %v, want ErrInvalid", err)
	}
	// Nor can a new grant be pending while B's demo is installed, nor be
	// bound to an install the caller did not see.
	if _, err := s.AddGrant(ctx, Grant{Plugin: "demo", Resource: "kv:x", Actions: []string{"read"}, KeyID: keyA}); !errors.Is(err, ErrExists) {
		t.Fatalf("pending grant while installed: %v, want ErrExists", err)
	}
	if _, err := s.AddGrant(ctx, Grant{Plugin: "demo", Resource: "kv:x", Actions: []string{"read"}, InstallID: "0123"}); !errors.Is(err, ErrChanged) {
		t.Fatalf("grant for a stale install id: %v, want ErrChanged", err)
	}
	if _, err := s.AddGrant(ctx, Grant{Plugin: "demo", Resource: "kv:x", Actions: []string{"read"}, InstallID: b.Plugin.InstallID, KeyID: keyA}); !errors.Is(err, ErrChanged) {
		t.Fatalf("grant for key A on key B's install: %v, want ErrChanged", err)
	}
	_, err = s.AddGrant(ctx, Grant{Plugin: "demo", Resource: "kv:b-user", Actions: []string{"read"}, InstallID: b.Plugin.InstallID})
	must(t, err)

	// Uninstall B; the next install starts from nothing of B's.
	must(t, s.DeletePlugin(ctx, "demo"))
	if gs, _ := s.ListGrants(ctx, "demo"); len(gs) != 0 {
		t.Fatalf("grants after uninstall: %+v", gs)
	}
	pending, err = s.AddGrant(ctx, Grant{Plugin: "demo", Resource: "kv:secret", Actions: []string{"read"}, KeyID: keyA})
	must(t, err)
	legacy, err := s.AddGrant(ctx, Grant{Plugin: "demo", Resource: "kv:old", Actions: []string{"read"}})
	must(t, err)
	other, err := s.AddGrant(ctx, Grant{Plugin: "demo", Resource: "kv:b", Actions: []string{"read"}, KeyID: keyB})
	must(t, err)
	rec.take()

	// Key A installs; the person confirms the grant pinned to A and the
	// legacy one pinned to no key. Key B's pending grant stays pending.
	a, err := s.InstallPlugin(ctx, signedBy("1.0.0", keyA), nil, InstallOpts{ConfirmGrantIDs: []int64{pending.ID, legacy.ID}})
	must(t, err)
	if len(a.Confirmed) != 2 || !a.Confirmed[0].BoundTo(a.Plugin) || !a.Confirmed[1].BoundTo(a.Plugin) || a.Plugin.InstallID == b.Plugin.InstallID {
		t.Fatalf("install from key A: %+v", a)
	}
	if ids := activeIDs(t, s); len(ids) != 2 || ids[0] != pending.ID || ids[1] != legacy.ID {
		t.Fatalf("active after confirming: %v", ids)
	}
	if got := strings.Join(rec.take(), "|"); got != "grant.confirmed kv:secret user|grant.confirmed kv:old user" {
		t.Fatalf("events %s", got)
	}
	if g, _ := s.ListGrants(ctx, "demo"); len(g) != 3 || !g[2].Pending() || g[2].ID != other.ID {
		t.Fatalf("key B's pending grant: %+v", g)
	}

	// A grant row bound to an install that is gone (written behind the
	// store's back) never applies.
	if _, err := s.db.ExecContext(ctx, `INSERT INTO grants (plugin, resource, actions, created, source, key_id, install_id)
		VALUES ('demo', 'kv:stale', 'read', 1, 'user', ?, ?)`, keyB, b.Plugin.InstallID); err != nil {
		t.Fatal(err)
	}
	if ids := activeIDs(t, s); len(ids) != 2 {
		t.Fatalf("a grant of a gone install applies: %v", ids)
	}

	// An upgrade from key A keeps the install id and the grants bound to
	// it, and deletes the stale row; a reinstall (no Upgrade) mints a new
	// install id and starts with no grant of the old install.
	up, err := s.InstallPlugin(ctx, signedBy("2.0.0", keyA), nil, InstallOpts{Replace: true, Upgrade: true})
	must(t, err)
	if up.Plugin.InstallID != a.Plugin.InstallID || len(up.Removed) != 1 || up.Removed[0].Resource != "kv:stale" {
		t.Fatalf("upgrade: %+v", up)
	}
	if ids := activeIDs(t, s); len(ids) != 2 {
		t.Fatalf("active after upgrade: %v", ids)
	}
	re, err := s.InstallPlugin(ctx, signedBy("2.0.0", keyA), []Grant{grant("clipboard", "write")}, InstallOpts{Replace: true})
	must(t, err)
	if re.Plugin.InstallID == a.Plugin.InstallID || len(re.Removed) != 2 {
		t.Fatalf("reinstall: %+v", re)
	}
	if ids := activeIDs(t, s); len(ids) != 1 || ids[0] != re.Added[0].ID {
		t.Fatalf("active after reinstall: %v, want only the new install grant", ids)
	}
	// ActiveGrantsOf an install that is no longer the row gives nothing.
	if gs, err := s.ActiveGrantsOf(ctx, a.Plugin, time.Now()); err != nil || len(gs) != 0 {
		t.Fatalf("grants of the replaced install: %v %v", gs, err)
	}
}
