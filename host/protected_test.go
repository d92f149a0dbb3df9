package host

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestGrantCannotReachWardensHome: the host hands its home and its cache to
// the gate as protected (docs/threat-model.md V-5), so a plugin granted a
// directory that holds warden's home reads and writes the rest of it but
// not the grants database, the ledger or the policy — by name or through a
// symlink — whatever the grant says.
func TestGrantCannotReachWardensHome(t *testing.T) {
	data, err := filepath.EvalSymlinks(t.TempDir())
	must(t, err)
	must(t, os.WriteFile(filepath.Join(data, "f.txt"), []byte("granted data"), 0o644))
	// No grant reaching the home can be made (TestInstallRefusesWardenState);
	// one made while the home lived elsewhere can come to hold it when the
	// home is moved into the granted folder. The gate must still refuse.
	elsewhere := filepath.Join(t.TempDir(), "home")
	h := newTestHost(t, Config{Home: elsewhere})
	man := attackManifest("g", []map[string]any{{"resource": "filesystem:" + data, "actions": []string{"read", "write"}, "reason": "test"}},
		map[string]any{"timeout_ms": 2000})
	_, err = h.Install(context.Background(), pluginDir(t, guestWasm(t, attackSrc), man),
		InstallOptions{Grants: []Grant{{Resource: "filesystem:" + data, Actions: []string{"read", "write"}}}})
	must(t, err)
	must(t, h.Close())
	home := filepath.Join(data, ".warden")
	must(t, os.Rename(elsewhere, home))
	h = newTestHost(t, Config{Home: home})
	if got := h.gate.Protected(); !slices.Contains(got, home) || !slices.Contains(got, h.cfg.CacheDir) {
		t.Fatalf("the gate protects %v; want the home %s and the cache %s", got, home, h.cfg.CacheDir)
	}
	must(t, os.Symlink(".warden", filepath.Join(data, "link")))

	if got := readVia(t, h, filepath.Join(data, "f.txt")); got != "granted data" {
		t.Fatalf("the granted file: %q", got)
	}
	for _, p := range []string{
		filepath.Join(home, "state.db"),
		filepath.Join(data, "link", "state.db"),
		filepath.Join(data, "x", "..", ".warden", "state.db"),
	} {
		if got := readVia(t, h, p); got != "errno:permission" {
			t.Fatalf("read %s: %.40q…, want a refusal", p, got)
		}
	}
}
