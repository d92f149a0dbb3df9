package host

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenproject/warden/hostapi"
	"github.com/wardenproject/warden/store"
)

// guestHost installs the attack guest as "g" with one declared directory and
// the given grants, in a fresh host.
func guestHost(t *testing.T, cfg Config, grants ...Grant) (*Host, string) {
	t.Helper()
	data, err := filepath.EvalSymlinks(t.TempDir())
	must(t, err)
	must(t, os.WriteFile(filepath.Join(data, "f.txt"), []byte("granted data"), 0o644))
	h := newTestHost(t, cfg)
	man := attackManifest("g", []map[string]any{{"resource": "filesystem:" + data, "actions": []string{"read", "write"}, "reason": "test"}},
		map[string]any{"timeout_ms": 2000})
	_, err = h.Install(context.Background(), pluginDir(t, guestWasm(t, attackSrc), man), InstallOptions{Grants: grants})
	must(t, err)
	return h, data
}

// userGrant is `warden grant`: a user grant bound to the installed plugin.
func userGrant(t *testing.T, st *store.Store, plugin, res string, acts ...string) store.Grant {
	t.Helper()
	ctx := context.Background()
	p, err := st.GetPlugin(ctx, plugin)
	must(t, err)
	g, err := st.AddGrant(ctx, store.Grant{Plugin: plugin, Resource: res, Actions: acts, InstallID: p.InstallID})
	must(t, err)
	return g
}

func readVia(t *testing.T, h *Host, path string, opts ...InvokeOption) string {
	t.Helper()
	res, err := h.Invoke(context.Background(), "g", "readfile", mustJSON(t, map[string]string{"path": path}), opts...)
	must(t, err)
	var out struct{ Data, Errno string }
	must(t, json.Unmarshal(res.Output, &out))
	if out.Errno != "" {
		return "errno:" + out.Errno
	}
	return out.Data
}

// A per-call confirmer answers the policy's ask; the host's own (DenyAll)
// answers when there is none.
func TestWithConfirmer(t *testing.T) {
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	must(t, os.WriteFile(pol, []byte("version: 1\nrules:\n  - id: ask-reads\n    effect: ask\n    resource: filesystem:/**\n    actions: [read]\n"), 0o600))
	h, data := guestHost(t, Config{PolicyPath: pol})
	userGrant(t, h.st, "g", "filesystem:"+data, "read")
	must(t, h.refresh(context.Background()))
	file := filepath.Join(data, "f.txt")
	// The grant allows, but the policy says ask, and nobody is there.
	if got := readVia(t, h, file); got != "errno:permission" {
		t.Fatalf("without a confirmer: %q", got)
	}
	var asked atomic.Int32
	yes := hostapi.ConfirmFunc(func(_ context.Context, req hostapi.ConfirmRequest) (bool, error) {
		asked.Add(1)
		return req.Resource == "filesystem:"+file && req.Action == "read", nil
	})
	if got := readVia(t, h, file, WithConfirmer(yes)); got != "granted data" || asked.Load() == 0 {
		t.Fatalf("with a confirmer that says yes: %q (asked %d)", got, asked.Load())
	}
	if got := readVia(t, h, file); got != "errno:permission" {
		t.Fatalf("the per-call confirmer leaked into the next call: %q", got)
	}
}

// Grants added while the host runs (another process's `warden grant`) reach
// new instances; the pooled instance with the old tokens is retired.
func TestGrantChangeRetiresInstances(t *testing.T) {
	h, data := guestHost(t, Config{})
	file := filepath.Join(data, "f.txt")
	if got := readVia(t, h, file); got != "errno:permission" {
		t.Fatalf("before the grant: %q", got)
	}
	other, err := store.Open(context.Background(), store.Path(h.cfg.Home))
	must(t, err)
	userGrant(t, other, "g", "filesystem:"+data, "read")
	must(t, other.Close())
	must(t, h.refresh(context.Background()))
	if got := readVia(t, h, file); got != "granted data" {
		t.Fatalf("after the grant: %q", got)
	}
}

// Log lines reach Config.Log and the call's own sink, attributed to the
// plugin; log.write arrives as stream "log".
func TestWithLog(t *testing.T) {
	var mu sync.Mutex
	var global []string
	h, _ := guestHost(t, Config{Log: func(plugin, stream, line string) {
		mu.Lock()
		global = append(global, plugin+"|"+stream+"|"+line)
		mu.Unlock()
	}})
	var mine []string
	sink := WithLog(func(stream, line string) { mine = append(mine, stream+"|"+line) })
	_, err := h.Invoke(context.Background(), "g", "stdout_flood", json.RawMessage(`{"n":1}`), sink)
	must(t, err)
	_, err = h.Invoke(context.Background(), "g", "host", mustJSON(t, map[string]any{"method": "log.write", "params": map[string]string{"level": "warn", "message": "careful"}}), sink)
	must(t, err)
	joined := strings.Join(mine, "\n")
	if !strings.Contains(joined, "stdout|xxx") || !strings.Contains(joined, "stderr|xxx") || !strings.Contains(joined, "log|warn: careful") {
		t.Fatalf("call sink got:\n%s", joined)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(global) != len(mine) || !strings.HasPrefix(global[0], "g|") {
		t.Fatalf("Config.Log got %d lines, the call sink %d: %q", len(global), len(mine), global)
	}
}

// Many callers at once: every call succeeds, the pool bound holds.
func TestConcurrentInvocations(t *testing.T) {
	h := newTestHost(t, Config{PoolSize: 3})
	_, err := h.Install(context.Background(), helloDir(t), InstallOptions{})
	must(t, err)
	const n = 200
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := h.Invoke(context.Background(), "hello", "greet", json.RawMessage(`{"name":"n`+string(rune('a'+i%26))+`"}`))
			if err != nil || !strings.HasPrefix(string(res.Output), `{"message":"Hello, n`) {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d concurrent calls failed", failed.Load(), n)
	}
	h.mu.Lock()
	lp := h.plugins["hello"]
	h.mu.Unlock()
	if idle := len(lp.idle); idle > 3 {
		t.Fatalf("%d idle instances, pool size 3", idle)
	}
}

// A deadline from the caller stops the call with timeout; Close is safe to
// repeat, and a closed host refuses calls.
func TestCallerDeadlineAndClose(t *testing.T) {
	h, _ := guestHost(t, Config{})
	// Long enough that a cold start on a loaded machine finishes first: the
	// deadline must fall inside the guest's loop, not during instantiation.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := h.Invoke(ctx, "g", "loop", nil); hostapi.CodeOf(err) != hostapi.CodeTimeout {
		t.Fatalf("loop under a caller deadline: %v", err)
	}
	must(t, h.Close())
	must(t, h.Close())
	if _, err := h.Invoke(context.Background(), "g", "echo", nil); hostapi.CodeOf(err) != hostapi.CodeUnavailable {
		t.Fatalf("invoke after close: %v", err)
	}
}

// A quarantined plugin and one whose publisher was revoked do not run.
func TestQuarantineAndRevokedPublisher(t *testing.T) {
	h, _ := guestHost(t, Config{})
	ctx := context.Background()
	must(t, h.st.SetPluginState(ctx, "g", store.StateQuarantined))
	must(t, h.refresh(ctx))
	if _, err := h.Invoke(ctx, "g", "echo", nil); hostapi.CodeOf(err) != hostapi.CodeUnavailable {
		t.Fatalf("quarantined: %v", err)
	}
	must(t, h.st.SetPluginState(ctx, "g", store.StateActive))
	must(t, h.refresh(ctx))
	if _, err := h.Invoke(ctx, "g", "echo", nil); err != nil {
		t.Fatalf("re-activated: %v", err)
	}
	_, err := h.st.Revoke(ctx, store.RevokePublisher, "tests", "compromised")
	must(t, err)
	must(t, h.refresh(ctx))
	if _, err := h.Invoke(ctx, "g", "echo", nil); hostapi.CodeOf(err) != hostapi.CodeUnavailable || !strings.Contains(err.Error(), "compromised") {
		t.Fatalf("publisher revoked: %v", err)
	}
}
