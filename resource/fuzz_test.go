package resource

import (
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	"filesystem:~/Documents/Spreadsheets",
	"filesystem:/a/**/b/*.csv",
	"filesystem:/a/../../etc/passwd",
	"filesystem:/a/*/..",
	"filesystem:~root/x",
	"filesystem:/a\x00b",
	"filesystem:/a\xff\xfe",
	"filesystem:/a\u202e",
	"filesystem:/Donne\u0301es",
	"filesystem:" + strings.Repeat("/a", 2100),
	"filesystem:/" + strings.Repeat("*", 5000),
	strings.Repeat("/**/a*", 700),
	"net:https://API.x.com:443/v1/../v2/%7e",
	"net:https://*.bücher.de/x",
	"net:http://[::ffff:127.0.0.1]:8080",
	"net:http://127.1",
	"net:https://u:p@x.com",
	"net:https://x.com/a%2F..%2Fb",
	"net:https://x.com/%",
	"net:*",
	"clipboard",
	"clipboard:x",
	"plugin:acme.sheets#render",
	"plugin:acme#*",
	"env:A_*",
	"kv:a*b*c",
	"secret:*",
	"process:/usr/bin/../bin/git",
	"process:git",
	":",
	"::::",
	"",
}

// FuzzParse checks that ParseWith never panics, returns only *ParseError,
// and that whatever it accepts round-trips to an Equal, self-containing
// pattern.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkParsed(t, s)
	})
}

// FuzzMatch checks Match and Contains on arbitrary pattern/name pairs: no
// panic, Match agrees with MatchPath for filesystem names, and a name
// matched by a pattern q contained in p is matched by p.
func FuzzMatch(f *testing.F) {
	f.Add("filesystem:/a/**/b", "filesystem:/a/x/b/c", "filesystem:/a/*/b")
	f.Add("net:https://*.x.com/v1", "net:https://a.x.com/v1/z?q", "net:https://a.x.com/v1/*")
	f.Add("kv:a*", "kv:abc", "kv:ab*")
	f.Fuzz(func(t *testing.T, ps, name, qs string) {
		p, err := ParseWith(ps, testOpts)
		if err != nil {
			return
		}
		m := p.Match(name)
		if p.Kind() == Filesystem && strings.HasPrefix(name, "filesystem:") && m != p.MatchPath(name[len("filesystem:"):]) {
			t.Fatalf("Match and MatchPath disagree on %q for %v", name, p)
		}
		q, err := ParseWith(qs, testOpts)
		if err != nil {
			return
		}
		if p.Contains(q) && q.Match(name) && !m {
			t.Fatalf("%v ⊇ %v claimed, but %q matches only the second", p, q, name)
		}
	})
}
