package home

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/wardenproject/warden/resource"
)

// A grant reaches a protected path in any spelling: written plainly, through
// a symlinked folder in the grant or in the home's own path, from above
// (the rename attack of issue 10 needs a grant two levels up) or from inside.
func TestProtectedReaches(t *testing.T) {
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	u := filepath.Join(root, "u")
	wh := filepath.Join(u, ".config", "warden")
	for _, d := range []string{wh, filepath.Join(u, "data", "wh"), filepath.Join(u, "docs"), filepath.Join(root, "real", "cfg")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	symlink := func(target, name string) {
		if err := os.Symlink(target, name); err != nil {
			t.Fatal(err)
		}
	}
	symlink(filepath.Join(u, ".config"), filepath.Join(u, "cfg")) // ~/cfg -> ~/.config
	symlink(filepath.Join(root, "real"), filepath.Join(u, "lnk")) // a home named through a symlink
	pr := NewProtected(
		Guarded{Path: wh, What: WhatHome},
		Guarded{Path: filepath.Join(u, "lnk", "cfg", "warden"), What: WhatHome}, // really root/real/cfg/warden
		Guarded{Path: filepath.Join(u, "data", "wh"), What: WhatHome},
		Guarded{Path: filepath.Join(u, "pol", "policy.yaml"), What: WhatPolicy}, // does not exist
	)
	for _, tc := range []struct {
		pat  string
		want string // the protected path reached, "" for none
	}{
		{u + "/.config/**", wh},
		{u + "/.config", wh},
		{u + "/*/warden", wh},
		{wh + "/keys/**", wh},
		{u + "/cfg/**", wh},                         // symlinked folder in the grant
		{u + "/cfg/warden/keys", wh},                // and inside
		{root + "/real/**", u + "/lnk/cfg/warden"},  // the home's own path is a symlink
		{u + "/lnk/**", u + "/lnk/cfg/warden"},      // as the home was written
		{u + "/data/**", u + "/data/wh"},            // two levels up: the rename attack's grant
		{u + "/pol/*.yaml", u + "/pol/policy.yaml"}, // a file that does not exist yet
		{u + "/docs/**", ""},
		{u + "/cfg/other/**", ""},
		{u + "/data/whx", ""},
		{u + "/*/x", ""},
	} {
		pat, err := resource.Parse("filesystem:" + tc.pat)
		if err != nil {
			t.Fatal(err)
		}
		g, ok := pr.Reaches(pat)
		if got := map[bool]string{true: g.Path}[ok]; got != tc.want {
			t.Errorf("%s reaches %q, want %q", tc.pat, got, tc.want)
		}
		err = pr.Check(pat)
		var re *ReachError
		if (tc.want != "") != (err != nil) || err != nil && (!errors.As(err, &re) || !errors.Is(err, ErrProtected) || re.Guarded.Path != tc.want) {
			t.Errorf("Check(%s) = %v", tc.pat, err)
		}
	}
	// Non-filesystem patterns reach nothing.
	if _, ok := pr.Reaches(resource.MustParse("env:HOME")); ok {
		t.Error("env:HOME reaches a protected path")
	}
}

// The identity step alone: a base spelled through a name that resolution
// did not rewrite (as a bind mount or another letter case would be) is
// recognised by device and inode.
func TestProtectedViaIdentity(t *testing.T) {
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	wh := filepath.Join(root, "cfg", "warden")
	if err := os.MkdirAll(wh, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "cfg"), filepath.Join(root, "alias")); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(root, "alias")
	pat := resource.MustParse("filesystem:" + base + "/*/keys")
	if !viaIdentity(pat, base, base, wh) {
		t.Error("the alias of the folder holding the home was not recognised by identity")
	}
	other := resource.MustParse("filesystem:" + root + "/x/**")
	if viaIdentity(other, root+"/x", root+"/x", wh) {
		t.Error("an unrelated folder was taken for the home's")
	}
}

func TestKnownHomes(t *testing.T) {
	t.Setenv(EnvVar, "/srv/wh")
	t.Setenv("XDG_CONFIG_HOME", "/home/ada/.config")
	got := Known()
	if len(got) != 2 || got[0].Path != "/srv/wh" || got[1].Path != "/home/ada/.config/warden" {
		t.Fatalf("Known() = %+v", got)
	}
}
