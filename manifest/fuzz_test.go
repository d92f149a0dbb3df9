package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenproject/warden/resource"
)

// FuzzParse feeds Parse arbitrary bytes: it must never panic, every fault must
// carry a position, and whatever it accepts must survive Validate, Lint and
// Risk, and a Marshal/Parse round trip.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"valid", "invalid", "lint", "structure"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
		for _, file := range files {
			if src, err := os.ReadFile(file); err == nil {
				f.Add(src)
			}
		}
	}
	// One seed per bad-input class, small enough for the mutator to work on.
	for _, s := range []string{
		`{` + head + `, "x": 1}`,                 // unknown field
		`{` + head + `, "name": "y"}`,            // duplicate key
		`{"name": []}`,                           // wrong type
		`{` + head + `} x`,                       // trailing data
		"{\"name\": \"\xff\"}",                   // non-UTF-8
		"{\"name\": \"a\x00\"}",                  // NUL byte
		`{"name": "a\u0000"}`,                    // NUL escape
		`{"a": ` + strings.Repeat(`[`, 80) + `}`, // deep nesting
		`{` + head + `, "limits": {"timeout_ms": 1e400}}`,
		`{` + head + `, "tools": [{"name": "t", "input_schema": {"type": "object", "$ref": "file:///etc/passwd"}}]}`,
		`{` + head + `, "permissions": [{"resource": "filesystem:/../..", "actions": ["read"]}]}`,
		`{"\u00e9": 1, "a\"b": {"c": [1, {"d": null}]}}`,
		``, `[`, `{`, `{"`, `"`, `0`, `nul`,
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			if len(Errors(err)) == 0 {
				t.Fatalf("Parse error of type %T carries no *Error: %v", err, err)
			}
			for _, e := range Errors(err) {
				if e.Line < 1 || e.Col < 1 {
					t.Fatalf("fault without a position: %v", e)
				}
			}
			return
		}
		_ = m.Validate(dir, ValidateOptions{Home: "/home/user"})
		_ = Lint(m, data, filepath.Join(dir, FileName))
		s := Risk(m)
		if s.Value < 0 || s.Value > 100 {
			t.Fatalf("risk %d out of range", s.Value)
		}
		out, err := jsonMarshal(m)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("Parse rejects its own Marshal output: %v\n%s", err, out)
		}
	})
}

// FuzzLintReach feeds the lint-side reach checks arbitrary resource patterns:
// they must never panic, and changing the ASCII case of a filesystem pattern
// must not change whether it is a wildcard or which sensitive places it
// reaches (macOS and Windows open both spellings as one file).
func FuzzLintReach(f *testing.F) {
	for _, s := range []string{
		"filesystem:~/.SSH/**", "filesystem:/home/*/**", "filesystem:/Users/Bob", "filesystem:~/.ssh./x",
		"filesystem:~/Library/Application Support/Warden/**", "filesystem:/etc/cron.d/x", "filesystem:/*/passwd",
		"filesystem:~/.\u017fsh", "filesystem:/srv/jose\u0301/**", "filesystem:~/...", "filesystem:~/a./b..",
		"net:https://*.co.uk", "net:https://*.github.io:8443/x", "net:https://*.xn--p1ai", "net:wss://*.kawasaki.jp",
		"net:https://[::1]/", "net:*", "env:*",
	} {
		f.Add(s, "/home/alice")
	}
	f.Add("filesystem:~/x", "/Users/Jos\u00e9")
	f.Fuzz(func(t *testing.T, res, home string) {
		if !strings.HasPrefix(home, "/") || strings.ContainsAny(home, "*\x00") {
			home = "/home/user"
		}
		ro := resource.Options{Home: home}
		p, err := resource.ParseWith(res, ro)
		if err != nil {
			return
		}
		switch p.Kind() {
		case resource.Net:
			_, _ = publicSuffixWildcard(p)
		case resource.Filesystem:
			fp := foldPattern(p, home)
			w, _ := anyHomeWildcard(fp, home)
			s := sensitiveReach(fp, home)
			up, err := resource.ParseWith(asciiUpper(res), ro)
			if err != nil || up.Kind() != resource.Filesystem {
				return
			}
			fu := foldPattern(up, home)
			if w2, _ := anyHomeWildcard(fu, home); w2 != w {
				t.Errorf("%q: home wildcard %v, upper-case %v", res, w, w2)
			}
			if s2 := sensitiveReach(fu, home); s2 != s {
				t.Errorf("%q: reaches %q, upper-case %q", res, s, s2)
			}
		}
	})
}

func asciiUpper(s string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, s)
}
