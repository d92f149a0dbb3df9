package resource

import (
	"testing"
)

type matchCase struct {
	pat, name string
	want      bool
}

// TestMatch pins Match for every kind, including the inputs that must fail
// closed.
func TestMatch(t *testing.T) {
	cases := []matchCase{
		// filesystem: a plain path is the entry and its subtree
		{"filesystem:~/Documents/Spreadsheets", "filesystem:/home/u/Documents/Spreadsheets", true},
		{"filesystem:~/Documents/Spreadsheets", "filesystem:/home/u/Documents/Spreadsheets/q1/a.csv", true},
		{"filesystem:~/Documents/Spreadsheets", "filesystem:/home/u/Documents/SpreadsheetsOld", false},
		{"filesystem:~/Documents/Spreadsheets", "filesystem:/home/u/Documents", false},
		{"filesystem:/", "filesystem:/", true},
		{"filesystem:/", "filesystem:/etc/passwd", true},
		// '*' stays in one segment; "**" crosses
		{"filesystem:/a/*.csv", "filesystem:/a/x.csv", true},
		{"filesystem:/a/*.csv", "filesystem:/a/.csv", true},
		{"filesystem:/a/*.csv", "filesystem:/a/x.csv/inner", true},
		{"filesystem:/a/*.csv", "filesystem:/a/b/x.csv", false},
		{"filesystem:/a/*.csv", "filesystem:/a/x.csvx", false},
		{"filesystem:/a/*", "filesystem:/a", false},
		{"filesystem:/a/*", "filesystem:/a/b", true},
		{"filesystem:/a/**/b", "filesystem:/a/b", true},
		{"filesystem:/a/**/b", "filesystem:/a/x/y/b", true},
		{"filesystem:/a/**/b", "filesystem:/a/x/y/b/z", true},
		{"filesystem:/a/**/b", "filesystem:/a/x/y/bb", false},
		{"filesystem:/a/**/b/*.csv", "filesystem:/a/b/b/c.csv", true},
		{"filesystem:/**/.git/hooks", "filesystem:/src/p/.git/hooks/pre-commit", true},
		{"filesystem:/a/x*y*z", "filesystem:/a/xyyyz", true},
		{"filesystem:/a/x*y*z", "filesystem:/a/xzy", false},
		// '?', '[' and '\' are ordinary characters
		{"filesystem:/a/f?.txt", "filesystem:/a/f?.txt", true},
		{"filesystem:/a/f?.txt", "filesystem:/a/fx.txt", false},
		{"filesystem:/a/[ab]", "filesystem:/a/a", false},
		{"filesystem:/a/[ab]", "filesystem:/a/[ab]", true},
		// a '*' in a name is just a character
		{"filesystem:/a/*", "filesystem:/a/*", true},
		{"filesystem:/a/b", "filesystem:/a/*", false},
		// case-sensitive and byte-exact after NFC
		{"filesystem:/a/Docs", "filesystem:/a/docs", false},
		{"filesystem:/a/Donne\u0301es", "filesystem:/a/Donn\u00e9es", true},
		{"filesystem:/a/Donn\u00e9es", "filesystem:/a/Donne\u0301es", false},
		// names must be clean: fail closed
		{"filesystem:/a", "filesystem:/a/../etc/passwd", false},
		{"filesystem:/a", "filesystem:/a/./b", false},
		{"filesystem:/a", "filesystem:/a//b", false},
		{"filesystem:/a", "filesystem:/a/b/", false},
		{"filesystem:/a", "filesystem:a/b", false},
		{"filesystem:/a", "filesystem:~/a", false},
		{"filesystem:/a", "filesystem:/a/b\x00", false},
		{"filesystem:/a", "filesystem:", false},
		{"filesystem:/a", "filesystem", false},
		{"filesystem:/a", "net:https://a", false},
		// net
		{"net:https://api.x.com/v1", "net:https://api.x.com/v1/items?q=1", true},
		{"net:https://api.x.com/v1", "net:https://api.x.com/v1", true},
		{"net:https://api.x.com/v1", "net:https://api.x.com/v1/", true},
		{"net:https://api.x.com/v1", "net:https://api.x.com/v1#frag", true},
		{"net:https://api.x.com/v1", "net:https://API.X.COM:443/v1/a", true},
		{"net:https://api.x.com/v1", "net:https://api.x.com./v1/a", true},
		{"net:https://api.x.com/v1", "net:https://api.x.com/v10", false},
		{"net:https://api.x.com/v1", "net:https://api.x.com/", false},
		{"net:https://api.x.com/v1", "net:https://api.x.com", false},
		{"net:https://api.x.com/v1", "net:http://api.x.com/v1", false},
		{"net:https://api.x.com/v1", "net:https://api.x.com:8443/v1", false},
		{"net:https://api.x.com/v1", "net:https://api.x.com/v1/../admin", false},
		{"net:https://api.x.com/v1", "net:https://api.x.com/v1/%2e%2e/admin", false},
		{"net:https://api.x.com/v1", "net:https://api.x.com/v1/a%2F..%2F..%2Fadmin", false},
		{"net:https://api.x.com/v1", "net:https://api.x.com/v1//a", false},
		{"net:https://api.x.com/v1", "net:https://api.x.com/v1/./a", false},
		{"net:https://api.x.com/v1", "net:https://evil@api.x.com/v1", false},
		{"net:https://api.x.com/v1", "net:https://api.x.com.evil.com/v1", false},
		{"net:https://api.x.com/v1", "net:https://api.x.com@evil.com/v1", false},
		{"net:https://api.x.com/v1", "net:https://api.x.com\\@evil.com/v1", false},
		{"net:https://api.x.com/v1", "net:https://*/v1", false},
		{"net:https://api.x.com/v1/*/items", "net:https://api.x.com/v1/7/items/8", true},
		{"net:https://api.x.com/v1/*/items", "net:https://api.x.com/v1/7/8/items", false},
		{"net:https://x.com/%7Euser", "net:https://x.com/~user", true},
		{"net:https://x.com/~user", "net:https://x.com/%7euser/a", true},
		{"net:https://x.com/a%2A", "net:https://x.com/ab", false},
		{"net:https://x.com/ü", "net:https://x.com/%c3%bc", true},
		{"net:https://*.x.com", "net:https://a.x.com/p", true},
		{"net:https://*.x.com", "net:https://a.b.x.com/p", true},
		{"net:https://*.x.com", "net:https://x.com/p", false},
		{"net:https://*.x.com", "net:https://evilx.com/p", false},
		{"net:https://*", "net:https://10.0.0.1/p", true},
		{"net:https://*", "net:http://a.com", false},
		{"net:*", "net:ws://a.com:9/x", true},
		{"net:*", "net:ftp://a.com", false},
		{"net:https://bücher.de", "net:https://xn--bcher-kva.de/x", true},
		{"net:https://xn--bcher-kva.de", "net:https://BÜCHER.de/x", true},
		{"net:http://127.0.0.1", "net:http://127.1/", false},
		{"net:http://127.0.0.1", "net:http://0x7f000001/", false},
		{"net:http://127.0.0.1", "net:http://[::ffff:127.0.0.1]/", true},
		{"net:http://[::1]:8080", "net:http://[0:0::1]:8080/x", true},
		{"net:https://api.x.com", "net:https://api.x.com/a%zz", false},
		// clipboard
		{"clipboard", "clipboard", true},
		{"clipboard", "clipboard:x", false},
		{"clipboard", "env:HOME", false},
		// plugin
		{"plugin:acme.sheets#render", "plugin:acme.sheets#render", true},
		{"plugin:acme.sheets#render", "plugin:acme.sheets#Render", false},
		{"plugin:acme.sheets#render", "plugin:acme.sheets#render2", false},
		{"plugin:acme.sheets#*", "plugin:acme.sheets#anything.x", true},
		{"plugin:acme.sheets#*", "plugin:acme.sheetsx#a", false},
		{"plugin:*", "plugin:x#y", true},
		{"plugin:*", "plugin:x", false},
		{"plugin:*", "plugin:x#*", false}, // "*" is not a tool name, so no concrete resource
		// env
		{"env:HOME", "env:HOME", true},
		{"env:HOME", "env:home", false},
		{"env:HOME", "env:HOMEX", false},
		{"env:MYAPP_*", "env:MYAPP_TOKEN", true},
		{"env:MYAPP_*", "env:MYAPP_", true},
		{"env:MYAPP_*", "env:OTHER", false},
		{"env:*", "env:A", true},
		{"env:*", "env:A=B", false},
		// kv
		{"kv:mykey", "kv:mykey", true},
		{"kv:cache/*", "kv:cache/a/b", true},
		{"kv:cache/*", "kv:cach", false},
		{"kv:*", "kv:x", true},
		{"kv:*", "kv:", false},
		// secret
		{"secret:github-token", "secret:github-token", true},
		{"secret:github-*", "secret:github-token", true},
		{"secret:github-*", "secret:gitlab-token", false},
		{"secret:*", "secret:a b", false},
		// process
		{"process:/usr/bin/git", "process:/usr/bin/git", true},
		{"process:/usr/bin/git", "process:/usr/bin/../bin/git", false},
		{"process:/usr/bin/git", "process:/usr/bin/git/x", false},
		{"process:/usr/bin/git", "process:git", false},
		{"process:git", "process:git", true},
		{"process:git", "process:/usr/bin/git", false},
		{"process:*", "process:anything", true},
		{"process:*", "process:../x", false},
	}
	for _, c := range cases {
		p := mp(t, c.pat)
		if got := p.Match(c.name); got != c.want {
			t.Errorf("%q.Match(%q) = %v, want %v", c.pat, c.name, got, c.want)
		}
	}
}

// TestMatchPathTraversal is the attack test for the filesystem claim: no
// path outside a grant is matched, however it is spelt. The caller is
// expected to clean and resolve; anything unclean is refused rather than
// cleaned here, so a check and an open can never disagree.
func TestMatchPathTraversal(t *testing.T) {
	p := mp(t, "filesystem:~/Documents/Spreadsheets")
	attacks := []string{
		"/home/u/Documents/Spreadsheets/../../.ssh/id_ed25519",
		"/home/u/Documents/Spreadsheets/./../Secrets",
		"/home/u/Documents/Spreadsheets/..",
		"/home/u/Documents//Spreadsheets/../x",
		"/home/u/Documents/Spreadsheets/",
		"home/u/Documents/Spreadsheets/a",
		"/home/u/Documents/Spreadsheets\x00/a",
		"/home/u/Documents/Spreadsheets2/a",
		"/home/u/documents/spreadsheets/a",
		"/home/u/Documents/Spreadsheets.lnk",
		"/proc/self/root/home/u/Documents/Spreadsheets/a",
		"",
		"/",
		"//home/u/Documents/Spreadsheets/a",
	}
	for _, a := range attacks {
		if p.MatchPath(a) {
			t.Errorf("MatchPath(%q) = true: escaped the grant", a)
		}
		if p.Match("filesystem:" + a) {
			t.Errorf("Match(filesystem:%q) = true: escaped the grant", a)
		}
	}
	if !p.MatchPath("/home/u/Documents/Spreadsheets/q1.xlsx") {
		t.Error("legitimate path refused")
	}
	if (Pattern{}).MatchPath("/a") || mp(t, "env:*").MatchPath("/a") {
		t.Error("MatchPath on a non-filesystem pattern matched")
	}
}

// TestMatchNetEscapes is the attack test for net patterns: host confusion,
// credentials and encoded traversal must not pass a path-prefix grant.
func TestMatchNetEscapes(t *testing.T) {
	p := mp(t, "net:https://api.x.com/v1/public")
	attacks := []string{
		"net:https://api.x.com/v1/public/../private",
		"net:https://api.x.com/v1/public/%2E%2E/private",
		"net:https://api.x.com/v1/public/.%2e/private",
		"net:https://api.x.com/v1/public%2F..%2Fprivate",
		"net:https://api.x.com/v1/public/..%5Cprivate",
		"net:https://api.x.com/v1/public/%2e",
		"net:https://api.x.com/v1/publicity",
		"net:https://api.x.com:444/v1/public",
		"net:https://api.x.com.attacker.net/v1/public",
		"net:https://attacker.net#@api.x.com/v1/public",
		"net:https://attacker.net?@api.x.com/v1/public",
		"net:https://api.x.com:443@attacker.net/v1/public",
		"net:http://api.x.com/v1/public",
		"net:wss://api.x.com/v1/public",
		"net:https://api.x.com\x00.attacker.net/v1/public",
		"net:https:///v1/public",
		"net:https//api.x.com/v1/public",
	}
	for _, a := range attacks {
		if p.Match(a) {
			t.Errorf("Match(%q) = true: escaped the grant", a)
		}
	}
}

func TestMatchWrongKind(t *testing.T) {
	pats := []string{"filesystem:/", "net:*", "clipboard", "env:*", "kv:*", "secret:*", "process:*", "plugin:*"}
	names := []string{"filesystem:/a", "net:https://a.com", "clipboard", "env:A", "kv:a", "secret:a", "process:a", "plugin:a#b"}
	for i, ps := range pats {
		p := mp(t, ps)
		for j, n := range names {
			if got := p.Match(n); got != (i == j) {
				t.Errorf("%q.Match(%q) = %v", ps, n, got)
			}
		}
	}
}

func TestIsCleanAbs(t *testing.T) {
	cases := map[string]bool{
		"/": true, "/a": true, "/a/b": true, "/.ssh": true, "/a/.b/..c/c..": true, "/a/...": true,
		"": false, "a": false, "//": false, "/a/": false, "/a//b": false, "/./a": false, "/a/.": false,
		"/a/..": false, "/../a": false, "/a/../b": false, "/a\x00": false, ".": false,
	}
	for in, want := range cases {
		if got := isCleanAbs(in); got != want {
			t.Errorf("isCleanAbs(%q) = %v, want %v", in, got, want)
		}
	}
}
