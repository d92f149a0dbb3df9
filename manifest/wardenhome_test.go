package manifest

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	wardenhome "github.com/wardenproject/warden/internal/home"
)

// WDN008: a permission that reaches warden's own state is an error for any
// action — the default home under any user's home, in any letter case, and
// the homes of the machine lint runs on in any spelling (issue 10, finding
// 1: a grant two levels above a custom home let a plugin rename its way in).
func TestLintWardenHome(t *testing.T) {
	t.Setenv("HOME", "/home/alice")
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv(wardenhome.EnvVar, "")
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	custom := filepath.Join(root, "data", "x", "warden") // --home
	must(t, os.MkdirAll(custom, 0o700))
	must(t, os.MkdirAll(filepath.Join(root, "u", ".config"), 0o700))
	must(t, os.Symlink(filepath.Join(root, "u", ".config"), filepath.Join(root, "u", "cfg")))
	prot := wardenhome.NewProtected(
		wardenhome.Guarded{Path: custom, What: wardenhome.WhatHome},
		wardenhome.Guarded{Path: filepath.Join(root, "u", ".config", "warden"), What: wardenhome.WhatHome})
	for _, c := range []struct {
		res, acts string
		want      bool
	}{
		// The default location under any home, any action.
		{"filesystem:~/.config/warden", `"read"`, true},
		{"filesystem:~/.config/**", `"read"`, true},
		{"filesystem:~/.config/*", `"list"`, true},
		{"filesystem:/home/bob/.config/warden/audit/**", `"delete"`, true},
		{"filesystem:~/Library/Application Support/warden/state.db", `"write"`, true},
		{"filesystem:~/Library/Application Support/Warden/**", `"read"`, true},
		{"filesystem:~/.Config/Warden/keys", `"read"`, true},
		// The homes lint runs against, in any spelling.
		{"filesystem:" + root + "/data/**", `"read","write","delete"`, true}, // two levels up
		{"filesystem:" + custom + "/keys/**", `"read"`, true},
		{"filesystem:" + root + "/*/x", `"read"`, true},
		{"filesystem:" + root + "/u/cfg/**", `"read"`, true}, // ~/cfg -> ~/.config
		// Near misses.
		{"filesystem:~/.config/myapp/**", `"write"`, false},
		{"filesystem:" + root + "/data/y/**", `"read"`, false},
		{"filesystem:" + root + "/u/cfg/myapp", `"read"`, false},
		{"filesystem:/var/log/myapp/**", `"write"`, false},
	} {
		src := []byte(`{` + head + `, "publisher": {"name": "T", "key_id": "ed25519:21fe31dfa154a261"}, "permissions": [{"resource": ` +
			strconv.Quote(c.res) + `, "actions": [` + c.acts + `], "reason": "r"}]}`)
		m, err := Parse(src)
		must(t, err)
		var got []string
		for _, f := range LintWith(m, src, "testdata/lint/x.json", LintOptions{Protected: prot}) {
			if f.Severity == SeverityError {
				got = append(got, f.RuleID)
			}
		}
		if slices.Contains(got, "WDN008") != c.want {
			t.Errorf("%s %s: errors %v; WDN008 wanted: %v", c.res, c.acts, got, c.want)
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
