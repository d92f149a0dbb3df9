package resource

import (
	"path"
	"regexp"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// Generators draw from small alphabets on purpose: with few distinct
// segments, random pairs of patterns overlap and contain each other often
// enough for the properties to bite.

var (
	fsPatSegs  = []string{"a", "b", "ab", "*", "a*", "*b", "*a*", "**"}
	fsNameSegs = []string{"a", "b", "ab", "ba", "aab", "x"}
	globFills  = []string{"a", "b", "xy", "ab"}
)

func genFSPattern() *rapid.Generator[Pattern] {
	return rapid.Custom(func(t *rapid.T) Pattern {
		segs := rapid.SliceOfN(rapid.SampledFrom(fsPatSegs), 0, 5).Draw(t, "segs")
		p, err := ParseWith("filesystem:/"+strings.Join(segs, "/"), testOpts)
		if err != nil {
			t.Fatalf("generated pattern refused: %v", err)
		}
		return p
	})
}

func genFSName(t *rapid.T, label string) string {
	segs := rapid.SliceOfN(rapid.SampledFrom(fsNameSegs), 0, 5).Draw(t, label)
	return "/" + strings.Join(segs, "/")
}

// instantiatePath draws a concrete path that the canonical pattern path pat
// matches: each '*' filled, each "**" expanded, and a random subtree tail.
func instantiatePath(t *rapid.T, pat string) string {
	var out []string
	for i, seg := range splitPath(pat) {
		if seg == "**" {
			out = append(out, rapid.SliceOfN(rapid.SampledFrom(fsNameSegs), 0, 2).Draw(t, "starstar")...)
			continue
		}
		var b strings.Builder
		for j := 0; j < len(seg); j++ {
			if seg[j] == '*' {
				b.WriteString(rapid.SampledFrom(append([]string{""}, globFills...)).Draw(t, "fill"))
			} else {
				b.WriteByte(seg[j])
			}
		}
		s := b.String()
		if s == "" {
			s = rapid.SampledFrom(globFills).Draw(t, "nonempty")
			if strings.Trim(seg, "*") != "" {
				t.Fatalf("segment %d %q filled to empty", i, seg)
			}
		}
		out = append(out, s)
	}
	out = append(out, rapid.SliceOfN(rapid.SampledFrom(fsNameSegs), 0, 2).Draw(t, "tail")...)
	return "/" + strings.Join(out, "/")
}

// weakenPath returns a pattern path that contains pat by construction: a
// truncation, a segment turned into '*' or "**", an inserted "**", or a
// character turned into '*'.
func weakenPath(t *rapid.T, pat string) string {
	segs := splitPath(pat)
	n := rapid.IntRange(1, 3).Draw(t, "steps")
	for ; n > 0; n-- {
		switch op := rapid.IntRange(0, 4).Draw(t, "op"); {
		case len(segs) == 0 || op == 0:
			segs = segs[:rapid.IntRange(0, len(segs)).Draw(t, "cut")]
		case op == 1:
			i := rapid.IntRange(0, len(segs)-1).Draw(t, "i")
			if segs[i] != "**" {
				segs[i] = "*"
			}
		case op == 2:
			i := rapid.IntRange(0, len(segs)).Draw(t, "i")
			segs = append(segs[:i], append([]string{"**"}, segs[i:]...)...)
		case op == 3:
			segs[rapid.IntRange(0, len(segs)-1).Draw(t, "i")] = "**"
		default:
			i := rapid.IntRange(0, len(segs)-1).Draw(t, "i")
			s := segs[i]
			j := rapid.IntRange(0, len(s)-1).Draw(t, "j")
			if s != "**" && s[j] != '*' && (j == 0 || s[j-1] != '*') && (j == len(s)-1 || s[j+1] != '*') {
				segs[i] = s[:j] + "*" + s[j+1:]
			}
		}
	}
	return "/" + strings.Join(segs, "/")
}

// pathRegexp is an independent oracle for matchPath, built from the rules in
// docs/resources.md.
func pathRegexp(pat string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for _, seg := range splitPath(pat) {
		if seg == "**" {
			b.WriteString("(?:/[^/]+)*")
			continue
		}
		b.WriteString("/")
		parts := strings.Split(seg, "*")
		for i, part := range parts {
			if i > 0 {
				b.WriteString("[^/]*")
			}
			b.WriteString(regexp.QuoteMeta(part))
		}
	}
	b.WriteString("(?:/.*)?$")
	return regexp.MustCompile(b.String())
}

// allNames enumerates every path over a tiny alphabet up to depth 4; a
// subset relation that fails for any of them is wrong.
var allNames = func() []string {
	names := []string{"/"}
	level := []string{""}
	for d := 0; d < 4; d++ {
		var next []string
		for _, pre := range level {
			for _, s := range []string{"a", "b", "ab"} {
				next = append(next, pre+"/"+s)
			}
		}
		names = append(names, next...)
		level = next
	}
	return names
}()

func TestPropMatchPathAgreesWithRegexp(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genFSPattern().Draw(t, "p")
		re := pathRegexp(p.body)
		x := genFSName(t, "x")
		want := re.MatchString(x)
		if x == "/" {
			want = p.body == "/" // segments are never empty, so '*' needs one
		}
		if got := p.MatchPath(x); got != want {
			t.Fatalf("%v.MatchPath(%q) = %v; regexp %s says %v", p, x, got, re, want)
		}
		y := instantiatePath(t, p.body)
		if !p.MatchPath(y) || !re.MatchString(y) {
			t.Fatalf("%v does not match its own instance %q", p, y)
		}
	})
}

func TestPropContainsReflexive(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genAnyPattern().Draw(t, "p")
		if !p.Contains(p) {
			t.Fatalf("%v does not contain itself", p)
		}
	})
}

// TestPropContainsSound: q ⊆ p implies every resource q matches, p matches.
// Checked two ways: against every enumerated small path, and against paths
// drawn from q itself (which reach any depth).
func TestPropContainsSound(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		q := genFSPattern().Draw(t, "q")
		var p Pattern
		if rapid.Bool().Draw(t, "related") {
			p = mp(t, "filesystem:"+weakenPath(t, q.body))
			if !p.Contains(q) {
				t.Fatalf("%v does not contain its weakening source %v", p, q)
			}
		} else {
			p = genFSPattern().Draw(t, "p")
		}
		if p.lit && p.Contains(q) != coverPath(p.body, q.body) {
			t.Fatalf("literal fast path disagrees with coverPath on %v ⊇ %v", p, q)
		}
		if !p.Contains(q) {
			return
		}
		for _, x := range allNames {
			if q.MatchPath(x) && !p.MatchPath(x) {
				t.Fatalf("%v ⊇ %v claimed, but %q matches only the second", p, q, x)
			}
		}
		for i := 0; i < 8; i++ {
			x := instantiatePath(t, q.body)
			if !q.MatchPath(x) {
				t.Fatalf("generator: %v does not match %q", q, x)
			}
			if !p.MatchPath(x) {
				t.Fatalf("%v ⊇ %v claimed, but %q matches only the second", p, q, x)
			}
		}
	})
}

func TestPropContainsTransitive(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := genFSPattern().Draw(t, "r")
		q := mp(t, "filesystem:"+weakenPath(t, r.body))
		p := mp(t, "filesystem:"+weakenPath(t, q.body))
		if !p.Contains(q) || !q.Contains(r) || !p.Contains(r) {
			t.Fatalf("chain %v ⊇ %v ⊇ %v: %v %v %v", p, q, r, p.Contains(q), q.Contains(r), p.Contains(r))
		}
		// And for unrelated triples: whenever both links hold, so does the whole.
		a, b, c := genFSPattern().Draw(t, "a"), genFSPattern().Draw(t, "b"), genFSPattern().Draw(t, "c")
		if a.Contains(b) && b.Contains(c) && !a.Contains(c) {
			t.Fatalf("not transitive: %v ⊇ %v ⊇ %v", a, b, c)
		}
	})
}

// TestPropNoEscape: a path built from a pattern's Base with ".." and "."
// segments, once cleaned, is matched only if it is inside Base; the raw,
// unclean path is never matched.
func TestPropNoEscape(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		lit := rapid.SliceOfN(rapid.SampledFrom([]string{"home", "u", "docs"}), 1, 3).Draw(t, "base")
		rest := rapid.SliceOfN(rapid.SampledFrom(fsPatSegs), 0, 2).Draw(t, "rest")
		p := mp(t, "filesystem:/"+strings.Join(append(lit, rest...), "/"))
		base := p.Base()
		tail := rapid.SliceOfN(rapid.SampledFrom([]string{"..", ".", "a", "b", "", "ab"}), 1, 6).Draw(t, "tail")
		raw := base + "/" + strings.Join(tail, "/")
		clean := path.Clean(raw)
		if p.MatchPath(clean) && clean != base && !strings.HasPrefix(clean, base+"/") {
			t.Fatalf("%v matched %q (from %q), outside its base %q", p, clean, raw, base)
		}
		if raw != clean && (p.MatchPath(raw) || p.Match("filesystem:"+raw)) {
			t.Fatalf("%v matched unclean %q", p, raw)
		}
	})
}

var (
	netHosts     = []string{"a.com", "b.a.com", "c.b.a.com", "*.a.com", "*.b.a.com", "*", "10.0.0.1", "[::1]"}
	netConcrete  = []string{"a.com", "b.a.com", "c.b.a.com", "z.a.com", "x.y.a.com", "10.0.0.1", "[::1]", "other.org"}
	netSchemes   = []string{"http", "https"}
	netPorts     = []string{"", ":8080"}
	netQueryTail = []string{"", "?q=1", "#f", "/"}
)

func genNetPattern() *rapid.Generator[Pattern] {
	return rapid.Custom(func(t *rapid.T) Pattern {
		if rapid.IntRange(0, 20).Draw(t, "any") == 0 {
			return mp(t, "net:*")
		}
		segs := rapid.SliceOfN(rapid.SampledFrom(fsPatSegs), 0, 3).Draw(t, "segs")
		s := "net:" + rapid.SampledFrom(netSchemes).Draw(t, "scheme") + "://" + rapid.SampledFrom(netHosts).Draw(t, "host") +
			rapid.SampledFrom(netPorts).Draw(t, "port") + "/" + strings.Join(segs, "/")
		return mp(t, s)
	})
}

// instantiateNet draws a concrete URL name that q matches.
func instantiateNet(t *rapid.T, q Pattern) string {
	if q.any {
		return "net:https://" + rapid.SampledFrom(netConcrete).Draw(t, "h") + "/x"
	}
	h := q.host
	switch {
	case h == "*":
		h = rapid.SampledFrom(netConcrete).Draw(t, "h")
	case strings.HasPrefix(h, "*."):
		h = rapid.SampledFrom([]string{"z", "y.x"}).Draw(t, "label") + h[1:]
	}
	port := ""
	if q.port != defaultPorts[q.scheme] {
		port = ":" + q.port
	}
	p := instantiatePath(t, q.body)
	if p == "/" {
		p = ""
	}
	return "net:" + q.scheme + "://" + h + port + p + rapid.SampledFrom(netQueryTail).Draw(t, "qt")
}

func TestPropNetContainsSound(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p, q := genNetPattern().Draw(t, "p"), genNetPattern().Draw(t, "q")
		if !p.Contains(p) {
			t.Fatalf("%v not reflexive", p)
		}
		for i := 0; i < 4; i++ {
			x := instantiateNet(t, q)
			if !q.Match(x) {
				t.Fatalf("generator: %v does not match %q", q, x)
			}
			if p.Contains(q) && !p.Match(x) {
				t.Fatalf("%v ⊇ %v claimed, but %q matches only the second", p, q, x)
			}
		}
	})
}

// Flat globs (kv, secret, env): '*' matches any run of characters.
func TestPropFlatGlobSound(t *testing.T) {
	var names []string
	for n := 1; n <= 5; n++ {
		for i := 0; i < 1<<n; i++ {
			var b strings.Builder
			for j := 0; j < n; j++ {
				b.WriteByte("ab"[i>>j&1])
			}
			names = append(names, b.String())
		}
	}
	gen := rapid.Custom(func(t *rapid.T) Pattern {
		s := rapid.StringMatching(`[ab*]{1,5}`).Filter(func(s string) bool { return !strings.Contains(s, "**") }).Draw(t, "glob")
		return mp(t, "kv:"+s)
	})
	rapid.Check(t, func(t *rapid.T) {
		p, q := gen.Draw(t, "p"), gen.Draw(t, "q")
		re := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(p.body), `\*`, ".*") + "$")
		for _, x := range names {
			if p.Match("kv:"+x) != re.MatchString(x) {
				t.Fatalf("%v.Match(%q) disagrees with %s", p, x, re)
			}
			if p.Contains(q) && q.Match("kv:"+x) && !p.Match("kv:"+x) {
				t.Fatalf("%v ⊇ %v claimed, but %q matches only the second", p, q, x)
			}
		}
	})
}

// genAnyPattern draws valid patterns of every kind.
func genAnyPattern() *rapid.Generator[Pattern] {
	return rapid.OneOf(
		genFSPattern(),
		genNetPattern(),
		rapid.Custom(func(t *rapid.T) Pattern {
			return mp(t, rapid.SampledFrom([]string{
				"clipboard", "clipboard:*", "plugin:*", "plugin:a#b", "plugin:a.b#*", "env:*", "env:A", "env:A_*",
				"kv:*", "kv:a*b", "secret:*", "secret:x/y", "process:*", "process:git", "process:/usr/bin/git",
			}).Draw(t, "lit"))
		}),
	)
}

// TestPropParseNeverPanics feeds arbitrary text, and text that looks like
// patterns, to ParseWith; whatever parses must round-trip and contain itself.
func TestPropParseNeverPanics(t *testing.T) {
	kinds := []string{"filesystem:", "net:", "net:https://", "plugin:", "env:", "kv:", "secret:", "process:", "clipboard", ""}
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.SampledFrom(kinds).Draw(t, "kind") + rapid.String().Draw(t, "body")
		checkParsed(t, s)
	})
}

func checkParsed(t interface{ Fatalf(string, ...any) }, s string) {
	p, err := ParseWith(s, testOpts)
	if err != nil {
		if _, ok := err.(*ParseError); !ok {
			t.Fatalf("ParseWith(%q) returned %T, want *ParseError", s, err)
		}
		return
	}
	q, err := ParseWith(p.String(), Options{Home: "/nowhere"})
	if err != nil || !q.Equal(p) {
		t.Fatalf("round trip %q -> %q: %v", s, p.String(), err)
	}
	if q.String() != p.String() {
		t.Fatalf("canonical form not stable: %q -> %q", p.String(), q.String())
	}
	if !p.Contains(p) {
		t.Fatalf("%q does not contain itself", p)
	}
	_ = p.MatchPath(p.Base())
	_ = p.Match(s)
	_, _ = p.Wildcard()
}
