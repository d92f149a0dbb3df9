package install

import (
	"os"
	"strings"
	"testing"
)

// A Config without the home, store or trust registry is refused, naming the
// field, before anything is read or written: the zero Config used to panic
// (a nil registry) and, given a store and registry but no home, would have
// extracted the plugin under ./plugins in the working directory.
func TestZeroConfigRefusedByField(t *testing.T) {
	e := newEnv(t)
	b, _ := signedBundle(t, "zero", "1.0.0", perms)
	wd := t.TempDir()
	t.Chdir(wd)
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{}, "install.Config.Home"},
		{Config{Store: e.store, Trust: e.trust, Yes: true}, "install.Config.Home"},
		{Config{Home: e.home, Trust: e.trust}, "install.Config.Store"},
		{Config{Home: e.home, Store: e.store}, "install.Config.Trust"},
	} {
		if _, err := Install(ctx, b, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("Install: %v; want an error naming %s", err, tc.field)
		}
		if err := Uninstall(ctx, "zero", tc.cfg); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("Uninstall: %v; want an error naming %s", err, tc.field)
		}
		if _, err := List(ctx, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("List: %v; want an error naming %s", err, tc.field)
		}
	}
	if ents, err := os.ReadDir(wd); err != nil || len(ents) != 0 {
		t.Fatalf("a refused Config wrote into the working directory: %v %v", ents, err)
	}
	assertEmpty(t, e)
}
