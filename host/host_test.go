package host

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/hostapi"
)

func TestInstallInvokeUninstall(t *testing.T) {
	h := newTestHost(t, Config{})
	ctx := context.Background()
	var changes atomic.Int32
	stop := h.Watch(func() { changes.Add(1) })
	defer stop()

	p, err := h.Install(ctx, helloDir(t), InstallOptions{})
	must(t, err)
	if p.Name != "hello" || p.Version != "0.1.0" || p.State != "active" || !strings.HasPrefix(p.Digest, "sha256:") || p.Manifest == nil {
		t.Fatalf("installed %+v", p)
	}
	if changes.Load() != 1 {
		t.Fatalf("watchers ran %d times after install, want 1", changes.Load())
	}
	ps, err := h.Plugins(ctx)
	must(t, err)
	if len(ps) != 1 || ps[0].Name != "hello" || ps[0].Manifest == nil || len(ps[0].Manifest.Tools) != 1 {
		t.Fatalf("plugins %+v", ps)
	}

	res, err := h.Invoke(ctx, "hello", "greet", json.RawMessage(`{"name":"Ada"}`))
	must(t, err)
	if string(res.Output) != `{"message":"Hello, Ada!"}` {
		t.Fatalf("output %s", res.Output)
	}
	evs := eventsOf(t, h, res.Events)
	last := evs[len(evs)-1]
	if last.Action != ActionInvoke || last.Outcome != audit.OutcomeOK || last.Resource != "plugin:hello#greet" ||
		last.Actor.Plugin != "hello" || last.Session != h.Session() || last.Instance == "" {
		t.Fatalf("invoke event %+v", last)
	}

	// The second call reuses the warm instance.
	res2, err := h.Invoke(ctx, "hello", "greet", json.RawMessage(`{"name":"Bo"}`))
	must(t, err)
	if ev := eventsOf(t, h, res2.Events); ev[len(ev)-1].Instance != last.Instance {
		t.Fatalf("second call ran on %s, not the warm %s", ev[len(ev)-1].Instance, last.Instance)
	}

	must(t, h.Uninstall(ctx, "hello"))
	if changes.Load() != 2 {
		t.Fatalf("watchers ran %d times after uninstall, want 2", changes.Load())
	}
	_, err = h.Invoke(ctx, "hello", "greet", json.RawMessage(`{"name":"Ada"}`))
	if hostapi.CodeOf(err) != hostapi.CodeNotFound {
		t.Fatalf("invoke after uninstall: %v", err)
	}
	if err := h.Uninstall(ctx, "hello"); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("second uninstall: %v", err)
	}
	// install, grant, uninstall... are all in the ledger and it verifies.
	must(t, h.Ledger().Verify(ctx, nil))
	var actions []string
	for e, err := range h.Ledger().Read(0) {
		must(t, err)
		actions = append(actions, e.Event.Action)
	}
	if got := strings.Join(actions, " "); !strings.Contains(got, "install") || !strings.Contains(got, "uninstall") {
		t.Fatalf("ledger actions %s", got)
	}
}

func TestInvokeErrors(t *testing.T) {
	h := newTestHost(t, Config{})
	ctx := context.Background()
	_, err := h.Install(ctx, helloDir(t), InstallOptions{})
	must(t, err)
	for _, tc := range []struct {
		name, plugin, tool, input string
		code                      hostapi.Code
	}{
		{"unknown plugin", "nope", "greet", `{}`, hostapi.CodeNotFound},
		{"unknown tool", "hello", "nope", `{}`, hostapi.CodeNotFound},
		{"not JSON", "hello", "greet", `{"name":`, hostapi.CodeInvalidParams},
		{"not an object", "hello", "greet", `["Ada"]`, hostapi.CodeInvalidParams},
		{"schema: missing name", "hello", "greet", `{}`, hostapi.CodeInvalidParams},
		{"schema: extra field", "hello", "greet", `{"name":"a","x":1}`, hostapi.CodeInvalidParams},
		{"guest's own error", "hello", "greet", `{"name":"   "}`, hostapi.CodeInvalidParams},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := h.Invoke(ctx, tc.plugin, tc.tool, json.RawMessage(tc.input))
			if hostapi.CodeOf(err) != tc.code {
				t.Fatalf("got %v, want code %s", err, tc.code)
			}
			if tc.plugin == "hello" && tc.tool == "greet" {
				// The refused call is in the ledger as an error event.
				ev := eventsOf(t, h, res.Events)
				if last := ev[len(ev)-1]; last.Outcome != audit.OutcomeError || last.Error == nil || last.Error.Code != string(tc.code) {
					t.Fatalf("event %+v", last)
				}
			}
		})
	}
}

func TestInstallRefusals(t *testing.T) {
	h := newTestHost(t, Config{})
	ctx := context.Background()
	dir := helloDir(t)

	_, err := h.Install(ctx, dir, InstallOptions{Grants: []Grant{{Resource: "filesystem:/tmp/x", Actions: []string{"read"}}}})
	if !errors.Is(err, ErrOutsideGrant) || !strings.Contains(err.Error(), "filesystem:/tmp/x=read") {
		t.Fatalf("grant outside the manifest: %v", err)
	}

	man, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	must(t, err)
	var m map[string]any
	must(t, json.Unmarshal(man, &m))
	delete(m, "publisher")
	bad := pluginDir(t, filepath.Join(dir, "plugin.wasm"), m)
	if _, err := h.Install(ctx, bad, InstallOptions{}); !errors.Is(err, ErrLint) || !strings.Contains(err.Error(), "WDN004") {
		t.Fatalf("lint errors: %v", err)
	}

	notWasm := t.TempDir()
	must(t, os.WriteFile(filepath.Join(notWasm, "manifest.json"), man, 0o644))
	must(t, os.WriteFile(filepath.Join(notWasm, "plugin.wasm"), []byte("not wasm"), 0o644))
	if _, err := h.Install(ctx, notWasm, InstallOptions{}); err == nil {
		t.Fatal("installed a file that is not WebAssembly")
	}

	_, err = h.Install(ctx, dir, InstallOptions{})
	must(t, err)
	if _, err := h.Install(ctx, dir, InstallOptions{}); !errors.Is(err, ErrInstalled) {
		t.Fatalf("second install: %v", err)
	}
	if _, err := h.Install(ctx, dir, InstallOptions{Replace: true}); err != nil {
		t.Fatalf("replace: %v", err)
	}

	// An entry changed after install is refused until reinstalled.
	must(t, os.WriteFile(filepath.Join(dir, "plugin.wasm"), append(must2(os.ReadFile(filepath.Join(dir, "plugin.wasm"))), 0), 0o644))
	h.evict(ctx, "hello")
	if _, err := h.Invoke(ctx, "hello", "greet", json.RawMessage(`{"name":"x"}`)); hostapi.CodeOf(err) != hostapi.CodeUnavailable {
		t.Fatalf("changed entry: %v", err)
	}
}

func must2[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
