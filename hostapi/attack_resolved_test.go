package hostapi

// Attack tests of the two rules in resolved.go: a symlink leads only where
// the policy lets the call go directly (V-1 in docs/threat-model.md), and no
// call reaches warden's own state directory (V-5).

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/policy"
	"github.com/wardenproject/warden/resource"
)

// countingDecider counts the policy's decisions.
type countingDecider struct {
	d Decider
	n atomic.Int64
}

func (c *countingDecider) Decide(r policy.Request) policy.Decision {
	c.n.Add(1)
	return c.d.Decide(r)
}

// recordingConfirmer answers every question with answer and keeps them.
type recordingConfirmer struct {
	answer bool
	mu     sync.Mutex
	asked  []ConfirmRequest
}

func (r *recordingConfirmer) Confirm(_ context.Context, req ConfirmRequest) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked = append(r.asked, req)
	return r.answer, nil
}

func (r *recordingConfirmer) take() []ConfirmRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.asked
	r.asked = nil
	return out
}

// symlinkEnv is env's data tree with a policy that denies data/private and
// asks for data/ask, and links that already exist in the user's tree (the
// guest cannot make links).
type symlinkEnv struct {
	*env
	g       *Gate
	c       Caller
	pol     *countingDecider
	conf    *recordingConfirmer
	priv    string // data/private
	secret  string // data/private/secret.txt
	askDir  string // data/ask
	polRule string
}

func newSymlinkEnv(t *testing.T, answer bool) *symlinkEnv {
	t.Helper()
	e := newEnv(t)
	s := &symlinkEnv{env: e, priv: filepath.Join(e.data, "private"), askDir: filepath.Join(e.data, "ask"),
		conf: &recordingConfirmer{answer: answer}, polRule: "rule:no-private"}
	s.secret = filepath.Join(s.priv, "secret.txt")
	must(t, os.Mkdir(s.priv, 0o700))
	must(t, os.WriteFile(s.secret, []byte("DENIED BY POLICY"), 0o600))
	for link, to := range map[string]string{
		"alias.txt": "private/secret.txt", // a file under deny
		"plink":     "private",            // a directory under deny
		"abslink":   s.priv,               // absolute, inside the root
		"shortcut":  "ask",                // a directory under ask
		"ok.csv":    "a.csv",              // allowed to allowed
	} {
		must(t, os.Symlink(to, filepath.Join(e.data, link)))
	}
	pol, err := policy.Parse(fmt.Appendf(nil, `version: 1
rules:
  - id: no-private
    effect: deny
    resource: "filesystem:%[1]s/private/**"
  - id: data-ask
    effect: ask
    resource: "filesystem:%[1]s/ask/**"
    reason: The ask folder needs a person.
  - id: data
    effect: allow
    resource: "filesystem:%[1]s/**"
`, e.data), policy.ParseOptions{File: "symlink.yaml"})
	must(t, err)
	m, err := policy.NewManifest([]policy.Permission{{Resource: "filesystem:" + e.data + "/**", Actions: []string{"read", "write", "list", "delete"}}}, resource.Options{})
	must(t, err)
	s.pol = &countingDecider{d: policy.NewEngine(pol, nil)}
	s.g, err = NewGate(Config{Tokens: e.verifier, Policy: s.pol, Audit: e.ledger, Confirm: s.conf})
	must(t, err)
	s.c = e.caller
	s.c.Manifest = m
	s.c.Tokens = []string{e.mint("filesystem:"+e.data+"/**", "read", "write", "list", "delete")}
	return s
}

func (s *symlinkEnv) call(method string, params map[string]any) ([]byte, error) {
	return s.g.Call(context.Background(), s.c, method, "", mustJSON(params))
}

func (s *symlinkEnv) p(rel string) string { return filepath.Join(s.data, rel) }

// TestSymlinkIntoDenyRefused: every path-taking method, through a link
// whose target lies under a deny rule, is refused with the rule as the
// deciding one, the resolved path as the event's resource and the requested
// one in its detail; nothing is read, written, created, moved or removed;
// and the guest's message never names where the link leads.
func TestSymlinkIntoDenyRefused(t *testing.T) {
	s := newSymlinkEnv(t, true)
	realSecret := "filesystem:" + s.secret
	for _, tc := range []struct {
		name, method string
		params       map[string]any
		resource     string // resolved resource the event must name
	}{
		{"read file link", "fs.read", map[string]any{"path": s.p("alias.txt")}, realSecret},
		{"read through dir link", "fs.read", map[string]any{"path": s.p("plink/secret.txt")}, realSecret},
		{"read through absolute link", "fs.read", map[string]any{"path": s.p("abslink/secret.txt")}, realSecret},
		{"write file link", "fs.write", map[string]any{"path": s.p("alias.txt"), "data": "cHduZWQ="}, realSecret},
		{"write new file through dir link", "fs.write", map[string]any{"path": s.p("plink/new.txt"), "data": "cHduZWQ="}, "filesystem:" + filepath.Join(s.priv, "new.txt")},
		{"list dir link", "fs.list", map[string]any{"path": s.p("plink")}, "filesystem:" + s.priv},
		{"stat file link", "fs.stat", map[string]any{"path": s.p("alias.txt")}, realSecret},
		{"delete through dir link", "fs.delete", map[string]any{"path": s.p("plink/secret.txt")}, realSecret},
		{"mkdir through dir link", "fs.mkdir", map[string]any{"path": s.p("plink/d")}, "filesystem:" + filepath.Join(s.priv, "d")},
		{"rename from through dir link", "fs.rename", map[string]any{"from": s.p("plink/secret.txt"), "to": s.p("stolen.txt")}, realSecret},
		{"rename to through dir link", "fs.rename", map[string]any{"from": s.p("a.csv"), "to": s.p("plink/a.csv")}, "filesystem:" + s.p("a.csv")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.t = t
			out, err := s.call(tc.method, tc.params)
			if err == nil {
				t.Fatalf("%s through a symlink into the denied tree succeeded: %s", tc.method, out)
			}
			wantCode(t, err, CodeDenied)
			if msg := err.Error(); strings.Contains(msg, s.priv) {
				t.Fatalf("the guest's message names the link's target: %s", msg)
			}
			ev := s.wantDenyEvent(tc.method, CodeDenied)
			if ev.Decision.By != s.polRule || ev.Resource != tc.resource {
				t.Fatalf("deny event decision %+v resource %q, want by %s on %s", ev.Decision, ev.Resource, s.polRule, tc.resource)
			}
			if tc.method == "fs.rename" && strings.Contains(tc.name, "to through") {
				if ev.Detail["to"] != "filesystem:"+filepath.Join(s.priv, "a.csv") || ev.Detail["requested_to"] != "filesystem:"+s.p("plink/a.csv") {
					t.Fatalf("rename event detail %v", ev.Detail)
				}
			} else if ev.Detail["requested"] == "" || ev.Detail["requested"] == ev.Resource {
				t.Fatalf("deny event detail %v: the requested name is missing", ev.Detail)
			}
			for _, e := range s.events() {
				if e.Outcome == audit.OutcomeIntent && e.Action == tc.method && strings.Contains(e.Resource, "/private") {
					t.Fatalf("an intent was recorded for a refused effect: %+v", e)
				}
			}
		})
	}
	s.t = t
	ctx := context.Background()
	for _, flag := range []int{os.O_RDONLY, os.O_WRONLY | os.O_TRUNC, os.O_WRONLY | os.O_CREATE} {
		for _, p := range []string{s.p("alias.txt"), s.p("plink/secret.txt")} {
			f, err := s.g.OpenFile(ctx, s.c, "", p, flag, 0o644)
			if err == nil {
				b, _ := io.ReadAll(f)
				f.Close()
				t.Fatalf("OpenFile(%s, %#x) through a symlink into the denied tree succeeded (read %q)", p, flag, b)
			}
			wantCode(t, err, CodeDenied)
			if ev := s.wantDenyEvent(ActionOpen, CodeDenied); ev.Decision.By != s.polRule || ev.Resource != realSecret {
				t.Fatalf("OpenFile deny event %+v resource %q", ev.Decision, ev.Resource)
			}
		}
	}
	if b, _ := os.ReadFile(s.secret); string(b) != "DENIED BY POLICY" {
		t.Fatalf("the denied file changed: %q", b)
	}
	for _, p := range []string{filepath.Join(s.priv, "new.txt"), filepath.Join(s.priv, "d"), filepath.Join(s.priv, "a.csv"), s.p("stolen.txt")} {
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("%s was created", p)
		}
	}
	if got := s.conf.take(); len(got) != 0 {
		t.Fatalf("a person was asked about a denied path: %+v", got)
	}
}

// TestSymlinkIntoAskAsksWithTheRealPath: a link into an ask tree makes the
// gate ask a person, showing where the link leads and what was asked for;
// declined, nothing is written and the ledger records ask→deny on the real
// path; accepted, the write lands and the intent and outcome name the real
// path with the requested one beside it.
func TestSymlinkIntoAskAsksWithTheRealPath(t *testing.T) {
	for _, answer := range []bool{false, true} {
		t.Run(fmt.Sprintf("answer=%v", answer), func(t *testing.T) {
			s := newSymlinkEnv(t, answer)
			requested, real := s.p("shortcut/f.txt"), filepath.Join(s.askDir, "f.txt")
			_, err := s.call("fs.write", map[string]any{"path": requested, "data": "aGVsbG8="})
			asked := s.conf.take()
			if len(asked) != 1 {
				t.Fatalf("the confirmer was asked %d times, want once: %+v", len(asked), asked)
			}
			q := asked[0]
			if q.Resource != "filesystem:"+real || q.Requested != "filesystem:"+requested || q.Action != "write" || q.Method != "fs.write" || q.Preview != "hello" || q.Size != 5 {
				t.Fatalf("confirmation request %+v", q)
			}
			_, statErr := os.Stat(real)
			if !answer {
				wantCode(t, err, CodeDeclined)
				ev := s.wantDenyEvent("fs.write", CodeDeclined)
				if ev.Decision.Effect != "ask" || ev.Decision.Answer != audit.EffectDeny || ev.Decision.By != "rule:data-ask" || ev.Resource != "filesystem:"+real {
					t.Fatalf("declined event %+v on %q", ev.Decision, ev.Resource)
				}
				if statErr == nil {
					t.Fatal("the declined write created the file")
				}
				if strings.Contains(err.Error(), s.askDir) {
					t.Fatalf("the guest's message names the link's target: %v", err)
				}
				return
			}
			must(t, err)
			must(t, statErr)
			var intent, outcome *audit.Event
			for _, ev := range s.events() {
				if ev.Action == "fs.write" {
					if ev.Outcome == audit.OutcomeIntent {
						intent = ev
					} else {
						outcome = ev
					}
				}
			}
			for _, ev := range []*audit.Event{intent, outcome} {
				if ev == nil || ev.Resource != "filesystem:"+real || ev.Detail["requested"] != "filesystem:"+requested ||
					ev.Decision.Effect != "ask" || ev.Decision.Answer != audit.EffectAllow {
					t.Fatalf("write event %+v", ev)
				}
			}

			// The capability filesystem asks the same way.
			f, err := s.g.OpenFile(context.Background(), s.c, "", s.p("shortcut/g.txt"), os.O_WRONLY|os.O_CREATE, 0o644)
			must(t, err)
			must(t, f.Close())
			asked = s.conf.take()
			if len(asked) != 1 || asked[0].Resource != "filesystem:"+filepath.Join(s.askDir, "g.txt") || asked[0].Requested != "filesystem:"+s.p("shortcut/g.txt") {
				t.Fatalf("OpenFile confirmation %+v", asked)
			}
			if ev := s.last(ActionClose); ev.Resource != "filesystem:"+filepath.Join(s.askDir, "g.txt") || ev.Detail["requested"] == "" {
				t.Fatalf("close event %+v", ev)
			}
		})
	}
}

// TestSymlinkDecisionCost: the policy is asked once when the path holds no
// symlink, and once more (about the real path) when it does; an allowed
// link keeps working and is recorded with both names.
func TestSymlinkDecisionCost(t *testing.T) {
	s := newSymlinkEnv(t, false)
	for _, tc := range []struct {
		path  string
		calls int64
	}{{s.p("a.csv"), 1}, {s.p("ok.csv"), 2}} {
		s.pol.n.Store(0)
		if _, err := s.call("fs.read", map[string]any{"path": tc.path}); err != nil {
			t.Fatalf("read %s: %v", tc.path, err)
		}
		if got := s.pol.n.Load(); got != tc.calls {
			t.Fatalf("read %s asked the policy %d times, want %d", tc.path, got, tc.calls)
		}
	}
	ev := s.last("fs.read")
	if ev.Outcome != audit.OutcomeOK || ev.Resource != "filesystem:"+s.p("a.csv") || ev.Detail["requested"] != "filesystem:"+s.p("ok.csv") || ev.Detail["sha256"] == "" {
		t.Fatalf("read through an allowed link: %+v", ev)
	}
}

// protectedEnv grants the whole scratch root, under an allow-all policy, to
// a caller, with <root>/home as warden's state directory.
func protectedEnv(t *testing.T, protected ...string) (*env, *Gate, Caller, string) {
	t.Helper()
	e := newEnv(t)
	home := filepath.Join(e.dir, "home")
	must(t, os.MkdirAll(filepath.Join(home, "cache"), 0o700))
	must(t, os.WriteFile(filepath.Join(home, "state.db"), []byte("GRANTS"), 0o600))
	if protected == nil {
		protected = []string{home}
	}
	e.protected = protected
	g, c := reviewGate(t, e, `version: 1
rules:
  - id: all
    effect: allow
    resource: "filesystem:%[1]s/**"
`, []policy.Permission{{Resource: "filesystem:" + e.dir + "/**", Actions: []string{"read", "write", "list", "delete"}}},
		"filesystem:"+e.dir+"/** read,write,list,delete")
	return e, g, c, home
}

// TestProtectedStateDirRefused: warden's home is out of reach by its own
// name, through "..", through a symlink (file, directory, absolute), through
// a grant whose base is a symlink, and for every method, with the gate's
// own message and a deny event; nothing in it changes.
func TestProtectedStateDirRefused(t *testing.T) {
	e, g, c, home := protectedEnv(t)
	must(t, os.Symlink("../home", filepath.Join(e.data, "h")))
	must(t, os.Symlink(filepath.Join(home, "state.db"), filepath.Join(e.data, "db")))
	must(t, os.Symlink("home", filepath.Join(e.dir, "cfglink")))
	db := filepath.Join(home, "state.db")
	ctx := context.Background()
	for _, tc := range []struct {
		name, method string
		params       map[string]any
		viaLink      bool
	}{
		{"read direct", "fs.read", map[string]any{"path": db}, false},
		{"read via dotdot", "fs.read", map[string]any{"path": e.data + "/../home/state.db"}, false},
		{"read via dir link", "fs.read", map[string]any{"path": filepath.Join(e.data, "h", "state.db")}, true},
		{"read via absolute file link", "fs.read", map[string]any{"path": filepath.Join(e.data, "db")}, true},
		{"write direct", "fs.write", map[string]any{"path": db, "data": "", "append": true}, false},
		{"write via link", "fs.write", map[string]any{"path": filepath.Join(e.data, "db"), "data": "eA=="}, true},
		{"create in cache", "fs.write", map[string]any{"path": filepath.Join(home, "cache", "planted"), "data": "eA=="}, false},
		{"create in cache via link", "fs.write", map[string]any{"path": filepath.Join(e.data, "h", "cache", "planted"), "data": "eA=="}, true},
		{"list home", "fs.list", map[string]any{"path": home}, false},
		{"list via link", "fs.list", map[string]any{"path": filepath.Join(e.data, "h")}, true},
		{"stat", "fs.stat", map[string]any{"path": db}, false},
		{"delete", "fs.delete", map[string]any{"path": db}, false},
		{"delete via link", "fs.delete", map[string]any{"path": filepath.Join(e.data, "h", "state.db")}, true},
		{"mkdir", "fs.mkdir", map[string]any{"path": filepath.Join(home, "d")}, false},
		{"rename out", "fs.rename", map[string]any{"from": db, "to": filepath.Join(e.data, "x")}, false},
		{"rename in", "fs.rename", map[string]any{"from": filepath.Join(e.data, "a.csv"), "to": filepath.Join(home, "policy.yaml")}, false},
		{"rename in via link", "fs.rename", map[string]any{"from": filepath.Join(e.data, "a.csv"), "to": filepath.Join(e.data, "h", "policy.yaml")}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			out, err := g.Call(ctx, c, tc.method, "", mustJSON(tc.params))
			if err == nil {
				t.Fatalf("%s reached warden's state: %s", tc.method, out)
			}
			wantCode(t, err, CodeDenied)
			want := "is warden's own state directory; no plugin may touch it"
			if tc.viaLink {
				want = "leads (through a symlink) into warden's own state directory; no plugin may touch it"
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("message %q, want it to say %q", err, want)
			}
			ev := e.wantDenyEvent(tc.method, CodeDenied)
			if ev.Decision.By != "gate" || ev.Decision.Reason != reasonProtected {
				t.Fatalf("deny event decision %+v", ev.Decision)
			}
		})
	}
	e.t = t
	for _, p := range []string{db, filepath.Join(e.data, "h", "state.db")} {
		for _, flag := range []int{os.O_RDONLY, os.O_RDWR} {
			if f, err := g.OpenFile(ctx, c, "", p, flag, 0); err == nil {
				f.Close()
				t.Fatalf("OpenFile(%s) reached warden's state", p)
			} else {
				wantCode(t, err, CodeDenied)
				e.wantDenyEvent(ActionOpen, CodeDenied)
			}
		}
	}

	// A grant whose literal base is a symlink to the home: no symlink lies
	// below the base for the provider to see.
	c2 := c
	c2.Tokens = []string{e.mint("filesystem:"+filepath.Join(e.dir, "cfglink")+"/**", "read")}
	_, err := g.Call(ctx, c2, "fs.read", "", mustJSON(map[string]any{"path": filepath.Join(e.dir, "cfglink", "state.db")}))
	wantCode(t, err, CodeDenied)
	if !strings.Contains(err.Error(), "warden's own state directory") {
		t.Fatalf("grant through a symlinked base: %v", err)
	}

	if b, _ := os.ReadFile(db); string(b) != "GRANTS" {
		t.Fatalf("state.db changed: %q", b)
	}
	for _, p := range []string{filepath.Join(home, "cache", "planted"), filepath.Join(home, "d"), filepath.Join(home, "policy.yaml"), filepath.Join(e.data, "x")} {
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("%s was created", p)
		}
	}
	// The rest of the grant still works: the refusals are not a broken setup.
	if _, err := g.Call(ctx, c, "fs.read", "", mustJSON(map[string]any{"path": filepath.Join(e.data, "a.csv")})); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Call(ctx, c, "fs.write", "", mustJSON(map[string]any{"path": filepath.Join(e.dir, "homework.txt"), "data": "eA=="})); err != nil {
		t.Fatalf("a sibling whose name starts like the home: %v", err)
	}
}

// TestProtectedGivenThroughASymlink: the home may be passed in a spelling
// that holds a symlink; its real spelling is protected too.
func TestProtectedGivenThroughASymlink(t *testing.T) {
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	must(t, os.Mkdir(filepath.Join(dir, "real-home"), 0o700))
	must(t, os.Symlink(filepath.Join(dir, "real-home"), filepath.Join(dir, "home-link")))
	e, g, _, _ := protectedEnv(t, filepath.Join(dir, "home-link", "warden"))
	if !g.protects(filepath.Join(dir, "real-home", "warden", "state.db")) || !g.protects(filepath.Join(dir, "home-link", "warden")) {
		t.Fatalf("protected %v", g.protected)
	}
	_, err := NewGate(Config{Tokens: e.verifier, Policy: g.cfg.Policy, Audit: e.ledger, Protected: []string{"relative/home"}})
	if err == nil || !strings.Contains(err.Error(), "not an absolute path") {
		t.Fatalf("relative Protected entry: %v", err)
	}
	if got := g.Protected(); len(got) != 1 || got[0] != filepath.Join(dir, "home-link", "warden") {
		t.Fatalf("Protected() = %v", got)
	}
}
