package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/home"
)

// Attack (issue 10, finding 1): a grant whose subtree holds warden's home
// let a plugin rename the folder in between, work in the moved copy and
// rename it back. The store keeps no grant that reaches the home holding it,
// another known home, or a path given by WithProtected, by any route (warden
// grant, an install) or spelling, and reports each refusal to its Recorder.
func TestGrantsReachingWardenStateAreRefused(t *testing.T) {
	ctx := context.Background()
	root, err := filepath.EvalSymlinks(t.TempDir())
	must(t, err)
	wh := filepath.Join(root, "data", "x", "warden") // a custom --home, two levels below the grant
	must(t, os.MkdirAll(wh, 0o700))
	must(t, os.Symlink(filepath.Join(root, "data"), filepath.Join(root, "d")))
	cache := filepath.Join(root, "elsewhere", "cache")
	rec := &events{}
	s, err := Open(ctx, Path(wh), WithRecorder(rec), WithProtected(home.Guarded{Path: cache, What: home.WhatCache}))
	must(t, err)
	defer s.Close()
	for _, res := range []string{
		"filesystem:" + root + "/data/**",   // the rename attack's grant
		"filesystem:" + root + "/d/**",      // the same folder through a symlink
		"filesystem:" + wh + "/keys",        // inside
		"filesystem:" + root + "/*/x/*",     // by glob
		"filesystem:" + root + "/elsewhere", // the cache given with WithProtected
	} {
		_, err := s.AddGrant(ctx, Grant{Plugin: "p", Resource: res, Actions: []string{"read", "write", "delete"}})
		if !errors.Is(err, home.ErrProtected) {
			t.Errorf("AddGrant %s: %v, want home.ErrProtected", res, err)
		}
		if ev := rec.take(); len(ev) != 1 || !strings.HasPrefix(ev[0], string(EventGrantRefused)+" "+res) {
			t.Errorf("AddGrant %s recorded %v, want one grant.refused", res, ev)
		}
		before := snapshot(t, s)
		_, err = s.InstallPlugin(ctx, plugin("1.0.0"), []Grant{grant("filesystem:"+root+"/ok", "read"), grant(res, "read")}, InstallOpts{})
		if !errors.Is(err, home.ErrProtected) {
			t.Errorf("InstallPlugin with %s: %v, want home.ErrProtected", res, err)
		}
		if after := snapshot(t, s); after != before {
			t.Errorf("a refused install changed the store:\n%s\n%s", before, after)
		}
		if ev := rec.take(); len(ev) != 1 || !strings.HasPrefix(ev[0], string(EventGrantRefused)) {
			t.Errorf("InstallPlugin with %s recorded %v, want one grant.refused", res, ev)
		}
	}
	// A neighbour is fine.
	if _, err := s.AddGrant(ctx, Grant{Plugin: "p", Resource: "filesystem:" + root + "/data/y/**", Actions: []string{"read"}}); err != nil {
		t.Fatal(err)
	}
}
