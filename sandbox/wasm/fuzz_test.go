package wasm

import (
	"encoding/json"
	"path"
	"strings"
	"testing"
)

func FuzzParseToolEnvelope(f *testing.F) {
	for _, s := range []string{`{"result":1}`, `{"result":{"a":[1,2]}}`, `{"result":1,"error":{"code":"x"}}`,
		`{"error":{"code":"denied","message":"m"}}`, `{"error":{}}`, `{}`, `{"result":`, `{"result":}`, `null`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, env []byte) {
		res, err := parseToolEnvelope("t", env)
		if err == nil && !json.Valid(res) {
			t.Fatalf("result %q from %q is not JSON", res, env)
		}
		if err != nil {
			if _, ok := err.(*ToolError); !ok {
				t.Fatalf("error %T", err)
			}
		}
	})
}

func FuzzHostPath(f *testing.F) {
	for _, s := range []string{".", "", "a/b", "../../etc/passwd", "a/../../b", "/abs", "a//b/./c/", "a\x00b", "..", "proc/self/root/.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		p, errno := hostPath(name)
		if errno != 0 {
			if !strings.Contains(name, "\x00") {
				t.Fatalf("%q refused", name)
			}
			return
		}
		if !path.IsAbs(p) || path.Clean(p) != p || strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") {
			t.Fatalf("hostPath(%q) = %q: not a clean absolute path", name, p)
		}
	})
}
