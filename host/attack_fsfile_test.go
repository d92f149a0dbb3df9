package host

// End-to-end attacks on the capability filesystem's open files (issue 10,
// findings 3, 4 and the two file items of 10), from the real Go test guest
// (sandbox/wasm/testdata/guest, tool fileops) through Host.Invoke, the real
// gate and the real ledger.

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
	"github.com/wardenproject/warden/hostapi"
	"github.com/wardenproject/warden/store"
)

type fsfileHost struct {
	h    *Host
	data string // the plugin's folder: wo/ is granted write, rw/ read and write

	mu     sync.Mutex
	onLine func(line string) // run on the guest's stdout lines, on the invoking goroutine
}

type fileOpResult struct {
	N     int    `json:"n"`
	Data  string `json:"data"`
	Errno string `json:"errno"`
}

type fileOpsOut struct {
	Open    string         `json:"open"`
	Results []fileOpResult `json:"results"`
}

// newFSFileHost installs the test guest as plugin "files", declaring read,
// write and list on data, with the given policy (YAML, "%DATA%" is the data
// folder; "" for the built-in policy) and grants (resource relative to data,
// actions).
func newFSFileHost(t *testing.T, pol string, timeoutMS int, grants map[string]string) *fsfileHost {
	t.Helper()
	wasmPath := guestWasm(t, attackSrc)
	base, err := filepath.EvalSymlinks(t.TempDir())
	must(t, err)
	e := &fsfileHost{data: filepath.Join(base, "data")}
	for _, d := range []string{"wo", "rw/hr"} {
		must(t, os.MkdirAll(filepath.Join(e.data, d), 0o755))
	}
	cfg := Config{Home: filepath.Join(base, "home"), Log: func(_, stream, line string) {
		e.mu.Lock()
		fn := e.onLine
		e.mu.Unlock()
		if fn != nil && stream == "stdout" {
			fn(line)
		}
	}}
	if pol != "" {
		cfg.PolicyPath = filepath.Join(base, "policy.yaml")
		must(t, os.WriteFile(cfg.PolicyPath, []byte(strings.ReplaceAll(pol, "%DATA%", e.data)), 0o644))
	}
	e.h = newTestHost(t, cfg)
	man := map[string]any{
		"name": "files", "version": "1.0.0", "description": "A test guest that works on open files.", "entry": "plugin.wasm", "runtime": "wasm",
		"publisher":   map[string]any{"name": "tests", "key_id": "ed25519:0123456789abcdef"},
		"permissions": []map[string]any{{"resource": "filesystem:" + e.data, "actions": []string{"read", "write", "list"}, "reason": "test"}},
		"tools": []map[string]any{
			{"name": "fileops", "description": "runs file operations", "input_schema": map[string]any{"type": "object"}},
			{"name": "echo", "description": "echoes", "input_schema": map[string]any{"type": "object"}},
		},
		"limits": map[string]any{"memory_mb": 32, "timeout_ms": timeoutMS},
	}
	var gs []Grant
	for res, acts := range grants {
		gs = append(gs, Grant{Resource: "filesystem:" + filepath.Join(e.data, res), Actions: strings.Split(acts, ",")})
	}
	_, err = e.h.Install(context.Background(), pluginDirAt(t, filepath.Join(base, "plugin"), wasmPath, man), InstallOptions{Grants: gs})
	must(t, err)
	return e
}

// fileops runs the guest's fileops tool and returns its output, the call's
// events and its error.
func (e *fsfileHost) fileops(t *testing.T, path string, flags []string, ops ...map[string]any) (fileOpsOut, []*audit.Event, error) {
	t.Helper()
	in, err := json.Marshal(map[string]any{"path": path, "flags": flags, "ops": ops})
	must(t, err)
	res, err := e.h.Invoke(context.Background(), "files", "fileops", in)
	var out fileOpsOut
	var evs []*audit.Event
	if res != nil {
		evs = eventsOf(t, e.h, res.Events)
		if err == nil {
			must(t, json.Unmarshal(res.Output, &out))
		}
	}
	return out, evs, err
}

func op(name string, kv ...any) map[string]any {
	m := map[string]any{"op": name}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// lastOf returns the last event of action in evs, or nil.
func lastOf(evs []*audit.Event, action string) *audit.Event {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Action == action {
			return evs[i]
		}
	}
	return nil
}

// wantInvokeLast checks that the call's own tool.invoke event was written,
// last of its events.
func wantInvokeLast(t *testing.T, evs []*audit.Event) *audit.Event {
	t.Helper()
	if len(evs) == 0 || evs[len(evs)-1].Action != ActionInvoke {
		t.Fatalf("the call's tool.invoke event is not its last event:%s", describe(evs))
	}
	return evs[len(evs)-1]
}

const hrPolicy = `version: 1
rules:
  - id: hr-no-read
    effect: deny
    resource: "filesystem:%DATA%/rw/hr/**"
    actions: [read]
`

// TestAttackGuestOpenReadWrite (issue 10, finding 3): from the guest, an
// O_RDWR open on a write-only grant, and one of a file whose reading the
// policy denies, are refused (EACCES) and audited; O_WRONLY on the first and
// O_RDWR where read and write are both allowed work.
func TestAttackGuestOpenReadWrite(t *testing.T) {
	e := newFSFileHost(t, hrPolicy, 5000, map[string]string{"wo": "write", "rw": "read,write"})
	report := filepath.Join(e.data, "wo", "report.txt")
	salaries := filepath.Join(e.data, "rw", "hr", "SALARIES-2026")
	must(t, os.WriteFile(report, []byte("quarterly numbers"), 0o644))
	must(t, os.WriteFile(salaries, []byte("alice,120000\n"), 0o644))

	for _, tc := range []struct {
		name, path, by string
		flags          []string
	}{
		{"write-only grant", report, "default", []string{"rdwr"}}, // no capability, and no grant for read
		{"write-only grant, create", report, "default", []string{"rdwr", "create"}},
		{"deny read", salaries, "rule:hr-no-read", []string{"rdwr"}},
		{"deny read, append", salaries, "rule:hr-no-read", []string{"rdwr", "append"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, evs, err := e.fileops(t, tc.path, tc.flags, op("read", "n", 64))
			must(t, err)
			if out.Open != "permission" {
				t.Fatalf("the guest's open: %+v, want a permission error", out)
			}
			ev := lastOf(evs, hostapi.ActionOpen)
			if ev == nil || ev.Decision.Effect != audit.EffectDeny || ev.Decision.By != tc.by || ev.Detail["access"] != "read,write" ||
				ev.Resource != "filesystem:"+tc.path {
				t.Fatalf("no deny of the open by %s naming read and write:%s", tc.by, describe(evs))
			}
			wantInvokeLast(t, evs)
		})
	}

	out, evs, err := e.fileops(t, report, []string{"wronly", "append"}, op("write", "data", " and more"), op("read", "n", 4))
	must(t, err)
	if out.Open != "" || out.Results[0].Errno != "" || out.Results[1].Errno != "badf" {
		t.Fatalf("O_WRONLY on the write-only grant: %+v", out)
	}
	if ev := lastOf(evs, hostapi.ActionClose); ev == nil || ev.Detail["access"] != "write" || ev.Detail["written"] != "9" {
		t.Fatalf("close event:%s", describe(evs))
	}
	out, _, err = e.fileops(t, filepath.Join(e.data, "rw", "notes.txt"), []string{"rdwr", "create"},
		op("write", "data", "hello"), op("pread", "n", 5, "off", 0))
	must(t, err)
	if out.Open != "" || out.Results[1].Data != "hello" {
		t.Fatalf("O_RDWR on the read-write grant: %+v", out)
	}
	if b, _ := os.ReadFile(salaries); string(b) != "alice,120000\n" {
		t.Fatalf("salaries changed: %q", b)
	}
}

// TestAttackGuestPwrite (issue 10, finding 10): os.File.WriteAt in the guest
// (fd_pwrite) failed with EBADF on a writable file: the gate's file had no
// WriteAt, the adapter answered ENOSYS, and wazero's fd_pwrite turns ENOSYS
// into EBADF. It now writes, and a read-only file still refuses it.
func TestAttackGuestPwrite(t *testing.T) {
	e := newFSFileHost(t, "", 5000, map[string]string{"rw": "read,write"})
	p := filepath.Join(e.data, "rw", "digits.txt")
	must(t, os.WriteFile(p, []byte("0123456789"), 0o644))
	out, evs, err := e.fileops(t, p, []string{"wronly"}, op("pwrite", "data", "AB", "off", 3), op("pwrite", "data", "Z", "off", 12))
	must(t, err)
	if out.Open != "" || out.Results[0].Errno != "" || out.Results[0].N != 2 || out.Results[1].Errno != "" {
		t.Fatalf("pwrite on a writable file: %+v", out)
	}
	if b, _ := os.ReadFile(p); string(b) != "012AB56789\x00\x00Z" {
		t.Fatalf("file is %q", b)
	}
	if ev := lastOf(evs, hostapi.ActionClose); ev == nil || ev.Detail["written"] != "3" || ev.AfterHash == "" {
		t.Fatalf("close event:%s", describe(evs))
	}
	out, _, err = e.fileops(t, p, []string{"rdonly"}, op("pwrite", "data", "XX", "off", 0))
	must(t, err)
	if out.Open != "" || out.Results[0].Errno != "badf" {
		t.Fatalf("pwrite on a read-only file: %+v", out)
	}
	if b, _ := os.ReadFile(p); string(b) != "012AB56789\x00\x00Z" {
		t.Fatalf("file is %q", b)
	}
}

// hangDetector runs fn and fails the test if it has not returned after a
// deadline of minutes: the bug it guards against held the host for hours.
func hangDetector(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		t.Fatalf("%s did not return within three minutes (the call's deadline is 5 s): the host is hashing past it", what)
	}
}

// TestAttackGuestSparseClose (issue 10, finding 4): a guest truncated a
// file it opened to write up to 8 TiB (sparse) and closed it; the host
// hashed 8 TiB of zeros for the close event, far past the call's 5 s
// deadline, and tool.invoke was never written. The guest's truncate is now
// refused by its write budget; an 8 TiB sparse file already in the grant is
// the same hashing problem, so the test makes one and the guest opens it to
// write: the call returns, the open and close events record the skipped
// hashes and the size, and tool.invoke is written; also when the guest runs
// out its deadline with the file open.
func TestAttackGuestSparseClose(t *testing.T) {
	const huge = 8 << 40
	e := newFSFileHost(t, "", 5000, map[string]string{"rw": "read,write"})
	for _, tc := range []struct {
		name string
		ops  []map[string]any
		code hostapi.Code
	}{
		{"close", []map[string]any{op("close")}, ""},
		{"deadline with the file open", []map[string]any{op("spin")}, hostapi.CodeTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The guest can no longer make the file itself: growing a file
			// draws on its write budget (TestAttackWriteFloodEndsAtTheWriteBudget).
			// A sparse file that another program left in the grant (a disk
			// image, a database) is the same file to hash.
			p := filepath.Join(e.data, "rw", strings.ReplaceAll(tc.name, " ", "-")+".bin")
			f, err := os.Create(p)
			must(t, err)
			if err := f.Truncate(huge); err != nil {
				t.Fatalf("the test needs a filesystem that takes an 8 TiB sparse file: %v", err)
			}
			must(t, f.Close())
			var (
				out fileOpsOut
				evs []*audit.Event
			)
			hangDetector(t, "the call", func() { out, evs, err = e.fileops(t, p, []string{"wronly"}, tc.ops...) })
			if hostapi.CodeOf(err) != tc.code && (tc.code != "" || err != nil) {
				t.Fatalf("the call ended with %v, want %q", err, tc.code)
			}
			if tc.code == "" && out.Open != "" {
				t.Fatalf("the guest's open: %+v", out)
			}
			if ev := lastOf(evs, hostapi.ActionOpen); ev == nil || ev.Detail["before_hash_skipped"] == "" {
				t.Fatalf("no open event with the skipped before-hash:%s", describe(evs))
			}
			ev := lastOf(evs, hostapi.ActionClose)
			if ev == nil || ev.AfterHash != "" || ev.Detail["after_hash_skipped"] == "" || ev.Detail["after_size"] != "8796093022208" {
				t.Fatalf("no close event with the skipped hash and the size:%s", describe(evs))
			}
			inv := wantInvokeLast(t, evs)
			if tc.code != "" && (inv.Error == nil || inv.Error.Code != string(tc.code)) {
				t.Fatalf("tool.invoke %+v", inv)
			}
			must(t, os.Remove(p))
		})
	}
	res, err := e.h.Invoke(context.Background(), "files", "echo", json.RawMessage(`{"ping":1}`))
	if err != nil || string(res.Output) != `{"ping":1}` {
		t.Fatalf("the host stopped serving: %v", err)
	}
}

// TestAttackGuestFileOutlivesRevocation (issue 10, finding 10): a file
// opened before its grant was removed (warden revoke --grant) or its
// plugin's tokens were revoked (warden revoke --plugin) kept serving reads
// for the rest of the call. The guest reads, the revocation reaches the host
// through the store and its refresh (as the refresh loop would), and the
// guest's next reads are refused with EACCES, with one fs.recheck event.
func TestAttackGuestFileOutlivesRevocation(t *testing.T) {
	for _, how := range []string{"grant", "plugin"} {
		t.Run(how, func(t *testing.T) {
			e := newFSFileHost(t, "", 5000, map[string]string{"rw": "read,write"})
			p := filepath.Join(e.data, "rw", "report.txt")
			must(t, os.WriteFile(p, []byte("0123456789abcdef"), 0o644))
			ctx := context.Background()
			e.mu.Lock()
			e.onLine = func(line string) {
				if line != "revoke-now" {
					return
				}
				switch how {
				case "grant":
					gs, err := e.h.st.ListGrants(ctx, "files")
					must(t, err)
					for _, g := range gs {
						must(t, e.h.st.DeleteGrant(ctx, g.ID))
					}
				case "plugin":
					_, err := e.h.st.Revoke(ctx, store.RevokePlugin, "files", "test")
					must(t, err)
				}
				must(t, e.h.refresh(ctx))
			}
			e.mu.Unlock()
			out, evs, err := e.fileops(t, p, []string{"rdonly"},
				op("read", "n", 4), op("say", "data", "revoke-now"), op("read", "n", 4), op("pread", "n", 4, "off", 0), op("read", "n", 4))
			must(t, err)
			if out.Open != "" || out.Results[0].Data != "0123" {
				t.Fatalf("read before the revocation: %+v", out)
			}
			for _, r := range out.Results[2:] {
				if r.Errno != "permission" || r.Data != "" {
					t.Fatalf("a read after the revocation: %+v", out.Results)
				}
			}
			var rechecks []*audit.Event
			for _, ev := range evs {
				if ev.Action == hostapi.ActionRecheck {
					rechecks = append(rechecks, ev)
				}
			}
			if len(rechecks) != 1 || rechecks[0].Outcome != audit.OutcomeError || rechecks[0].Decision.Effect != audit.EffectDeny ||
				rechecks[0].Resource != "filesystem:"+p {
				t.Fatalf("want one fs.recheck refusal for three refused reads:%s", describe(evs))
			}
			if ev := lastOf(evs, hostapi.ActionClose); ev == nil || ev.Detail["read"] != "4" || ev.Detail["refused_after_open"] == "" {
				t.Fatalf("close event:%s", describe(evs))
			}
			wantInvokeLast(t, evs)
		})
	}
}
