package hostapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/capability"
	"github.com/wardenproject/warden/policy"
	"github.com/wardenproject/warden/resource"
)

// TestNewMethodNeedsNoGateChange registers a method the catalogue does not
// have — a stand-in for a later clipboard.write — with its schema, its
// resource mapping and its provider, and shows that the unchanged gate takes
// it through every step a builtin takes: params checked against the schema,
// a real capability token verified and matched, the manifest and a real
// policy engine asked, the provider run only on an allow, and one audit
// event per call, allowed or refused. The same method, token and manifest
// are refused by a policy that denies it.
func TestNewMethodNeedsNoGateChange(t *testing.T) {
	var written []string
	var schema map[string]any
	must(t, json.Unmarshal([]byte(`{
		"params": {"type": "object", "properties": {"text": {"type": "string", "maxLength": 100}}, "required": ["text"], "additionalProperties": false},
		"result": {"type": "object", "properties": {"length": {"type": "integer"}}, "required": ["length"], "additionalProperties": false}
	}`), &schema))
	def := methodDef{
		name: "test.clipboard.write",
		access: func(a *args) ([]Access, *Error) {
			return []Access{{Kind: resource.Clipboard, Name: "clipboard", Action: "write"}}, nil
		},
		run: func(_ context.Context, c *call) ([]byte, *Error) {
			text := c.args.Str("text")
			written = append(written, text)
			return fmt.Appendf(nil, `{"length":%d}`, len(text)), nil
		},
		schema: schema,
	}
	// The policy is the real engine over a real policy file: clipboard
	// writes are allowed by a rule, as a later clipboard.write would be.
	pol, err := policy.Parse([]byte("version: 1\nrules:\n  - id: clip\n    effect: allow\n    resource: clipboard\n    actions: [write]\n"),
		policy.ParseOptions{File: "clip.yaml"})
	must(t, err)
	allowClipboard := func(e *env, c *Config) { c.Policy = policy.NewEngine(pol, nil) }
	e := newEnv(t, withExtra(def), allowClipboard)
	if !strings.Contains(strings.Join(e.gate.Methods(), ","), "test.clipboard.write") {
		t.Fatal("method not listed")
	}
	declared, err := policy.NewManifest([]policy.Permission{{Resource: "clipboard", Actions: []string{"write"}}}, resource.Options{})
	must(t, err)
	clip := e.mint("clipboard", "write")

	// Refusals before the provider: no capability, a manifest that does not
	// declare the clipboard, params the schema refuses.
	_, err = e.call("test.clipboard.write", "", map[string]any{"text": "hi"})
	wantCode(t, err, CodeDenied)
	e.wantDenyEvent("test.clipboard.write", CodeDenied)
	_, err = e.call("test.clipboard.write", clip, map[string]any{"text": "hi"})
	wantCode(t, err, CodeNotDeclared)
	if ev := e.wantDenyEvent("test.clipboard.write", CodeNotDeclared); ev.Decision.By != "manifest" {
		t.Fatalf("undeclared: decided by %q, want the manifest", ev.Decision.By)
	}
	e.caller.Manifest = declared
	_, err = e.call("test.clipboard.write", clip, map[string]any{"text": 5})
	wantCode(t, err, CodeInvalidParams)
	e.wantDenyEvent("test.clipboard.write", CodeInvalidParams)
	// A token for another resource does not cover the clipboard.
	_, err = e.call("test.clipboard.write", e.mint("kv:cache/*", "write"), map[string]any{"text": "hi"})
	wantCode(t, err, CodeDenied)
	e.wantDenyEvent("test.clipboard.write", CodeDenied)
	if len(written) != 0 {
		t.Fatalf("the provider ran on a refused call: %q", written)
	}

	// Allowed: the token covers it, the manifest declares it, the policy's
	// rule allows it. The provider runs once, its result comes back, and
	// the ledger holds the allow with the rule and the token's hash.
	res, err := e.call("test.clipboard.write", clip, map[string]any{"text": "hello"})
	must(t, err)
	if res["length"] != float64(5) || len(written) != 1 || written[0] != "hello" {
		t.Fatalf("allowed call: result %v, provider saw %q", res, written)
	}
	ev := e.last("test.clipboard.write")
	if ev.Outcome != audit.OutcomeOK || ev.Error != nil || ev.Decision.Effect != audit.EffectAllow || ev.Decision.By != "rule:clip" ||
		ev.Resource != "clipboard" || ev.CapHash != capability.TokenHash(clip) || ev.Actor.Plugin != testPlugin || ev.Instance != testInstance {
		t.Fatalf("allowed call's event: %+v", ev)
	}
	// The caller's own tokens serve as well as an explicit one.
	e.caller.Tokens = append(e.caller.Tokens, clip)
	_, err = e.call("test.clipboard.write", "", map[string]any{"text": "again"})
	must(t, err)
	if len(written) != 2 || e.last("test.clipboard.write").Decision.Effect != audit.EffectAllow {
		t.Fatalf("allowed by the caller's tokens: provider saw %q", written)
	}

	// The same call under a policy that denies it: refused by the rule, the
	// provider not run, the refusal audited.
	polDeny, err := policy.Parse([]byte("version: 1\nrules:\n  - id: no-clip\n    effect: deny\n    resource: clipboard\n    reason: no clipboard\n"),
		policy.ParseOptions{File: "deny.yaml"})
	must(t, err)
	d := newEnv(t, withExtra(def), func(_ *env, c *Config) { c.Policy = policy.NewEngine(polDeny, nil) })
	d.caller.Manifest = declared
	_, err = d.call("test.clipboard.write", d.mint("clipboard", "write"), map[string]any{"text": "hi"})
	wantCode(t, err, CodeDenied)
	if ev := d.wantDenyEvent("test.clipboard.write", CodeDenied); ev.Decision.By != "rule:no-clip" {
		t.Fatalf("denied by policy: decided by %q, want rule:no-clip", ev.Decision.By)
	}
	if len(written) != 2 {
		t.Fatalf("the provider ran on a call the policy denied: %q", written)
	}
}

func TestOpenFile(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p := filepath.Join(e.data, "a.csv")
	f, err := e.gate.OpenFile(ctx, e.caller, "", p, os.O_RDONLY, 0)
	must(t, err)
	b, err := io.ReadAll(f)
	must(t, err)
	if string(b) != "a,b\n1,2\n" {
		t.Fatalf("read %q", b)
	}
	if _, err := f.Write([]byte("x")); err == nil {
		t.Fatal("write to a read-only file succeeded")
	}
	must(t, f.Close())
	if ev := e.last(ActionClose); ev.Bytes != 8 || ev.Outcome != audit.OutcomeOK {
		t.Fatalf("close event %+v", ev)
	}

	w, err := e.gate.OpenFile(ctx, e.caller, "", filepath.Join(e.data, "out.csv"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	must(t, err)
	if ev := e.last(ActionOpen); ev.Outcome != audit.OutcomeIntent {
		t.Fatalf("write open: last open event %+v, want a durable intent", ev)
	}
	_, err = w.Write([]byte("1,2,3\n"))
	must(t, err)
	must(t, w.Close())
	if ev := e.last(ActionClose); ev.AfterHash != sha([]byte("1,2,3\n")) || ev.Bytes != 6 {
		t.Fatalf("close event %+v", ev)
	}

	// Writing an existing file records the content before.
	w, err = e.gate.OpenFile(ctx, e.caller, "", p, os.O_WRONLY|os.O_TRUNC, 0)
	must(t, err)
	_, _ = w.Write([]byte("z"))
	must(t, w.Close())
	if ev := e.last(ActionClose); ev.BeforeHash != sha([]byte("a,b\n1,2\n")) || ev.AfterHash != sha([]byte("z")) {
		t.Fatalf("close event %+v", ev)
	}

	// Attacks through the filesystem entry.
	must(t, os.Symlink(e.secret, filepath.Join(e.data, "link")))
	for _, tc := range []struct {
		path string
		flag int
		tok  string
		code Code
	}{
		{filepath.Join(e.data, "link"), os.O_RDONLY, "", CodeDenied},
		{filepath.Join(e.data, "link"), os.O_WRONLY | os.O_TRUNC, "", CodeDenied},
		{e.data + "/../secret.txt", os.O_RDONLY, "", CodeDenied},
		{"/proc/self/environ", os.O_RDONLY, "", CodeDenied},
		{p, os.O_WRONLY, e.mint("filesystem:"+e.data+"/**", "read"), CodeDenied},
		{p, os.O_RDONLY, e.mint("filesystem:"+e.data+"/**", "list"), CodeDenied},
	} {
		_, err := e.gate.OpenFile(ctx, e.caller, tc.tok, tc.path, tc.flag, 0)
		wantCode(t, err, tc.code)
		e.wantDenyEvent(ActionOpen, tc.code)
	}
	if got, _ := os.ReadFile(e.secret); string(got) != "TOP SECRET" {
		t.Fatal("secret changed")
	}

	// A directory opened to list it.
	d, err := e.gate.OpenFile(ctx, e.caller, "", e.data, os.O_RDONLY, 0)
	must(t, err)
	des, err := d.ReadDir(-1)
	must(t, err)
	must(t, d.Close())
	if len(des) < 3 {
		t.Fatalf("listing shows %d entries", len(des))
	}
	// A caller holding only one file cannot list its directory.
	c := e.caller
	c.Tokens = []string{e.mint("filesystem:"+e.data+"/a.csv", "read")}
	_, err = e.gate.OpenFile(ctx, c, "", e.data, os.O_RDONLY, 0)
	wantCode(t, err, CodeDenied)
}
