package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/internal/home"
)

// Attack (issue 10, finding 1): with read, write and delete on a folder
// holding warden's home two levels down, a plugin renamed the folder in
// between, worked in the moved copy and renamed it back. Such a grant is
// refused at install (the host's Install, `warden run --cap`), whatever the
// home's location and spelling: a custom home, $WARDEN_HOME, the default
// home, a symlinked folder, the cache or policy file outside the home. Each
// refusal is an install event with a deny in the ledger.
func TestInstallRefusesWardenState(t *testing.T) {
	ctx := context.Background()
	base, err := filepath.EvalSymlinks(t.TempDir())
	must(t, err)
	wh := filepath.Join(base, "data", "x", "warden") // a custom --home
	must(t, os.MkdirAll(filepath.Join(base, "cfg"), 0o700))
	must(t, os.Symlink(filepath.Join(base, "data"), filepath.Join(base, "lnk")))
	pol := filepath.Join(base, "pol", "policy.yaml")
	must(t, os.MkdirAll(filepath.Dir(pol), 0o700))
	must(t, os.WriteFile(pol, []byte("version: 1\n"), 0o600))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(base, "cfg")) // the default home: base/cfg/warden
	t.Setenv(home.EnvVar, filepath.Join(base, "env", "wh"))
	h := newTestHost(t, Config{Home: wh, PolicyPath: pol})

	wasm := filepath.Join(base, "m.wasm")
	must(t, os.WriteFile(wasm, []byte("\x00asm\x01\x00\x00\x00"), 0o600)) // never compiled: refused first
	for i, tc := range []struct{ name, res, reaches string }{
		{"two levels above the home", base + "/data/**", wh},
		{"the home through a symlinked folder", base + "/lnk/**", wh},
		{"inside the home", wh + "/keys", wh},
		{"by glob", base + "/*/x/*", wh},
		{"the default home", base + "/cfg/**", filepath.Join(base, "cfg", "warden")},
		{"the home $WARDEN_HOME names", base + "/env", filepath.Join(base, "env", "wh")},
		{"the compilation cache", filepath.Join(testDir, "cache"), filepath.Join(testDir, "cache")},
		{"the policy file", base + "/pol/*.yaml", pol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "reach" + string(rune('a'+i))
			man := attackManifest(name, []map[string]any{{"resource": "filesystem:" + tc.res, "actions": []string{"read", "write", "delete"}, "reason": "test"}}, map[string]any{"timeout_ms": 2000})
			from := h.Ledger().Len()
			_, err := h.Install(ctx, pluginDir(t, wasm, man), InstallOptions{Grants: []Grant{{Resource: "filesystem:" + tc.res, Actions: []string{"read"}}}})
			var re *home.ReachError
			if !errors.Is(err, home.ErrProtected) || !errors.As(err, &re) || re.Guarded.Path != tc.reaches {
				t.Fatalf("install: %v; want a refusal naming %s", err, tc.reaches)
			}
			if ps, _ := h.Plugins(ctx); len(ps) != 0 {
				t.Fatalf("installed anyway: %+v", ps)
			}
			var refused *audit.Event
			for j := from; j < h.Ledger().Len(); j++ {
				e, err := h.Ledger().Get(j)
				must(t, err)
				if e.Event.Action == audit.ActionInstall && e.Event.Outcome == audit.OutcomeError && e.Event.Detail["refused"] == "permissions[0]" {
					refused = e.Event
				}
			}
			if refused == nil || refused.Decision.Effect != audit.EffectDeny || refused.Resource != "plugin:"+name {
				t.Fatalf("no install refusal with a deny in the ledger: %+v", refused)
			}
		})
	}
}
