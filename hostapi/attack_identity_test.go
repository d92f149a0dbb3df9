package hostapi

// Attack tests of the identity layer of Config.Protected (resolved.go,
// fsprov.Protection): warden's home two folders below a granted folder is
// out of reach under every name a rename, a hard link or a mount gives it,
// and no folder on the way to it can be moved or removed. Each uses a real
// gate, a real ledger and real files, and checks the deny event (by "gate",
// reason reasonProtected).

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/policy"
)

// identityEnv grants <root>/g (read, write, list, delete; an allow-all
// policy) with warden's home at g/a/b/.warden: the layout of a custom
// --home inside a folder a plugin was given.
type identityEnv struct {
	*env
	g                  *Gate
	c                  Caller
	grant, home        string
	key, policy, cache string
}

// more each prepare what they need under the grant and return one more
// protected path.
func newIdentityEnv(t *testing.T, more ...func(grant string) string) *identityEnv {
	t.Helper()
	e := newEnv(t)
	s := &identityEnv{env: e, grant: filepath.Join(e.dir, "g")}
	s.home = filepath.Join(s.grant, "a", "b", ".warden")
	s.key = filepath.Join(s.home, "keys", "host.key")
	s.policy = filepath.Join(s.home, "policy.yaml")
	s.cache = filepath.Join(s.home, "cache", "entry")
	for _, d := range []string{filepath.Join(s.home, "keys"), filepath.Join(s.home, "cache")} {
		must(t, os.MkdirAll(d, 0o700))
	}
	for p, data := range map[string]string{
		s.key: "HOST PRIVATE KEY", s.policy: "version: 1\n", s.cache: "NATIVE CODE",
		filepath.Join(s.grant, "f.txt"): "plugin data", filepath.Join(s.grant, "a", "b", "notes.txt"): "notes",
	} {
		must(t, os.WriteFile(p, []byte(data), 0o600))
	}
	// As host.New passes them: the home, its default policy file, the cache.
	e.protected = []string{s.home, s.policy, filepath.Join(s.home, "cache")}
	for _, m := range more {
		e.protected = append(e.protected, m(s.grant))
	}
	s.g, s.c = reviewGate(t, e, `version: 1
rules:
  - id: all
    effect: allow
    resource: "filesystem:%[1]s/g/**"
`, []policy.Permission{{Resource: "filesystem:" + s.grant + "/**", Actions: []string{"read", "write", "list", "delete"}}},
		"filesystem:"+s.grant+"/** read,write,list,delete")
	return s
}

func (s *identityEnv) p(rel string) string { return filepath.Join(s.grant, rel) }

func (s *identityEnv) call(method string, params map[string]any) ([]byte, error) {
	return s.g.Call(context.Background(), s.c, method, "", mustJSON(params))
}

// wantProtected checks that err is the refusal of warden's state, with a
// message that says so (and what in want), and that the ledger's last event
// for action is that refusal.
func (s *identityEnv) wantProtected(t *testing.T, action string, err error, want string) {
	t.Helper()
	s.t = t
	wantCode(t, err, CodeDenied)
	if !strings.Contains(err.Error(), "warden's own state directory") || !strings.Contains(err.Error(), want) {
		t.Fatalf("message %q, want it to name warden's state and say %q", err, want)
	}
	ev := s.wantDenyEvent(action, CodeDenied)
	if ev.Decision.By != "gate" || ev.Decision.Reason != reasonProtected {
		t.Fatalf("deny event decision %+v, want by gate for %q", ev.Decision, reasonProtected)
	}
	for _, e := range s.events() {
		if e.Outcome == audit.OutcomeIntent && strings.Contains(e.Resource, ".warden") {
			t.Fatalf("an intent was recorded for an effect on warden's state: %+v", e)
		}
	}
}

// unchanged checks that warden's state is as the env made it.
func (s *identityEnv) unchanged(t *testing.T) {
	t.Helper()
	for p, want := range map[string]string{s.key: "HOST PRIVATE KEY", s.policy: "version: 1\n", s.cache: "NATIVE CODE"} {
		if b, err := os.ReadFile(p); err != nil || string(b) != want {
			t.Fatalf("%s is now %q (%v)", p, b, err)
		}
	}
	des, err := os.ReadDir(s.home)
	must(t, err)
	if len(des) != 3 {
		t.Fatalf("warden's home now holds %d entries: %v", len(des), des)
	}
}

// TestIdentityRenameInBetweenRefused is the attack of issue 10 finding 1 as
// it was done: rename the folder between the granted one and the home,
// read the host key and the policy through the moved name, plant a policy
// and a cache entry, rename the folder back. The first step is refused and
// audited, so every later step meets the home's own name; and the same
// rename of the folder, reached by a name the gate's name checks do not
// know (a symlink the user made), is refused by identity.
func TestIdentityRenameInBetweenRefused(t *testing.T) {
	s := newIdentityEnv(t)
	moved := s.p("a2")
	_, err := s.call("fs.rename", map[string]any{"from": s.p("a"), "to": moved})
	s.wantProtected(t, "fs.rename", err, "is a folder on the way")
	for _, step := range []struct {
		method string
		params map[string]any
	}{
		{"fs.read", map[string]any{"path": filepath.Join(moved, "b", ".warden", "keys", "host.key")}},
		{"fs.read", map[string]any{"path": filepath.Join(moved, "b", ".warden", "policy.yaml")}},
		{"fs.write", map[string]any{"path": filepath.Join(moved, "b", ".warden", "policy.yaml"), "data": "cGxhbnRlZA=="}},
		{"fs.write", map[string]any{"path": filepath.Join(moved, "b", ".warden", "cache", "entry"), "data": "cGxhbnRlZA=="}},
		{"fs.rename", map[string]any{"from": moved, "to": s.p("a")}},
	} {
		if out, err := s.call(step.method, step.params); err == nil {
			t.Fatalf("%s %v succeeded after the refused rename: %s", step.method, step.params, out)
		}
	}
	if _, err := os.Lstat(moved); err == nil {
		t.Fatal("the folder in between was moved")
	}

	// Each folder on the way, and the home itself, under a name a symlink
	// gives it (made by the user, not the plugin): the name checks see the
	// resolved name, the identity layer the folder itself.
	must(t, os.Symlink("a", s.p("alias")))
	for _, tc := range []struct{ from, want string }{
		{s.p("alias/b"), "is a folder on the way"},
		{s.p("alias/b/.warden"), "warden's own state directory"},
	} {
		_, err := s.call("fs.rename", map[string]any{"from": tc.from, "to": s.p("elsewhere")})
		s.wantProtected(t, "fs.rename", err, tc.want)
	}
	for _, p := range []string{s.p("a"), s.p("a/b")} {
		_, err := s.call("fs.delete", map[string]any{"path": p})
		s.wantProtected(t, "fs.delete", err, "is a folder on the way")
	}
	s.unchanged(t)

	// The rest of the granted folder still moves: the refusals are not a
	// broken setup.
	must(t, os.Mkdir(s.p("other"), 0o755))
	if _, err := s.call("fs.rename", map[string]any{"from": s.p("other"), "to": s.p("other2")}); err != nil {
		t.Fatalf("renaming an unrelated folder: %v", err)
	}
	if _, err := s.call("fs.rename", map[string]any{"from": s.p("a/b/notes.txt"), "to": s.p("a/b/notes2.txt")}); err != nil {
		t.Fatalf("renaming a file beside the home: %v", err)
	}
}

// TestIdentityMovedByAnotherProcess: another program (the test) moves the
// folder in between; under its new name, which no name check knows, every
// method and the capability filesystem are refused, by identity, with the
// same deny event; nothing in the home is read, written, created, moved or
// removed; and the folder cannot be renamed back by the plugin either.
func TestIdentityMovedByAnotherProcess(t *testing.T) {
	s := newIdentityEnv(t)
	moved := s.p("moved")
	must(t, os.Rename(s.p("a"), moved))
	t.Cleanup(func() { os.Rename(moved, s.p("a")) })
	mh := filepath.Join(moved, "b", ".warden")
	for _, tc := range []struct {
		name, method string
		params       map[string]any
		want         string
	}{
		{"read the host key", "fs.read", map[string]any{"path": filepath.Join(mh, "keys", "host.key")}, "under another name"},
		{"read the policy", "fs.read", map[string]any{"path": filepath.Join(mh, "policy.yaml")}, "under another name"},
		{"plant a policy", "fs.write", map[string]any{"path": filepath.Join(mh, "policy.yaml"), "data": "cGxhbnRlZA=="}, "under another name"},
		{"rewrite a cache entry", "fs.write", map[string]any{"path": filepath.Join(mh, "cache", "entry"), "data": "cGxhbnRlZA=="}, "under another name"},
		{"create in the cache", "fs.write", map[string]any{"path": filepath.Join(mh, "cache", "new"), "data": "cGxhbnRlZA=="}, "under another name"},
		{"list the home", "fs.list", map[string]any{"path": mh}, "under another name"},
		{"stat the key", "fs.stat", map[string]any{"path": filepath.Join(mh, "keys", "host.key")}, "under another name"},
		{"delete the key", "fs.delete", map[string]any{"path": filepath.Join(mh, "keys", "host.key")}, "under another name"},
		{"mkdir in the home", "fs.mkdir", map[string]any{"path": filepath.Join(mh, "d")}, "under another name"},
		{"move the home out", "fs.rename", map[string]any{"from": mh, "to": s.p("stolen")}, "under another name"},
		{"move a file into the home", "fs.rename", map[string]any{"from": s.p("f.txt"), "to": filepath.Join(mh, "policy.yaml")}, "under another name"},
		{"move the folder holding the home", "fs.rename", map[string]any{"from": filepath.Join(moved, "b"), "to": s.p("b2")}, "is a folder on the way"},
		{"rename the moved folder back", "fs.rename", map[string]any{"from": moved, "to": s.p("a")}, "is a folder on the way"},
		{"replace the moved folder", "fs.rename", map[string]any{"from": s.p("f.txt"), "to": moved}, "is a folder on the way"},
		{"delete the folder holding the home", "fs.delete", map[string]any{"path": filepath.Join(moved, "b")}, "is a folder on the way"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := s.call(tc.method, tc.params)
			if err == nil {
				t.Fatalf("%s reached warden's state through the moved folder: %s", tc.method, out)
			}
			s.wantProtected(t, tc.method, err, tc.want)
		})
	}
	s.t = t
	ctx := context.Background()
	for _, flag := range []int{os.O_RDONLY, os.O_RDWR, os.O_WRONLY | os.O_TRUNC} {
		for _, p := range []string{filepath.Join(mh, "keys", "host.key"), filepath.Join(mh, "policy.yaml"), mh} {
			if flag != os.O_RDONLY && p == mh {
				continue
			}
			f, err := s.g.OpenFile(ctx, s.c, "", p, flag, 0)
			if err == nil {
				f.Close()
				t.Fatalf("OpenFile(%s, %#x) reached warden's state through the moved folder", p, flag)
			}
			s.wantProtected(t, ActionOpen, err, "under another name")
		}
	}
	must(t, os.Rename(moved, s.p("a")))
	s.unchanged(t)
	// Beside the home, the moved folder was as usable as before.
	if b, err := os.ReadFile(filepath.Join(s.grant, "a", "b", "notes.txt")); err != nil || string(b) != "notes" {
		t.Fatalf("notes.txt: %q %v", b, err)
	}
}

// TestIdentityHardLinkToPolicy: a hard link to warden's policy file, made
// in the granted folder by another program, is the same file under a name
// no name check knows: reading, writing, opening and renaming it are all
// refused. The same for a policy file kept outside the home (--policy).
func TestIdentityHardLinkToPolicy(t *testing.T) {
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	external := filepath.Join(dir, "etc", "policy.yaml")
	must(t, os.MkdirAll(filepath.Dir(external), 0o755))
	must(t, os.WriteFile(external, []byte("version: 1\n# enterprise\n"), 0o644))
	s := newIdentityEnv(t, func(string) string { return external })
	for _, tc := range []struct{ file, link string }{
		{s.policy, s.p("innocent.yaml")},
		{external, s.p("a/b/enterprise.yaml")},
	} {
		must(t, os.Link(tc.file, tc.link))
		for _, m := range []struct {
			method string
			params map[string]any
		}{
			{"fs.read", map[string]any{"path": tc.link}},
			{"fs.write", map[string]any{"path": tc.link, "data": "cGxhbnRlZA=="}},
			{"fs.write", map[string]any{"path": tc.link, "data": "cGxhbnRlZA==", "append": true}},
			{"fs.stat", map[string]any{"path": tc.link}},
			{"fs.rename", map[string]any{"from": tc.link, "to": s.p("x.yaml")}},
			{"fs.delete", map[string]any{"path": tc.link}},
		} {
			_, err := s.call(m.method, m.params)
			s.wantProtected(t, m.method, err, "under another name")
		}
		for _, flag := range []int{os.O_RDONLY, os.O_RDWR, os.O_WRONLY | os.O_APPEND} {
			f, err := s.g.OpenFile(context.Background(), s.c, "", tc.link, flag, 0)
			if err == nil {
				f.Close()
				t.Fatalf("OpenFile(%s, %#x) through a hard link to %s", tc.link, flag, tc.file)
			}
			s.wantProtected(t, ActionOpen, err, "under another name")
		}
	}
	s.unchanged(t)
	if b, _ := os.ReadFile(external); string(b) != "version: 1\n# enterprise\n" {
		t.Fatalf("the external policy is now %q", b)
	}
}

// TestIdentityProtectedNotYetCreated: a protected path that does not exist
// at NewGate (a cache directory created later) has no identity; its
// nearest existing folder and those above are held, so neither they nor
// anything on the way can be moved, removed or created by the plugin to
// make the missing part elsewhere and move it in — whether the folder goes
// by its own name (refused by name) or by one another program gave it
// (refused by identity).
func TestIdentityProtectedNotYetCreated(t *testing.T) {
	s := newIdentityEnv(t, func(grant string) string {
		must(t, os.Mkdir(filepath.Join(grant, "c"), 0o755))
		return filepath.Join(grant, "c", "cache", "wasm")
	})
	c := s.p("c")
	_, err := s.call("fs.mkdir", map[string]any{"path": s.p("c/cache")})
	s.wantProtected(t, "fs.mkdir", err, "is a folder on the way")
	_, err = s.call("fs.write", map[string]any{"path": s.p("c/cache"), "data": "eA=="})
	s.wantProtected(t, "fs.write", err, "is a folder on the way")
	_, err = s.call("fs.delete", map[string]any{"path": c})
	s.wantProtected(t, "fs.delete", err, "is a folder on the way")
	must(t, os.Mkdir(s.p("staging"), 0o755))
	_, err = s.call("fs.rename", map[string]any{"from": s.p("staging"), "to": s.p("c/cache")})
	s.wantProtected(t, "fs.rename", err, "is a folder on the way")

	// Moved by another program: the empty folder is held by identity.
	must(t, os.Rename(c, s.p("c2")))
	_, err = s.call("fs.delete", map[string]any{"path": s.p("c2")})
	s.wantProtected(t, "fs.delete", err, "is a folder on the way")
	_, err = s.call("fs.rename", map[string]any{"from": s.p("c2"), "to": s.p("c3")})
	s.wantProtected(t, "fs.rename", err, "is a folder on the way")
	if _, err := os.Stat(s.p("c2")); err != nil {
		t.Fatalf("the held folder: %v", err)
	}
	// Inside it, the missing part may be made (no check knows that name);
	// it cannot be moved back to where the cache will be.
	if _, err := s.call("fs.mkdir", map[string]any{"path": s.p("c2/cache")}); err != nil {
		t.Fatalf("mkdir in the moved folder: %v", err)
	}
	_, err = s.call("fs.rename", map[string]any{"from": s.p("c2"), "to": c})
	s.wantProtected(t, "fs.rename", err, "is a folder on the way")
}

// TestIdentitySymlinkedHome: warden's home given through a symlinked
// config folder (g/cfg -> real, home g/cfg/warden, as with WARDEN_HOME or
// ~/.config pointing elsewhere). The symlink and the real folder are both
// held: neither can be moved or removed; and once another program moves
// the real folder, the home is still refused under the new name.
func TestIdentitySymlinkedHome(t *testing.T) {
	e := newEnv(t)
	grant := filepath.Join(e.dir, "g")
	real := filepath.Join(grant, "real")
	must(t, os.MkdirAll(filepath.Join(real, "warden", "keys"), 0o700))
	must(t, os.WriteFile(filepath.Join(real, "warden", "keys", "host.key"), []byte("HOST PRIVATE KEY"), 0o600))
	must(t, os.Symlink("real", filepath.Join(grant, "cfg")))
	e.protected = []string{filepath.Join(grant, "cfg", "warden")}
	g, c := reviewGate(t, e, `version: 1
rules:
  - id: all
    effect: allow
    resource: "filesystem:%[1]s/g/**"
`, []policy.Permission{{Resource: "filesystem:" + grant + "/**", Actions: []string{"read", "write", "list", "delete"}}},
		"filesystem:"+grant+"/** read,write,list,delete")
	s := &identityEnv{env: e, g: g, c: c, grant: grant}
	for _, tc := range []struct {
		method string
		params map[string]any
		want   string
	}{
		{"fs.rename", map[string]any{"from": s.p("cfg"), "to": s.p("cfg2")}, "is a folder on the way"},
		{"fs.delete", map[string]any{"path": s.p("cfg")}, "is a folder on the way"},
		{"fs.rename", map[string]any{"from": real, "to": s.p("real2")}, "is a folder on the way"},
		{"fs.read", map[string]any{"path": filepath.Join(real, "warden", "keys", "host.key")}, "warden's own state directory"},
	} {
		_, err := s.call(tc.method, tc.params)
		s.wantProtected(t, tc.method, err, tc.want)
	}
	// Another program moves the real folder: the symlink dangles, the home
	// lives under a name no check knows.
	moved := s.p("moved")
	must(t, os.Rename(real, moved))
	for _, tc := range []struct {
		method string
		params map[string]any
		want   string
	}{
		{"fs.read", map[string]any{"path": filepath.Join(moved, "warden", "keys", "host.key")}, "under another name"},
		{"fs.rename", map[string]any{"from": moved, "to": s.p("elsewhere")}, "is a folder on the way"},
		{"fs.delete", map[string]any{"path": s.p("cfg")}, "is a folder on the way"},
	} {
		_, err := s.call(tc.method, tc.params)
		s.wantProtected(t, tc.method, err, tc.want)
	}
	if b, err := os.ReadFile(filepath.Join(moved, "warden", "keys", "host.key")); err != nil || string(b) != "HOST PRIVATE KEY" {
		t.Fatalf("the key: %q %v", b, err)
	}
}
