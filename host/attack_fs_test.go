package host

// End-to-end attack tests of issue 10 findings 1 and 5 through a real host,
// a real wasm guest (sandbox/wasm's test guest) and the real ledger: a
// plugin granted a folder that holds warden's home two levels down cannot
// move the folder in between, nor reach the policy through a hard link; and
// a FIFO in its grant makes its calls fail at once instead of hanging the
// host (attack_fifo_test.go, where FIFOs exist).

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenproject/warden/audit"
)

// fsAttackHost starts a host with cfg and installs the test guest as "g",
// granted data (created here) with acts, with the rename and mkdir tools
// besides the attack tools.
func fsAttackHost(t *testing.T, cfg Config, data string, acts ...string) *Host {
	t.Helper()
	must(t, os.MkdirAll(data, 0o755))
	must(t, os.WriteFile(filepath.Join(data, "f.txt"), []byte("granted data"), 0o644))
	// No grant reaching the home can be made (TestInstallRefusesWardenState):
	// one made while the home lived elsewhere comes to hold it when the home
	// is moved into the granted folder, which is how an attack on a home
	// inside a grant begins.
	final := cfg.Home
	inside := strings.HasPrefix(final, data+string(filepath.Separator))
	if inside {
		cfg.Home = filepath.Join(t.TempDir(), "home")
	}
	h := newTestHost(t, cfg)
	man := attackManifest("g", []map[string]any{{"resource": "filesystem:" + data, "actions": acts, "reason": "test"}},
		map[string]any{"timeout_ms": 5000})
	tools := man["tools"].([]map[string]any)
	for _, name := range []string{"rename", "mkdir"} {
		tools = append(tools, map[string]any{"name": name, "description": "test tool " + name, "input_schema": map[string]any{"type": "object"}})
	}
	man["tools"] = tools
	_, err := h.Install(context.Background(), pluginDir(t, guestWasm(t, attackSrc), man),
		InstallOptions{Grants: []Grant{{Resource: "filesystem:" + data, Actions: acts}}})
	must(t, err)
	if inside {
		must(t, h.Close())
		must(t, os.MkdirAll(filepath.Dir(final), 0o755))
		must(t, os.Rename(cfg.Home, final))
		cfg.Home = final
		h = newTestHost(t, cfg)
	}
	return h
}

// invokeFS runs one tool of "g" and returns its output (errno, data, or a
// host call's code) and the call's events.
func invokeFS(t *testing.T, h *Host, tool string, in any) (map[string]any, []*audit.Event) {
	t.Helper()
	res, err := h.Invoke(context.Background(), "g", tool, mustJSON(t, in))
	must(t, err)
	var out map[string]any
	must(t, json.Unmarshal(res.Output, &out))
	return out, eventsOf(t, h, res.Events)
}

// deniedBy reports whether evs holds a deny by the gate with reason prefix.
func deniedBy(evs []*audit.Event, reason string) bool {
	for _, ev := range evs {
		if ev.Action != ActionInvoke && ev.Decision.Effect == audit.EffectDeny && ev.Decision.By == "gate" && strings.HasPrefix(ev.Decision.Reason, reason) {
			return true
		}
	}
	return false
}

// TestAttackRenameFolderHoldingHome is issue 10 finding 1 end to end: with
// read, write, list and delete on a folder holding a custom --home two
// levels down, the guest's rename of the folder in between is refused and
// audited, so the rest of the attack (read the key and the policy through
// the moved name, plant a policy, rename back) meets nothing; and a hard
// link to the policy file, made in the grant by another program, is
// refused too.
func TestAttackRenameFolderHoldingHome(t *testing.T) {
	root, err := filepath.EvalSymlinks(t.TempDir())
	must(t, err)
	data := filepath.Join(root, "data")
	home := filepath.Join(data, "a", "b", ".warden")
	pol := filepath.Join(root, "etc", "policy.yaml")
	must(t, os.MkdirAll(filepath.Dir(pol), 0o755))
	must(t, os.WriteFile(pol, []byte("version: 1\n"), 0o644))
	h := fsAttackHost(t, Config{Home: home, PolicyPath: pol}, data, "read", "write", "list", "delete")
	keys, err := os.ReadDir(filepath.Join(home, "keys"))
	must(t, err)
	var keyFile string
	for _, k := range keys {
		if k.Type().IsRegular() {
			keyFile = k.Name()
		}
	}
	if keyFile == "" {
		t.Fatalf("no key file in %s/keys: %v", home, keys)
	}
	moved := filepath.Join(data, "a2")
	mh := filepath.Join(moved, "b", ".warden")

	out, evs := invokeFS(t, h, "rename", map[string]string{"path": filepath.Join(data, "a"), "to": moved})
	if out["errno"] != "permission" || !deniedBy(evs, "warden's own state") {
		t.Fatalf("renaming the folder in between: %v, events %s", out, describe(evs))
	}
	for _, step := range []struct {
		tool string
		in   map[string]string
	}{
		{"readfile", map[string]string{"path": filepath.Join(mh, "keys", keyFile)}},
		{"readfile", map[string]string{"path": filepath.Join(mh, "state.db")}},
		{"writefile", map[string]string{"path": filepath.Join(mh, "policy.yaml"), "data": "version: 1\n"}},
		{"rename", map[string]string{"path": moved, "to": filepath.Join(data, "a")}},
	} {
		if out, _ := invokeFS(t, h, step.tool, step.in); out["errno"] == "" || out["data"] != nil {
			t.Fatalf("%s %v after the refused rename: %v", step.tool, step.in, out)
		}
	}
	if _, err := os.Stat(filepath.Join(home, "keys", keyFile)); err != nil {
		t.Fatalf("the home moved: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(home, "policy.yaml")); err == nil {
		t.Fatal("a policy was planted in the home")
	}
	// The folder holding the home cannot be deleted or replaced either.
	out, evs = invokeFS(t, h, "remove", map[string]string{"path": filepath.Join(data, "a", "b")})
	if out["errno"] != "permission" || !deniedBy(evs, "warden's own state") {
		t.Fatalf("deleting the folder holding the home: %v, events %s", out, describe(evs))
	}

	// A hard link to the policy file, made in the grant by another program.
	link := filepath.Join(data, "innocent.yaml")
	must(t, os.Link(pol, link))
	if got := readVia(t, h, link); got != "errno:permission" {
		t.Fatalf("read through a hard link to the policy: %q", got)
	}
	out, evs = invokeFS(t, h, "writefile", map[string]string{"path": link, "data": "version: 1\nrules: []\n"})
	if out["errno"] != "permission" || !deniedBy(evs, "warden's own state") {
		t.Fatalf("write through a hard link to the policy: %v, events %s", out, describe(evs))
	}
	if b, _ := os.ReadFile(pol); string(b) != "version: 1\n" {
		t.Fatalf("the policy is now %q", b)
	}
	// The rest of the grant still works: the refusals are not a broken setup.
	if got := readVia(t, h, filepath.Join(data, "f.txt")); got != "granted data" {
		t.Fatalf("the granted file: %q", got)
	}
	if out, _ := invokeFS(t, h, "mkdir", map[string]string{"path": filepath.Join(data, "a", "b", "mine")}); out["errno"] != nil {
		t.Fatalf("mkdir beside the home: %v", out)
	}
}
