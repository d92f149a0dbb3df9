package hostapi

// Attack test of issue 10 finding 2: the durable intent event of a change
// is written after the path is checked and before the change is made, and
// its fsync is a wide window. Another program that swaps a directory on the
// way for a symlink to a denied place in that window must not make warden
// remove, move or create anything there.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/policy"
	"github.com/wardenproject/warden/resource"
)

// intentHook is the real ledger with a hook run when an intent event has
// been made durable: exactly the window between the gate's check and the
// provider's change.
type intentHook struct {
	*audit.Ledger
	mu   sync.Mutex
	hook func()
}

func (h *intentHook) Append(ctx context.Context, ev *audit.Event) (uint64, error) {
	i, err := h.Ledger.Append(ctx, ev)
	h.mu.Lock()
	f := h.hook
	h.hook = nil
	h.mu.Unlock()
	if f != nil && ev.Outcome == audit.OutcomeIntent {
		f()
	}
	return i, err
}

func (h *intentHook) arm(f func()) {
	h.mu.Lock()
	h.hook = f
	h.mu.Unlock()
}

// TestSwapInIntentWindowContained: for fs.delete, fs.rename (either side),
// fs.mkdir and fs.write of a new file under data/pub, the intent hook
// replaces data/pub with a symlink to data/private (a policy deny). Each
// call fails with a clear error, nothing in data/private is removed, moved
// or created, and the ledger's intent and outcome name the path that was
// checked (the only one touched: none).
func TestSwapInIntentWindowContained(t *testing.T) {
	e := newEnv(t)
	pub, priv := filepath.Join(e.data, "pub"), filepath.Join(e.data, "private")
	pol, err := policy.Parse(fmt.Appendf(nil, `version: 1
rules:
  - id: no-private
    effect: deny
    resource: "filesystem:%[1]s/private/**"
  - id: data
    effect: allow
    resource: "filesystem:%[1]s/**"
`, e.data), policy.ParseOptions{File: "swap.yaml"})
	must(t, err)
	m, err := policy.NewManifest([]policy.Permission{{Resource: "filesystem:" + e.data + "/**", Actions: []string{"read", "write", "list", "delete"}}}, resource.Options{})
	must(t, err)
	hook := &intentHook{Ledger: e.ledger}
	g, err := NewGate(Config{Tokens: e.verifier, Policy: policy.NewEngine(pol, nil), Audit: hook})
	must(t, err)
	c := e.caller
	c.Manifest = m
	c.Tokens = []string{e.mint("filesystem:"+e.data+"/**", "read", "write", "list", "delete")}

	reset := func(t *testing.T) {
		t.Helper()
		os.Remove(pub)
		must(t, os.RemoveAll(pub+".old"))
		must(t, os.RemoveAll(priv))
		must(t, os.MkdirAll(pub, 0o755))
		must(t, os.MkdirAll(priv, 0o700))
		for p, data := range map[string]string{
			filepath.Join(pub, "f.txt"): "public", filepath.Join(priv, "f.txt"): "SECRET",
			filepath.Join(e.data, "a.csv"): "a,b\n", filepath.Join(priv, "a.csv"): "PRIVATE CSV",
		} {
			must(t, os.WriteFile(p, []byte(data), 0o600))
		}
	}
	// swap is what the other program does in the window.
	swap := func() {
		must(t, os.Rename(pub, pub+".old"))
		must(t, os.Symlink("private", pub))
	}
	privBefore := map[string]string{"f.txt": "SECRET", "a.csv": "PRIVATE CSV"}

	for _, tc := range []struct {
		name, method string
		params       map[string]any
		resource     string // the checked path, which the events must name
	}{
		{"delete", "fs.delete", map[string]any{"path": filepath.Join(pub, "f.txt")}, filepath.Join(pub, "f.txt")},
		{"rename from", "fs.rename", map[string]any{"from": filepath.Join(pub, "f.txt"), "to": filepath.Join(pub, "g.txt")}, filepath.Join(pub, "f.txt")},
		{"rename to", "fs.rename", map[string]any{"from": filepath.Join(e.data, "a.csv"), "to": filepath.Join(pub, "a.csv")}, filepath.Join(e.data, "a.csv")},
		{"rename over", "fs.rename", map[string]any{"from": filepath.Join(e.data, "a.csv"), "to": filepath.Join(pub, "f.txt")}, filepath.Join(e.data, "a.csv")},
		{"mkdir", "fs.mkdir", map[string]any{"path": filepath.Join(pub, "new")}, filepath.Join(pub, "new")},
		{"create", "fs.write", map[string]any{"path": filepath.Join(pub, "new.txt"), "data": "cHduZWQ="}, filepath.Join(pub, "new.txt")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reset(t)
			e.t = t
			hook.arm(swap)
			out, err := g.Call(context.Background(), c, tc.method, "", mustJSON(tc.params))
			if err == nil {
				t.Fatalf("%s went through after its directory was swapped for a symlink: %s", tc.method, out)
			}
			wantCode(t, err, CodeIO)
			if !strings.Contains(err.Error(), "changed while it was being opened") {
				t.Fatalf("message %q does not say the path changed", err)
			}
			des, err := os.ReadDir(priv)
			must(t, err)
			if len(des) != len(privBefore) {
				t.Fatalf("the denied directory now holds %v", des)
			}
			for name, want := range privBefore {
				if b, err := os.ReadFile(filepath.Join(priv, name)); err != nil || string(b) != want {
					t.Fatalf("%s in the denied directory is now %q (%v)", name, b, err)
				}
			}
			if b, err := os.ReadFile(filepath.Join(pub+".old", "f.txt")); err != nil || string(b) != "public" {
				t.Fatalf("the checked file is now %q (%v)", b, err)
			}
			var intent, outcome *audit.Event
			for _, ev := range e.events() {
				if ev.Action == tc.method {
					if ev.Outcome == audit.OutcomeIntent {
						intent = ev
					} else {
						outcome = ev
					}
				}
				if strings.Contains(ev.Resource, "/private") || strings.Contains(ev.Detail["to"], "/private") {
					t.Fatalf("an event names the denied directory: %+v", ev)
				}
			}
			for _, ev := range []*audit.Event{intent, outcome} {
				if ev == nil || ev.Resource != "filesystem:"+tc.resource {
					t.Fatalf("%s events: intent %+v outcome %+v, want both on %s", tc.method, intent, outcome, tc.resource)
				}
			}
			if outcome.Outcome != audit.OutcomeError || outcome.Error == nil || outcome.Error.Code != string(CodeIO) {
				t.Fatalf("outcome %+v", outcome)
			}
		})
	}

	// Without a swap, the same calls work: the refusals above are the race's.
	for _, tc := range []struct {
		method string
		params map[string]any
	}{
		{"fs.delete", map[string]any{"path": filepath.Join(pub, "f.txt")}},
		{"fs.rename", map[string]any{"from": filepath.Join(e.data, "a.csv"), "to": filepath.Join(pub, "a.csv")}},
		{"fs.mkdir", map[string]any{"path": filepath.Join(pub, "new")}},
		{"fs.write", map[string]any{"path": filepath.Join(pub, "new.txt"), "data": "b2s="}},
	} {
		reset(t)
		if _, err := g.Call(context.Background(), c, tc.method, "", mustJSON(tc.params)); err != nil {
			t.Fatalf("%s without a race: %v", tc.method, err)
		}
	}
}
