package wasm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// fsFixture is a host tree with a read-only grant, a read-write grant, a
// secret outside both, and symlinks planted inside the read grant that point
// at the secret (the relative one is wazero's DirFS escape, issues 2321/2324).
type fsFixture struct {
	base, ro, rw, secret string
	gate                 *testGate
}

func newFSFixture(t *testing.T) *fsFixture {
	t.Helper()
	base, err := filepath.EvalSymlinks(t.TempDir())
	must(t, err)
	f := &fsFixture{base: base, ro: filepath.Join(base, "ro"), rw: filepath.Join(base, "rw"), secret: filepath.Join(base, "outside", "secret.txt")}
	for _, d := range []string{f.ro, f.rw, filepath.Dir(f.secret)} {
		must(t, os.Mkdir(d, 0o755))
	}
	must(t, os.WriteFile(f.secret, []byte("secret"), 0o644))
	must(t, os.WriteFile(filepath.Join(f.ro, "a.txt"), []byte("alpha"), 0o644))
	must(t, os.Symlink("../outside/secret.txt", filepath.Join(f.ro, "link")))
	must(t, os.Symlink(f.secret, filepath.Join(f.ro, "abslink")))
	must(t, os.Symlink("../outside", filepath.Join(f.ro, "dirlink")))
	f.gate = newTestGate(map[string]testGrant{
		"tok-ro": {dir: f.ro, actions: "read"},
		"tok-rw": {dir: f.rw, actions: "read,write"},
	})
	return f
}

func (f *fsFixture) instance(t *testing.T, wasm []byte) *Instance {
	return instantiate(t, compile(t, wasm), InstanceConfig{Gate: f.gate, Caller: caller("tok-ro", "tok-rw")})
}

type fsResult struct {
	Data  string   `json:"data"`
	Names []string `json:"names"`
	Size  int64    `json:"size"`
	IsDir bool     `json:"is_dir"`
	Errno string   `json:"errno"`
}

func TestCapFSGoGuest(t *testing.T) {
	f := newFSFixture(t)
	inst := f.instance(t, goGuest(t))
	run := func(tool string, args map[string]string) fsResult {
		t.Helper()
		var r fsResult
		must(t, invokeJSON(t, inst, tool, args, &r))
		return r
	}
	// Granted paths work through plain os calls.
	if r := run("readfile", map[string]string{"path": filepath.Join(f.ro, "a.txt")}); r.Data != "alpha" || r.Errno != "" {
		t.Fatalf("read granted file: %+v", r)
	}
	if r := run("stat", map[string]string{"path": filepath.Join(f.ro, "a.txt")}); r.Size != 5 || r.IsDir {
		t.Fatalf("stat granted file: %+v", r)
	}
	if r := run("readdir", map[string]string{"path": f.ro}); !slices.Equal(r.Names, []string{"a.txt", "abslink", "dirlink", "link"}) {
		t.Fatalf("readdir granted dir: %+v", r)
	}
	if r := run("readdir", map[string]string{"path": "/"}); len(r.Names) != 0 || r.Errno != "" {
		t.Fatalf("the root must list nothing: %+v", r)
	}

	// Attacks: reads outside every grant.
	for _, p := range []string{
		f.ro + "/../outside/secret.txt",              // ..
		f.secret,                                     // absolute path
		filepath.Join(f.ro, "link"),                  // relative symlink planted in the grant
		filepath.Join(f.ro, "abslink"),               // absolute symlink
		filepath.Join(f.ro, "dirlink", "secret.txt"), // through a directory symlink
		"/etc/passwd",
		"/proc/self/environ",
		"/proc/self/root" + f.secret,
		"/proc/self/cwd/../../../../../../../" + f.secret,
		f.ro + "/a.txt/../../outside/secret.txt",
		f.ro + "\x00/a.txt",
	} {
		r := run("readfile", map[string]string{"path": p})
		if r.Data != "" || (r.Errno != "permission" && r.Errno != "not_exist" && r.Errno[:5] != "other") {
			t.Errorf("read %q: got %+v; want it refused", p, r)
		}
	}
	if !f.gate.denied(f.secret) || !f.gate.denied(filepath.Join(f.ro, "link")) || !f.gate.denied("/proc/self/environ") {
		t.Error("refusals were not recorded as denied events")
	}
	if r := run("readdir", map[string]string{"path": f.base}); r.Errno != "permission" {
		t.Errorf("listing the parent of the grants: %+v", r)
	}
	if r := run("stat", map[string]string{"path": f.secret}); r.Errno != "permission" {
		t.Errorf("stat outside grants: %+v", r)
	}

	// Attack: write where only read is granted.
	if r := run("writefile", map[string]string{"path": filepath.Join(f.ro, "new.txt"), "data": "x"}); r.Errno != "permission" {
		t.Errorf("write into the read-only grant: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(f.ro, "new.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Error("the refused write created the file")
	}
	if r := run("writefile", map[string]string{"path": filepath.Join(f.ro, "link"), "data": "x"}); r.Errno != "permission" {
		t.Errorf("write through a symlink: %+v", r)
	}
	if b, _ := os.ReadFile(f.secret); string(b) != "secret" {
		t.Error("the secret was overwritten")
	}

	// Writes, mkdir, rename and remove inside the read-write grant.
	nf := filepath.Join(f.rw, "new.txt")
	if r := run("writefile", map[string]string{"path": nf, "data": "hello"}); r.Errno != "" {
		t.Fatalf("write granted file: %+v", r)
	}
	if b, _ := os.ReadFile(nf); string(b) != "hello" {
		t.Fatalf("written content %q", b)
	}
	sub := filepath.Join(f.rw, "sub")
	if r := run("mkdir", map[string]string{"path": sub}); r.Errno != "" {
		t.Fatalf("mkdir: %+v", r)
	}
	moved := filepath.Join(sub, "moved.txt")
	if r := run("rename", map[string]string{"path": nf, "to": moved}); r.Errno != "" {
		t.Fatalf("rename: %+v", r)
	}
	if r := run("rename", map[string]string{"path": moved, "to": filepath.Join(f.base, "outside", "stolen.txt")}); r.Errno != "permission" {
		t.Fatalf("rename out of the grant: %+v", r)
	}
	if r := run("remove", map[string]string{"path": moved}); r.Errno != "" {
		t.Fatalf("remove: %+v", r)
	}
	if r := run("remove", map[string]string{"path": f.secret}); r.Errno != "permission" {
		t.Fatalf("remove outside: %+v", r)
	}
	if r := run("stat", map[string]string{"path": moved}); r.Errno != "not_exist" {
		t.Fatalf("stat removed file: %+v", r)
	}
	if n := f.gate.open.Load(); n != 0 {
		t.Fatalf("%d host files left open", n)
	}
}

// WASI errno values as the WAT guest reports them.
const (
	wasiEACCES = 2
	wasiENOENT = 44
	wasiEPERM  = 63
)

func TestCapFSWATGuest(t *testing.T) {
	f := newFSFixture(t)
	inst := f.instance(t, watGuest(t))
	errno := func(tool, p string) int {
		t.Helper()
		out, err := inst.Invoke(context.Background(), tool, []byte(p))
		must(t, err)
		n, err := strconv.Atoi(string(out))
		must(t, err)
		return n
	}
	if e := errno("x", filepath.Join(f.ro, "a.txt")); e != 0 {
		t.Fatalf("read granted: errno %d", e)
	}
	for _, p := range []string{
		f.ro + "/../outside/secret.txt",
		f.secret,
		filepath.Join(f.ro, "link"),
		filepath.Join(f.ro, "abslink"),
		"/etc/passwd",
		"/proc/self/environ",
	} {
		if e := errno("x", p); e != wasiEACCES {
			t.Errorf("read %s: errno %d, want EACCES", p, e)
		}
	}
	// Without the leading slash the path is relative to "/"; ".." above the
	// root is refused by wazero before it reaches the filesystem.
	if e := errno("x", "../../etc/passwd"); e == 0 {
		t.Error("../../etc/passwd was opened")
	}
	if e := errno("x", filepath.Join(f.rw, "missing")); e != wasiENOENT {
		t.Errorf("missing granted file: errno %d", e)
	}
	if e := errno("w", filepath.Join(f.ro, "wat.txt")); e != wasiEACCES {
		t.Errorf("write into read-only grant: errno %d", e)
	}
	if e := errno("w", filepath.Join(f.rw, "wat.txt")); e != 0 {
		t.Fatalf("write granted: errno %d", e)
	}
	if b, _ := os.ReadFile(filepath.Join(f.rw, "wat.txt")); string(b) != "wat was here" {
		t.Fatalf("content %q", b)
	}
	_ = wasiEPERM
}

// Attack: a guest that traps in the middle of a write. The trap is reported,
// the host file is closed (so the gate can record the outcome), and the host
// keeps serving.
func TestTrapMidWrite(t *testing.T) {
	for _, g := range bothGuests {
		t.Run(g.name, func(t *testing.T) {
			f := newFSFixture(t)
			inst := f.instance(t, g.wasm(t))
			p := filepath.Join(f.rw, "partial.txt")
			var err error
			if g.name == "go" {
				err = invokeJSON(t, inst, "trap_mid_write", map[string]string{"path": p}, nil)
			} else {
				_, err = inst.Invoke(context.Background(), "m", []byte(p))
			}
			if !errors.Is(err, ErrTrap) {
				t.Fatalf("got %v, want a trap", err)
			}
			if inst.Healthy() {
				t.Fatal("a trapped instance must be discarded")
			}
			if n := f.gate.open.Load(); n != 0 {
				t.Fatalf("%d host files left open after the trap", n)
			}
			fresh := f.instance(t, g.wasm(t))
			if _, err := fresh.Invoke(context.Background(), "echo", []byte(`true`)); err != nil && g.name == "go" {
				t.Fatalf("engine stopped serving: %v", err)
			}
		})
	}
}

// Attack: a guest opening files without closing them runs out of its own
// descriptor budget, never the host's; closing the instance closes them all.
func TestOpenFileBudget(t *testing.T) {
	f := newFSFixture(t)
	inst := f.instance(t, goGuest(t))
	var r fsResult
	must(t, invokeJSON(t, inst, "openmany", map[string]any{"path": filepath.Join(f.ro, "a.txt"), "n": maxOpenFiles + 50}, &r))
	if r.Size != maxOpenFiles || r.Errno == "" {
		t.Fatalf("opened %d files (errno %q); want the budget of %d", r.Size, r.Errno, maxOpenFiles)
	}
	if n := f.gate.open.Load(); n != maxOpenFiles {
		t.Fatalf("host holds %d files", n)
	}
	must(t, inst.Close(context.Background()))
	if n := f.gate.open.Load(); n != 0 {
		t.Fatalf("closing the instance left %d host files open", n)
	}
}
