package hostapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/capability"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func TestAllowedCalls(t *testing.T) {
	e := newEnv(t)
	p := filepath.Join(e.data, "a.csv")

	res, err := e.call("fs.read", "", map[string]any{"path": p})
	must(t, err)
	data, _ := base64.StdEncoding.DecodeString(res["data"].(string))
	if string(data) != "a,b\n1,2\n" || res["sha256"] != sha(data) || res["size"].(float64) != 8 {
		t.Fatalf("fs.read = %v", res)
	}
	ev := e.last("fs.read")
	if ev.Outcome != audit.OutcomeOK || ev.Decision.Effect != "allow" || ev.Decision.By != "rule:data" || ev.Bytes != 8 ||
		ev.Resource != "filesystem:"+p || ev.CapHash != capability.TokenHash(e.caller.Tokens[0]) {
		t.Fatalf("fs.read event = %+v", ev)
	}

	res, err = e.call("fs.read", e.caller.Tokens[0], map[string]any{"path": p, "offset": 4, "length": 3})
	must(t, err)
	if d, _ := base64.StdEncoding.DecodeString(res["data"].(string)); string(d) != "1,2" {
		t.Fatalf("ranged fs.read = %q", d)
	}

	before := sha([]byte("a,b\n1,2\n"))
	res, err = e.call("fs.write", "", map[string]any{"path": p, "data": base64.StdEncoding.EncodeToString([]byte("x,y\n"))})
	must(t, err)
	if res["before_hash"] != before || res["after_hash"] != sha([]byte("x,y\n")) || res["bytes"].(float64) != 4 {
		t.Fatalf("fs.write = %v", res)
	}
	evs := e.events()
	intent, outcome := evs[len(evs)-2], evs[len(evs)-1]
	if intent.Action != "fs.write" || intent.Outcome != audit.OutcomeIntent || intent.BeforeHash != before || intent.Bytes != 4 {
		t.Fatalf("intent event = %+v", intent)
	}
	if outcome.Outcome != audit.OutcomeOK || outcome.BeforeHash != before || outcome.AfterHash != sha([]byte("x,y\n")) || outcome.Bytes != 4 {
		t.Fatalf("outcome event = %+v", outcome)
	}

	_, err = e.call("fs.write", "", map[string]any{"path": p, "data": base64.StdEncoding.EncodeToString([]byte("3,4\n")), "append": true})
	must(t, err)
	if got, _ := os.ReadFile(p); string(got) != "x,y\n3,4\n" {
		t.Fatalf("after append: %q", got)
	}
	if ev := e.last("fs.write"); ev.AfterHash != sha([]byte("x,y\n3,4\n")) {
		t.Fatalf("append after_hash %s", ev.AfterHash)
	}
	_, err = e.call("fs.write", "", map[string]any{"path": p, "data": "", "create_only": true})
	wantCode(t, err, CodeExists)

	newf := filepath.Join(e.data, "new.txt")
	res, err = e.call("fs.write", "", map[string]any{"path": newf, "data": "aGk=", "create_only": true})
	must(t, err)
	if _, ok := res["before_hash"]; ok {
		t.Fatalf("new file has a before_hash: %v", res)
	}

	res, err = e.call("fs.stat", "", map[string]any{"path": newf})
	must(t, err)
	if res["type"] != "file" || res["size"].(float64) != 2 || res["name"] != "new.txt" {
		t.Fatalf("fs.stat = %v", res)
	}

	res, err = e.call("fs.list", "", map[string]any{"path": e.data})
	must(t, err)
	var names []string
	for _, en := range res["entries"].([]any) {
		names = append(names, en.(map[string]any)["name"].(string))
	}
	if strings.Join(names, ",") != "a.csv,ask,new.txt" {
		t.Fatalf("fs.list names = %v", names)
	}

	must(t, err2(e.call("fs.mkdir", "", map[string]any{"path": filepath.Join(e.data, "sub")})))
	must(t, err2(e.call("fs.rename", "", map[string]any{"from": newf, "to": filepath.Join(e.data, "sub", "moved.txt")})))
	if _, err := os.Stat(filepath.Join(e.data, "sub", "moved.txt")); err != nil {
		t.Fatal(err)
	}
	must(t, err2(e.call("fs.delete", "", map[string]any{"path": filepath.Join(e.data, "sub", "moved.txt")})))
	must(t, err2(e.call("fs.delete", "", map[string]any{"path": filepath.Join(e.data, "sub")})))
	if _, err := os.Stat(filepath.Join(e.data, "sub")); !os.IsNotExist(err) {
		t.Fatalf("sub still exists: %v", err)
	}
	_, err = e.call("fs.read", "", map[string]any{"path": filepath.Join(e.data, "nope")})
	wantCode(t, err, CodeNotFound)

	// Every effect was preceded by its durable intent.
	evs = e.events()
	for i, ev := range evs {
		switch ev.Action {
		case "fs.write", "fs.delete", "fs.rename", "fs.mkdir":
			if ev.Outcome == audit.OutcomeOK && (i == 0 || evs[i-1].Outcome != audit.OutcomeIntent || evs[i-1].Action != ev.Action) {
				t.Fatalf("event %d (%s ok) has no intent before it", i, ev.Action)
			}
		}
	}
}

func err2(_ map[string]any, err error) error { return err }

func TestKVAndLog(t *testing.T) {
	e := newEnv(t)
	res, err := e.call("kv.get", "", map[string]any{"key": "cache/a"})
	must(t, err)
	if res["found"] != false {
		t.Fatalf("kv.get of a missing key = %v", res)
	}
	must(t, err2(e.call("kv.set", "", map[string]any{"key": "cache/a", "value": "aGVsbG8="})))
	must(t, err2(e.call("kv.set", "", map[string]any{"key": "cache/b", "value": ""})))
	res, err = e.call("kv.get", "", map[string]any{"key": "cache/a"})
	must(t, err)
	if res["found"] != true || res["value"] != "aGVsbG8=" {
		t.Fatalf("kv.get = %v", res)
	}
	res, err = e.call("kv.list", "", map[string]any{"prefix": "cache/"})
	must(t, err)
	if len(res["keys"].([]any)) != 2 {
		t.Fatalf("kv.list = %v", res)
	}
	res, err = e.call("kv.delete", "", map[string]any{"key": "cache/a"})
	must(t, err)
	if res["existed"] != true {
		t.Fatalf("kv.delete = %v", res)
	}
	_, err = e.call("kv.get", "", map[string]any{"key": "secrets/x"})
	wantCode(t, err, CodeDenied)
	e.wantDenyEvent("kv.get", CodeDenied)

	must(t, err2(e.call("log.write", "", map[string]any{"level": "info", "message": "hello"})))
	if ev := e.last("log.write"); ev.Outcome != audit.OutcomeOK || ev.Bytes != 5 {
		t.Fatalf("log.write event = %+v", ev)
	}
	_, err = e.call("log.write", "", map[string]any{"level": "loud", "message": "x"})
	wantCode(t, err, CodeInvalidParams)
}

// TestAttacks tries each way out of a grant named in the issue; each must be
// refused with its code, leave a deny event, and leave the host serving.
func TestAttacks(t *testing.T) {
	e := newEnv(t)
	outside := filepath.Join(e.dir, "outside")
	must(t, os.Mkdir(outside, 0o755))
	must(t, os.Symlink(e.secret, filepath.Join(e.data, "abs-link")))
	must(t, os.Symlink("../secret.txt", filepath.Join(e.data, "rel-link")))
	must(t, os.Symlink(outside, filepath.Join(e.data, "dir-link")))
	must(t, os.Symlink("../outside/new.txt", filepath.Join(e.data, "dangling-link")))
	must(t, os.Mkdir(filepath.Join(e.dir, "data2"), 0o755))
	b64 := base64.StdEncoding.EncodeToString([]byte("pwned"))

	otherPlugin := e.mintFor("evil.plugin", testInstance, "filesystem:"+e.dir+"/**", "read")
	otherInstance := e.mintFor(testPlugin, "inst-2", "filesystem:"+e.dir+"/**", "read")
	readOnly := e.mint("filesystem:"+e.data+"/**", "read")
	expiredIssuer := e.issuer.WithClock(func() time.Time { return time.Now().Add(-2 * time.Hour) })
	expired, _, err := expiredIssuer.Mint(capability.Request{Subject: testPlugin, Audience: testInstance, Resource: "filesystem:" + e.data + "/**", Actions: []string{"read"}, TTL: time.Minute})
	must(t, err)
	revoked, rcap, err := e.issuer.Mint(capability.Request{Subject: testPlugin, Audience: testInstance, Resource: "filesystem:" + e.data + "/**", Actions: []string{"read"}, TTL: time.Hour})
	must(t, err)
	e.revoked.Revoke(rcap.ID)
	procTok := e.mint("filesystem:/proc/sys/kernel/**", "read") // a grant near, not on, /proc/self

	cases := []struct {
		name   string
		method string
		token  string
		params string
		code   Code
		action string // audit action, default method
	}{
		{"dotdot", "fs.read", "", `{"path":"` + e.data + `/../secret.txt"}`, CodeDenied, ""},
		{"dotdot deep", "fs.read", "", `{"path":"` + e.data + `/ask/../../secret.txt"}`, CodeDenied, ""},
		{"absolute outside", "fs.read", "", `{"path":"/etc/passwd"}`, CodeDenied, ""},
		{"prefix sibling", "fs.read", "", `{"path":"` + e.dir + `/data2"}`, CodeDenied, ""},
		{"symlink absolute read", "fs.read", "", `{"path":"` + e.data + `/abs-link"}`, CodeDenied, ""},
		{"symlink relative read", "fs.read", "", `{"path":"` + e.data + `/rel-link"}`, CodeDenied, ""},
		{"symlink write", "fs.write", "", `{"path":"` + e.data + `/rel-link","data":"` + b64 + `"}`, CodeDenied, ""},
		{"symlink dir write", "fs.write", "", `{"path":"` + e.data + `/dir-link/new.txt","data":"` + b64 + `"}`, CodeDenied, ""},
		{"dangling symlink write", "fs.write", "", `{"path":"` + e.data + `/dangling-link","data":"` + b64 + `"}`, CodeDenied, ""},
		{"symlink list", "fs.list", "", `{"path":"` + e.data + `/dir-link"}`, CodeDenied, ""},
		{"symlink stat", "fs.stat", "", `{"path":"` + e.data + `/abs-link"}`, CodeDenied, ""},
		{"proc self environ", "fs.read", "", `{"path":"/proc/self/environ"}`, CodeDenied, ""},
		{"proc self environ with a proc grant", "fs.read", procTok, `{"path":"/proc/self/environ"}`, CodeDenied, ""},
		{"case trick", "fs.read", "", `{"path":"` + filepath.Join(e.dir, "Data") + `/a.csv"}`, CodeDenied, ""},
		{"write with read-only token", "fs.write", readOnly, `{"path":"` + e.data + `/a.csv","data":"` + b64 + `"}`, CodeDenied, ""},
		{"delete with read-only token", "fs.delete", readOnly, `{"path":"` + e.data + `/a.csv"}`, CodeDenied, ""},
		{"rename out of grant", "fs.rename", "", `{"from":"` + e.data + `/a.csv","to":"` + outside + `/a.csv"}`, CodeDenied, ""},
		{"another plugin's token", "fs.read", otherPlugin, `{"path":"` + e.data + `/a.csv"}`, CodeTokenInvalid, ""},
		{"another instance's token", "fs.read", otherInstance, `{"path":"` + e.data + `/a.csv"}`, CodeTokenInvalid, ""},
		{"forged token", "fs.read", "eyJhbGciOiJub25lIn0.e30.", `{"path":"` + e.data + `/a.csv"}`, CodeTokenInvalid, ""},
		{"expired token", "fs.read", expired, `{"path":"` + e.data + `/a.csv"}`, CodeTokenExpired, ""},
		{"revoked token", "fs.read", revoked, `{"path":"` + e.data + `/a.csv"}`, CodeTokenInvalid, ""},
		{"malformed json", "fs.read", "", `{"path":`, CodeInvalidParams, ""},
		{"params not an object", "fs.read", "", `["/etc/passwd"]`, CodeInvalidParams, ""},
		{"unknown member", "fs.read", "", `{"path":"` + e.data + `/a.csv","follow":true}`, CodeInvalidParams, ""},
		{"duplicate member", "fs.read", "", `{"path":"` + e.data + `/a.csv","path":"/etc/passwd"}`, CodeInvalidParams, ""},
		{"case-folded member", "fs.read", "", `{"PATH":"/etc/passwd"}`, CodeInvalidParams, ""},
		{"relative path", "fs.read", "", `{"path":"secret.txt"}`, CodeInvalidParams, ""},
		{"nul in path", "fs.read", "", `{"path":"` + e.data + `/a.csv\u0000"}`, CodeInvalidParams, ""},
		{"unknown method", "fs.chmod", "", `{}`, CodeUnknownMethod, "unknown"},
		{"not declared", "kv.get", e.mint("kv:other/*", "read"), `{"key":"other/x"}`, CodeNotDeclared, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			_, err := e.gate.Call(context.Background(), e.caller, tc.method, tc.token, []byte(tc.params))
			wantCode(t, err, tc.code)
			action := tc.action
			if action == "" {
				action = tc.method
			}
			ev := e.wantDenyEvent(action, tc.code)
			if tc.token != "" && tc.code != CodeInvalidParams && ev.CapHash != capability.TokenHash(tc.token) {
				t.Fatalf("event cap_hash %q, want the hash of the token used", ev.CapHash)
			}
			// The host keeps serving.
			if _, err := e.call("fs.read", "", map[string]any{"path": filepath.Join(e.data, "a.csv")}); err != nil {
				t.Fatalf("host stopped serving: %v", err)
			}
		})
	}
	e.t = t
	if got, _ := os.ReadFile(e.secret); string(got) != "TOP SECRET" {
		t.Fatalf("secret changed: %q", got)
	}
	if _, err := os.Stat(filepath.Join(outside, "new.txt")); !os.IsNotExist(err) {
		t.Fatalf("a file was created outside the grant: %v", err)
	}
	// A listing never shows what lies outside the grants.
	res, err := e.call("fs.list", "", map[string]any{"path": e.data})
	must(t, err)
	for _, en := range res["entries"].([]any) {
		if strings.Contains(en.(map[string]any)["name"].(string), "secret") {
			t.Fatalf("listing shows %v", en)
		}
	}
}

// TestSymlinkInsideRootOutsidePattern: a symlink that stays inside the
// grant's base directory but leads to a file the pattern does not match is
// refused: the resolved path is checked again.
func TestSymlinkInsideRootOutsidePattern(t *testing.T) {
	e := newEnv(t)
	must(t, os.WriteFile(filepath.Join(e.data, "key.pem"), []byte("KEY"), 0o600))
	must(t, os.Symlink("key.pem", filepath.Join(e.data, "report.csv")))
	must(t, os.WriteFile(filepath.Join(e.data, "ok.csv"), []byte("ok"), 0o600))
	must(t, os.Symlink("ok.csv", filepath.Join(e.data, "alias.csv")))
	tok := e.mint("filesystem:"+e.data+"/*.csv", "read")
	_, err := e.call("fs.read", tok, map[string]any{"path": filepath.Join(e.data, "report.csv")})
	wantCode(t, err, CodeDenied)
	e.wantDenyEvent("fs.read", CodeDenied)
	// A symlink to a matching file inside the grant is fine.
	res, err := e.call("fs.read", tok, map[string]any{"path": filepath.Join(e.data, "alias.csv")})
	must(t, err)
	if res["data"] != base64.StdEncoding.EncodeToString([]byte("ok")) {
		t.Fatalf("alias read %v", res)
	}
}

func TestConfirmation(t *testing.T) {
	askPath := func(e *env) string { return filepath.Join(e.data, "ask", "f.txt") }
	params := func(e *env) map[string]any {
		return map[string]any{"path": askPath(e), "data": base64.StdEncoding.EncodeToString([]byte("quarterly numbers"))}
	}
	t.Run("allow", func(t *testing.T) {
		var got ConfirmRequest
		e := newEnv(t, withConfirm(ConfirmFunc(func(_ context.Context, r ConfirmRequest) (bool, error) { got = r; return true, nil })))
		must(t, err2(e.call("fs.write", "", params(e))))
		if got.Plugin != testPlugin || got.Method != "fs.write" || got.Action != "write" || got.Resource != "filesystem:"+askPath(e) ||
			got.Preview != "quarterly numbers" || got.Size != 17 || got.Publisher != "acme" {
			t.Fatalf("confirm request = %+v", got)
		}
		if ev := e.last("fs.write"); ev.Decision.Effect != "ask" || ev.Decision.Answer != "allow" || ev.Outcome != "ok" {
			t.Fatalf("event = %+v", ev)
		}
	})
	t.Run("deny", func(t *testing.T) {
		e := newEnv(t, withConfirm(DenyAll{}))
		_, err := e.call("fs.write", "", params(e))
		wantCode(t, err, CodeDeclined)
		ev := e.wantDenyEvent("fs.write", CodeDeclined)
		if ev.Decision.Effect != "ask" || ev.Decision.Answer != "deny" {
			t.Fatalf("event decision = %+v", ev.Decision)
		}
		if _, err := os.Stat(askPath(e)); !os.IsNotExist(err) {
			t.Fatal("declined write happened")
		}
	})
	t.Run("timeout", func(t *testing.T) {
		pr, pw, _ := os.Pipe()
		defer pw.Close()
		defer pr.Close()
		var out strings.Builder
		e := newEnv(t, withConfirm(NewPrompt(pr, &out, time.Millisecond)))
		_, err := e.call("fs.write", "", params(e))
		wantCode(t, err, CodeDeclined)
		if !strings.Contains(out.String(), "no answer in time") || !strings.Contains(out.String(), askPath(e)) {
			t.Fatalf("prompt output: %s", out.String())
		}
	})
}

func TestPrompt(t *testing.T) {
	req := ConfirmRequest{Plugin: "p\x1b[2J", Method: "fs.write", Resource: "filesystem:/x", Action: "write", Preview: "hi", Size: 2}
	for _, tc := range []struct {
		in   string
		want bool
	}{{"y\n", true}, {"YES\n", true}, {"n\n", false}, {"\n", false}, {"yep\n", false}, {"", false}} {
		var out strings.Builder
		p := NewPrompt(strings.NewReader(tc.in), &out, time.Minute)
		ok, err := p.Confirm(context.Background(), req)
		must(t, err)
		if ok != tc.want {
			t.Errorf("answer %q: got %v, want %v", tc.in, ok, tc.want)
		}
		if strings.Contains(out.String(), "\x1b") {
			t.Errorf("prompt shows a raw escape: %q", out.String())
		}
	}
}

func TestCapabilityMethods(t *testing.T) {
	e := newEnv(t)
	res, err := e.call("capability.list", "", `{}`)
	must(t, err)
	if n := len(res["capabilities"].([]any)); n != 2 {
		t.Fatalf("capability.list: %d capabilities", n)
	}
	// Narrowing a held capability needs nobody.
	res, err = e.call("capability.request", "", map[string]any{"resource": "filesystem:" + e.data + "/a.csv", "actions": []string{"read"}, "reason": "read one file"})
	must(t, err)
	tok := res["token"].(string)
	must(t, err2(e.call("fs.read", tok, map[string]any{"path": filepath.Join(e.data, "a.csv")})))
	_, err = e.call("fs.write", tok, map[string]any{"path": filepath.Join(e.data, "a.csv"), "data": ""})
	wantCode(t, err, CodeDenied)
	if ev := e.last("capability.request"); ev.Decision.By != "attenuation" || ev.Detail["token_hash"] != capability.TokenHash(tok) {
		t.Fatalf("capability.request event = %+v", ev)
	}
	// Outside the manifest: never.
	_, err = e.call("capability.request", "", map[string]any{"resource": "filesystem:/etc/**", "actions": []string{"read"}, "reason": "please"})
	wantCode(t, err, CodeNotDeclared)
	// Declared (the /Data read permission) but no rule allows it: denied.
	_, err = e.call("capability.request", "", map[string]any{"resource": "filesystem:" + filepath.Join(e.dir, "Data") + "/**", "actions": []string{"read"}, "reason": "please"})
	wantCode(t, err, CodeDenied)
	_, err = e.call("capability.request", "", map[string]any{"resource": "filesystem:" + e.data, "actions": []string{"fly"}, "reason": "x"})
	wantCode(t, err, CodeInvalidParams)
}

func TestNewGateNeedsItsParts(t *testing.T) {
	if _, err := NewGate(Config{}); err == nil {
		t.Fatal("NewGate with nothing succeeded")
	}
}
