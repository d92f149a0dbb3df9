package host

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/capability"
	"github.com/wardenproject/warden/hostapi"
)

// The attack tests run the real gate, the real ledger and a real wasm guest
// (sandbox/wasm's multi-tool test guest) through Host.Invoke. Each attack
// must be contained, leave the host serving (a normal call right after
// succeeds), and leave a refusal or error event in the ledger.

// attackTools are the test guest's tools, each with a permissive schema:
// the attacks pick their own input.
var attackTools = []string{"echo", "host", "rawcall", "readfile", "writefile", "readdir", "stat", "remove",
	"loop", "alloc", "stdout_flood", "result_flood", "recurse", "trap_mid_write", "env"}

type attackEnv struct {
	h                      *Host
	base, granted, ro, sec string
	logs                   *lineLog
}

type lineLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *lineLog) add(plugin, stream, line string) {
	l.mu.Lock()
	l.lines = append(l.lines, plugin+" "+stream+" "+line)
	l.mu.Unlock()
}

func (l *lineLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	return out
}

func attackManifest(name string, perms []map[string]any, limits map[string]any) map[string]any {
	tools := make([]map[string]any, len(attackTools))
	for i, t := range attackTools {
		tools[i] = map[string]any{"name": t, "description": "test tool " + t, "input_schema": map[string]any{"type": "object"}}
	}
	return map[string]any{
		"name": name, "version": "1.0.0", "description": "A hostile test guest.", "entry": "plugin.wasm", "runtime": "wasm",
		"publisher":   map[string]any{"name": "tests", "key_id": "ed25519:0123456789abcdef"},
		"permissions": perms, "tools": tools, "limits": limits,
	}
}

var (
	attackOnce sync.Once
	attackE    *attackEnv
	attackErr  error
)

// setupAttack builds one host with two hostile plugins, shared by every
// attack: the host must survive all of them in a row.
func setupAttack(t *testing.T) *attackEnv {
	t.Helper()
	wasmPath := guestWasm(t, attackSrc)
	attackOnce.Do(func() {
		base, err := filepath.EvalSymlinks(must2(os.MkdirTemp(testDir, "attack-")))
		if err != nil {
			attackErr = err
			return
		}
		e := &attackEnv{base: base, granted: filepath.Join(base, "granted"), ro: filepath.Join(base, "ro"), sec: filepath.Join(base, "secret"), logs: &lineLog{}}
		for _, d := range []string{e.granted, e.ro, e.sec} {
			must(t, os.MkdirAll(d, 0o755))
		}
		must(t, os.WriteFile(filepath.Join(e.granted, "ok.txt"), []byte("fine"), 0o644))
		must(t, os.WriteFile(filepath.Join(e.ro, "r.txt"), []byte("read me"), 0o644))
		must(t, os.WriteFile(filepath.Join(e.sec, "s.txt"), []byte("top secret"), 0o644))
		// A symlink planted inside the granted directory, pointing out of it.
		must(t, os.Symlink(filepath.Join(e.sec, "s.txt"), filepath.Join(e.granted, "link")))
		must(t, os.Symlink("../secret", filepath.Join(e.granted, "dirlink")))

		shareCacheSecret(t, filepath.Join(base, "home"))
		h, err := New(context.Background(), Config{Home: filepath.Join(base, "home"), CacheDir: filepath.Join(testDir, "cache"),
			manualRefresh: true, Log: e.logs.add})
		if err != nil {
			attackErr = err
			return
		}
		e.h = h
		perm := func(dir, acts string) map[string]any {
			return map[string]any{"resource": "filesystem:" + dir, "actions": strings.Split(acts, ","), "reason": "test"}
		}
		// The deadline is generous so that the memory and recursion attacks hit
		// their limits before it even on a loaded 2-core machine; only the
		// infinite loop waits it out.
		limits := map[string]any{"memory_mb": 32, "timeout_ms": 4000, "max_output_bytes": 65536}
		dir := pluginDirAt(t, filepath.Join(base, "p1"), wasmPath, attackManifest("attack", []map[string]any{perm(e.granted, "read,write,list"), perm(e.ro, "read,write")}, limits))
		if _, err := h.Install(context.Background(), dir, InstallOptions{Grants: []Grant{
			{Resource: "filesystem:" + e.granted, Actions: []string{"read", "write", "list"}},
			{Resource: "filesystem:" + e.ro, Actions: []string{"read"}}, // write declared, not granted
		}}); err != nil {
			attackErr = err
			return
		}
		// A second plugin that may read the secret: its token must be useless
		// to the first.
		dir2 := pluginDirAt(t, filepath.Join(base, "p2"), wasmPath, attackManifest("other", []map[string]any{perm(e.sec, "read")}, limits))
		if _, err := h.Install(context.Background(), dir2, InstallOptions{Grants: []Grant{{Resource: "filesystem:" + e.sec, Actions: []string{"read"}}}}); err != nil {
			attackErr = err
			return
		}
		attackE = e
	})
	if attackErr != nil {
		t.Fatal(attackErr)
	}
	return attackE
}

func (e *attackEnv) call(t *testing.T, plugin, tool string, in any) (map[string]any, []*audit.Event, error) {
	t.Helper()
	b, err := json.Marshal(in)
	must(t, err)
	res, err := e.h.Invoke(context.Background(), plugin, tool, b)
	var evs []*audit.Event
	if res != nil {
		evs = eventsOf(t, e.h, res.Events)
	}
	var out map[string]any
	if err == nil && len(res.Output) > 0 && res.Output[0] == '{' {
		must(t, json.Unmarshal(res.Output, &out))
	}
	return out, evs, err
}

// stillServes checks the host's next normal call on the same plugin works.
func (e *attackEnv) stillServes(t *testing.T) {
	t.Helper()
	res, err := e.h.Invoke(context.Background(), "attack", "echo", json.RawMessage(`{"ping":1}`))
	if err != nil || string(res.Output) != `{"ping":1}` {
		t.Fatalf("the host stopped serving after the attack: %v", err)
	}
}

// refused reports whether evs holds a denied or failed gate event on res.
func refused(evs []*audit.Event, resPrefix string) bool {
	for _, ev := range evs {
		if ev.Action == ActionInvoke {
			continue
		}
		if (ev.Decision.Effect == audit.EffectDeny || ev.Outcome == audit.OutcomeError) && strings.HasPrefix(ev.Resource, resPrefix) {
			return true
		}
	}
	return false
}

func TestAttackFileEscapes(t *testing.T) {
	e := setupAttack(t)
	for _, tc := range []struct{ name, tool, path, resource string }{
		{"dotdot", "readfile", "GRANTED/../secret/s.txt", "filesystem:SECRET"},
		{"absolute path", "readfile", "SECRET/s.txt", "filesystem:SECRET"},
		{"symlink out of the grant", "readfile", "GRANTED/link", "filesystem:"},
		{"directory symlink out of the grant", "readfile", "GRANTED/dirlink/s.txt", "filesystem:"},
		{"proc self environ", "readfile", "/proc/self/environ", "filesystem:/proc"},
		{"list outside", "readdir", "SECRET", "filesystem:SECRET"},
		{"write where only read is granted", "writefile", "RO/new.txt", "filesystem:RO"},
		{"overwrite where only read is granted", "writefile", "RO/r.txt", "filesystem:RO"},
		{"delete where only read is granted", "remove", "RO/r.txt", "filesystem:RO"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := strings.NewReplacer("GRANTED", e.granted, "SECRET", e.sec, "RO", e.ro)
			out, evs, err := e.call(t, "attack", tc.tool, map[string]string{"path": r.Replace(tc.path), "data": "pwned"})
			if err != nil {
				t.Fatalf("tool failed instead of seeing a refusal: %v", err)
			}
			if errno, _ := out["errno"].(string); errno == "" {
				t.Fatalf("the guest's %s of %s succeeded: %v", tc.tool, tc.path, out)
			}
			if d, _ := out["data"].(string); strings.Contains(d, "secret") || strings.Contains(d, "PATH=") {
				t.Fatalf("the guest read %q", d)
			}
			if !refused(evs, r.Replace(tc.resource)) {
				t.Fatalf("no refusal event for %s in %s", tc.resource, describe(evs))
			}
			e.stillServes(t)
		})
	}
	// Nothing was written or removed where only read was granted.
	if _, err := os.Stat(filepath.Join(e.ro, "new.txt")); !os.IsNotExist(err) {
		t.Fatalf("the guest created a file in the read-only grant: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(e.ro, "r.txt")); string(b) != "read me" {
		t.Fatalf("the read-only file became %q", b)
	}
	// The explicit host API refuses the same escapes.
	out, evs, err := e.call(t, "attack", "host", map[string]any{"method": "fs.read", "params": map[string]string{"path": e.granted + "/../secret/s.txt"}})
	must(t, err)
	if out["code"] == nil || !refused(evs, "filesystem:") {
		t.Fatalf("fs.read through ..: %v %s", out, describe(evs))
	}
	// And the granted file is readable, so the refusals above are not a
	// broken setup.
	out, _, err = e.call(t, "attack", "readfile", map[string]string{"path": filepath.Join(e.granted, "ok.txt")})
	if err != nil || out["data"] != "fine" {
		t.Fatalf("reading the granted file: %v %v", out, err)
	}
}

func TestAttackForeignTokens(t *testing.T) {
	e := setupAttack(t)
	// A token the other plugin legitimately holds, read through its own
	// capability.list.
	out, _, err := e.call(t, "other", "host", map[string]any{"method": "capability.list", "params": map[string]any{}})
	must(t, err)
	var list struct {
		Capabilities []struct{ Token string } `json:"capabilities"`
	}
	must(t, json.Unmarshal(mustJSON(t, out["result"]), &list))
	if len(list.Capabilities) != 1 {
		t.Fatalf("other's capabilities: %v", out)
	}
	otherTok := list.Capabilities[0].Token

	// A token for this plugin but minted for another instance.
	wrongAud, _, err := e.h.issuer.Mint(capability.Request{Subject: "attack", Audience: "attack-someone-else",
		Resource: "filesystem:" + e.granted, Actions: []string{"read"}, TTL: time.Minute})
	must(t, err)

	for _, tc := range []struct{ name, token, path string }{
		{"another plugin's token", otherTok, filepath.Join(e.sec, "s.txt")},
		{"another instance's token", wrongAud, filepath.Join(e.granted, "ok.txt")},
		{"garbage token", "eyJhbGciOiJub25lIn0.e30.", filepath.Join(e.granted, "ok.txt")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, evs, err := e.call(t, "attack", "host", map[string]any{"method": "fs.read", "token": tc.token, "params": map[string]string{"path": tc.path}})
			must(t, err)
			if out["code"] != string(hostapi.CodeTokenInvalid) {
				t.Fatalf("fs.read with %s: %v", tc.name, out)
			}
			if !refused(evs, "filesystem:") {
				t.Fatalf("no refusal event in %s", describe(evs))
			}
			e.stillServes(t)
		})
	}
}

func TestAttackHostImportABI(t *testing.T) {
	e := setupAttack(t)
	const rel = 1 << 31 // the guest reads pointers >= 1<<31 as offsets into its buffer
	for _, tc := range []struct {
		name string
		in   map[string]any
	}{
		{"method out of bounds", map[string]any{"MethodPtr": 0xfffffff0, "MethodLen": 64, "ParamsPtr": rel + 128, "ParamsLen": 2, "OutPtr": rel + 200, "OutCap": 50, "Params": "{}"}},
		{"malformed JSON params", map[string]any{"MethodPtr": rel, "MethodLen": 7, "ParamsPtr": rel + 128, "ParamsLen": 9, "OutPtr": rel + 200, "OutCap": 50, "Method": "fs.read", "Params": "{not json"}},
		{"output overlaps params", map[string]any{"MethodPtr": rel, "MethodLen": 7, "ParamsPtr": rel + 128, "ParamsLen": 40, "OutPtr": rel + 130, "OutCap": 100, "Method": "fs.read", "Params": "{}"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := e.call(t, "attack", "rawcall", tc.in)
			must(t, err)
			if env, _ := out["envelope"].(string); !strings.Contains(env, string(hostapi.CodeInvalidParams)) {
				t.Fatalf("envelope %v", out)
			}
			e.stillServes(t)
		})
	}
}

func TestAttackResourceExhaustion(t *testing.T) {
	e := setupAttack(t)
	for _, tc := range []struct {
		name, tool string
		in         any
		code       hostapi.Code
		// also is a second outcome that equally proves containment: deep
		// recursion normally traps on the memory limit first, but on a loaded
		// machine the deadline can come first, and either stops it.
		also hostapi.Code
	}{
		{"infinite loop", "loop", map[string]any{}, hostapi.CodeTimeout, ""},
		{"memory growth past the limit", "alloc", map[string]int{"n": 64}, CodeTrapped, hostapi.CodeTimeout},
		{"result flood", "result_flood", map[string]int{"n": 1 << 20}, hostapi.CodeTooLarge, ""},
		{"deep recursion", "recurse", map[string]int{"n": 50_000_000}, CodeTrapped, hostapi.CodeTimeout},
		{"trap mid-write", "trap_mid_write", map[string]string{"path": filepath.Join(e.base, "granted", "half.txt")}, CodeTrapped, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, evs, err := e.call(t, "attack", tc.tool, tc.in)
			code := hostapi.CodeOf(err)
			if code != tc.code && (tc.also == "" || code != tc.also) {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
			last := evs[len(evs)-1]
			if last.Action != ActionInvoke || last.Outcome != audit.OutcomeError || last.Error.Code != string(code) {
				t.Fatalf("event %+v", last)
			}
			t.Logf("%s stopped after %v", tc.name, time.Since(start).Round(time.Millisecond))
			e.stillServes(t)
		})
	}

	t.Run("stdout flood", func(t *testing.T) {
		e.logs.take()
		out, _, err := e.call(t, "attack", "stdout_flood", map[string]int{"n": 2000}) // 4 MB of output
		must(t, err)
		_ = out
		lines := e.logs.take()
		total := 0
		for _, l := range lines {
			total += len(l)
		}
		if total > 128<<10 || !strings.Contains(strings.Join(lines, "\n"), "dropped") {
			t.Fatalf("%d log lines, %d bytes reached the host log", len(lines), total)
		}
		e.stillServes(t)
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	return b
}

func describe(evs []*audit.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		b.WriteString("\n  ")
		raw, _ := ev.MarshalJSON()
		b.Write(raw)
	}
	return b.String()
}
