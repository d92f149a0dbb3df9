package resource

import "testing"

// TestContains pins the subset relation for every kind: p ⊇ q.
func TestContains(t *testing.T) {
	cases := []struct {
		p, q string
		want bool
	}{
		// filesystem: subtree closure
		{"filesystem:/a", "filesystem:/a", true},
		{"filesystem:/a", "filesystem:/a/b", true},
		{"filesystem:/a", "filesystem:/a/**", true},
		{"filesystem:/a", "filesystem:/a/*/c", true},
		{"filesystem:/a/b", "filesystem:/a", false},
		{"filesystem:/a", "filesystem:/ab", false},
		{"filesystem:/", "filesystem:/x/**/y", true},
		{"filesystem:~", "filesystem:~/Documents", true},
		{"filesystem:~/Documents", "filesystem:~", false},
		// '*' and "**"
		{"filesystem:/a/*", "filesystem:/a/b", true},
		{"filesystem:/a/*", "filesystem:/a/*.csv", true},
		{"filesystem:/a/*", "filesystem:/a", false},
		{"filesystem:/a/*", "filesystem:/a/**", false},
		{"filesystem:/a/*", "filesystem:/a/*/b", true},
		{"filesystem:/a/*", "filesystem:/a/**/b", false}, // "/a/b" is in q, not in p
		{"filesystem:/a/*.csv", "filesystem:/a/*", false},
		{"filesystem:/a/*.csv", "filesystem:/a/x*.csv", true},
		{"filesystem:/a/*.csv", "filesystem:/a/*x.csv", true},
		{"filesystem:/a/*.csv", "filesystem:/a/*.cs", false},
		{"filesystem:/a/x*", "filesystem:/a/*x", false},
		{"filesystem:/a/*x*", "filesystem:/a/x", true},
		{"filesystem:/a/*x*", "filesystem:/a/ax*", true},
		{"filesystem:/a/*x*", "filesystem:/a/a*x*b", true},
		{"filesystem:/a/**/b", "filesystem:/a/b", true},
		{"filesystem:/a/**/b", "filesystem:/a/x/y/b", true},
		{"filesystem:/a/**/b", "filesystem:/a/*/b", true},
		{"filesystem:/a/**/b", "filesystem:/a/**/x/b", true},
		{"filesystem:/a/**/b", "filesystem:/a/**/b/c", true},
		{"filesystem:/a/**/b", "filesystem:/a/**", false},
		{"filesystem:/a/**/b", "filesystem:/a/*", false},
		{"filesystem:/**/b", "filesystem:/a/**/b", true},
		{"filesystem:/*/b", "filesystem:/**/b", false},
		{"filesystem:/a/**/b/**/c", "filesystem:/a/b/c", true},
		{"filesystem:/a/**/b/**/c", "filesystem:/a/c/b", false},
		// net
		{"net:*", "net:https://a.com/x", true},
		{"net:*", "net:*", true},
		{"net:https://*", "net:*", false},
		{"net:https://*", "net:https://a.com", true},
		{"net:https://*", "net:https://*.a.com/x", true},
		{"net:https://*", "net:http://a.com", false},
		{"net:https://*", "net:https://a.com:8443", false},
		{"net:https://*.a.com", "net:https://b.a.com", true},
		{"net:https://*.a.com", "net:https://c.b.a.com/x", true},
		{"net:https://*.a.com", "net:https://*.b.a.com", true},
		{"net:https://*.a.com", "net:https://*.a.com/v1", true},
		{"net:https://*.a.com", "net:https://a.com", false},
		{"net:https://*.a.com", "net:https://*.xa.com", false},
		{"net:https://*.b.a.com", "net:https://*.a.com", false},
		{"net:https://a.com", "net:https://*.a.com", false},
		{"net:https://a.com", "net:https://a.com:443/v1", true},
		{"net:https://a.com/v1", "net:https://a.com", false},
		{"net:https://a.com/v1", "net:https://a.com/v1/*/x", true},
		{"net:https://a.com/v1/*", "net:https://a.com/v1/**", false},
		{"net:https://[::1]", "net:https://[0::1]/x", true},
		// clipboard
		{"clipboard", "clipboard:*", true},
		// plugin
		{"plugin:*", "plugin:a#b", true},
		{"plugin:*", "plugin:a#*", true},
		{"plugin:a#*", "plugin:a#b", true},
		{"plugin:a#*", "plugin:*", false},
		{"plugin:a#b", "plugin:a#*", false},
		{"plugin:a#b", "plugin:a#b", true},
		{"plugin:a#b", "plugin:a#c", false},
		{"plugin:a#*", "plugin:ab#c", false},
		// env
		{"env:*", "env:HOME", true},
		{"env:A_*", "env:A_B", true},
		{"env:A_*", "env:A_B_*", true},
		{"env:A_B_*", "env:A_*", false},
		{"env:A_*", "env:*", false},
		{"env:HOME", "env:HOME", true},
		{"env:HOME", "env:HOME*", false},
		// kv
		{"kv:*", "kv:a*", true},
		{"kv:a*", "kv:ab*", true},
		{"kv:a*c", "kv:ab*bc", true},
		{"kv:a*c", "kv:a*", false},
		{"kv:a", "kv:a", true},
		// secret
		{"secret:*", "secret:gh", true},
		{"secret:gh-*", "secret:gh-token", true},
		{"secret:gh-token", "secret:gh-*", false},
		// process
		{"process:*", "process:git", true},
		{"process:*", "process:/usr/bin/git", true},
		{"process:git", "process:/usr/bin/git", false},
		{"process:/usr/bin/git", "process:git", false},
		{"process:/usr/bin/git", "process:/usr/bin/git", true},
		{"process:git", "process:*", false},
		// kinds never mix
		{"filesystem:/", "process:/usr/bin/git", false},
		{"kv:*", "secret:a", false},
		{"net:*", "clipboard", false},
	}
	for _, c := range cases {
		p, q := mp(t, c.p), mp(t, c.q)
		if got := p.Contains(q); got != c.want {
			t.Errorf("%q.Contains(%q) = %v, want %v", c.p, c.q, got, c.want)
		}
	}
}

// TestContainsWidening is the attenuation attack test: each child is a
// widened version of its parent in one of the ways a malicious delegator
// might try, and none may be contained.
func TestContainsWidening(t *testing.T) {
	parent := map[string][]string{
		"filesystem:~/Documents/Spreadsheets": {
			"filesystem:~/Documents", "filesystem:~/Documents/*", "filesystem:~/Documents/Spreadsheets*",
			"filesystem:~/Documents/**/Spreadsheets", "filesystem:~/*/Spreadsheets", "filesystem:/",
			"filesystem:~/Documents/Spreadsheets/../Taxes", "filesystem:~/Documents/Spreadsheets/..",
		},
		"filesystem:/a/*.csv": {"filesystem:/a/*", "filesystem:/a/**/*.csv", "filesystem:/a/*.csv*", "filesystem:/a"},
		"net:https://api.x.com/v1": {
			"net:https://api.x.com", "net:https://*.x.com/v1", "net:https://*/v1", "net:*",
			"net:https://api.x.com:8443/v1", "net:http://api.x.com/v1", "net:https://api.x.com/v1/../v2",
			"net:https://x.com/v1", "net:https://api.x.co/v1",
		},
		"plugin:acme#render": {"plugin:acme#*", "plugin:*", "plugin:acme#render2"},
		"env:MYAPP_TOKEN":    {"env:MYAPP_*", "env:*", "env:MYAPP_TOKEN*"},
		"secret:gh":          {"secret:*", "secret:g*"},
		"process:git":        {"process:*", "process:/usr/bin/git"},
	}
	for ps, children := range parent {
		p := mp(t, ps)
		for _, cs := range children {
			c := mp(t, cs)
			if p.Contains(c) {
				t.Errorf("%q.Contains(%q) = true: a widened child was accepted", ps, cs)
			}
		}
	}
}
