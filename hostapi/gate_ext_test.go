package hostapi

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/resource"
)

// TestNewMethodNeedsNoGateChange registers a method the catalogue does not
// have — a stand-in for a later clipboard.write — with its schema, its
// resource mapping and its provider, and shows that the unchanged gate
// validates, authorises, asks the policy and audits it like any other.
func TestNewMethodNeedsNoGateChange(t *testing.T) {
	var written string
	var schema map[string]any
	must(t, json.Unmarshal([]byte(`{
		"params": {"type": "object", "properties": {"text": {"type": "string", "maxLength": 100}}, "required": ["text"], "additionalProperties": false},
		"result": {"type": "object", "additionalProperties": false}
	}`), &schema))
	def := methodDef{
		name: "test.clipboard.write",
		access: func(a *args) ([]Access, *Error) {
			return []Access{{Kind: resource.Clipboard, Name: "clipboard", Action: "write"}}, nil
		},
		run: func(_ context.Context, c *call) ([]byte, *Error) {
			written = c.args.Str("text")
			return []byte(`{}`), nil
		},
		schema: schema,
	}
	e := newEnv(t, withExtra(def))
	// No capability for the clipboard: refused by the gate and audited.
	_, err := e.call("test.clipboard.write", "", map[string]any{"text": "hi"})
	wantCode(t, err, CodeDenied)
	e.wantDenyEvent("test.clipboard.write", CodeDenied)
	// With a token it reaches the policy, which has no rule for it: the
	// manifest does not declare it either.
	_, err = e.call("test.clipboard.write", e.mint("clipboard", "write"), map[string]any{"text": "hi"})
	wantCode(t, err, CodeNotDeclared)
	_, err = e.call("test.clipboard.write", "", map[string]any{"text": 5})
	wantCode(t, err, CodeInvalidParams)
	if written != "" {
		t.Fatal("the provider ran without being allowed")
	}
	if !strings.Contains(strings.Join(e.gate.Methods(), ","), "test.clipboard.write") {
		t.Fatal("method not listed")
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
