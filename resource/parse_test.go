package resource

import (
	"errors"
	"strings"
	"testing"
)

var testOpts = Options{Home: "/home/u"}

// fataler is what both *testing.T and *rapid.T offer.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

func mp(t fataler, s string) Pattern {
	t.Helper()
	p, err := ParseWith(s, testOpts)
	if err != nil {
		t.Fatalf("ParseWith(%q): %v", s, err)
	}
	return p
}

// TestParseValid pins the canonical form, Base and Wildcard of every rule in
// docs/resources.md that accepts input.
func TestParseValid(t *testing.T) {
	cases := []struct {
		in, canon, base string
		wild            bool
	}{
		// filesystem: home expansion, cleaning, trailing "**" and slashes
		{"filesystem:~/Documents/Spreadsheets", "filesystem:/home/u/Documents/Spreadsheets", "/home/u/Documents/Spreadsheets", false},
		{"filesystem:~/Documents/Spreadsheets/", "filesystem:/home/u/Documents/Spreadsheets", "/home/u/Documents/Spreadsheets", false},
		{"filesystem:~/Documents/Spreadsheets/**", "filesystem:/home/u/Documents/Spreadsheets", "/home/u/Documents/Spreadsheets", false},
		{"filesystem:/a//b/./c/", "filesystem:/a/b/c", "/a/b/c", false},
		{"filesystem:/a/b/../c", "filesystem:/a/c", "/a/c", false},
		{"filesystem:/a/..", "filesystem:/", "/", true},
		{"filesystem:~/../v", "filesystem:/home/v", "/home/v", false},
		{"filesystem:/a/*.csv", "filesystem:/a/*.csv", "/a", false},
		{"filesystem:/a/**/b/*.csv", "filesystem:/a/**/b/*.csv", "/a", false},
		{"filesystem:/a/**/**/b", "filesystem:/a/**/b", "/a", false},
		{"filesystem:/a/**/**", "filesystem:/a", "/a", false},
		{"filesystem:/a/x?[1]{2}\\", "filesystem:/a/x?[1]{2}\\", "/a/x?[1]{2}\\", false},
		{"filesystem:/a/~b", "filesystem:/a/~b", "/a/~b", false},
		{"filesystem:/Données/é", "filesystem:/Données/é", "/Données/é", false},
		{"filesystem:/Donne\u0301es", "filesystem:/Donn\u00e9es", "/Donn\u00e9es", false}, // NFD in, NFC out
		{"filesystem:/ä b/c", "filesystem:/ä b/c", "/ä b/c", false},
		// filesystem wildcards
		{"filesystem:/", "filesystem:/", "/", true},
		{"filesystem:/**", "filesystem:/", "/", true},
		{"filesystem:/*", "filesystem:/*", "/", true},
		{"filesystem:/*/x", "filesystem:/*/x", "/", true},
		{"filesystem:~", "filesystem:/home/u", "/home/u", true},
		{"filesystem:~/", "filesystem:/home/u", "/home/u", true},
		{"filesystem:~/**", "filesystem:/home/u", "/home/u", true},
		{"filesystem:~/*", "filesystem:/home/u/*", "/home/u", true},
		{"filesystem:/home", "filesystem:/home", "/home", true},
		{"filesystem:/home/*/Documents", "filesystem:/home/*/Documents", "/home", true},
		{"filesystem:/home/u2", "filesystem:/home/u2", "/home/u2", false},
		{"filesystem:/home/u/.ssh", "filesystem:/home/u/.ssh", "/home/u/.ssh", false},
		// net
		{"net:https://api.example.com", "net:https://api.example.com", "https://api.example.com:443", false},
		{"net:https://api.example.com/", "net:https://api.example.com", "https://api.example.com:443", false},
		{"net:HTTPS://API.Example.COM:443/v1/", "net:https://api.example.com/v1", "https://api.example.com:443", false},
		{"net:https://api.example.com.:8443/v1", "net:https://api.example.com:8443/v1", "https://api.example.com:8443", false},
		{"net:http://x.com:80", "net:http://x.com", "http://x.com:80", false},
		{"net:ws://x.com", "net:ws://x.com", "ws://x.com:80", false},
		{"net:wss://x.com:443/socket", "net:wss://x.com/socket", "wss://x.com:443", false},
		{"net:https://x.com/v1/../v2/./items", "net:https://x.com/v2/items", "https://x.com:443", false},
		{"net:https://x.com/%7euser/%41%2a/a b", "net:https://x.com/~user/A%2A/a%20b", "https://x.com:443", false},
		{"net:https://x.com/v1/*/items/**", "net:https://x.com/v1/*/items", "https://x.com:443", false},
		{"net:https://bücher.de/ü", "net:https://xn--bcher-kva.de/%C3%BC", "https://xn--bcher-kva.de:443", false},
		{"net:https://XN--BCHER-KVA.de", "net:https://xn--bcher-kva.de", "https://xn--bcher-kva.de:443", false},
		{"net:https://*.example.com", "net:https://*.example.com", "https://*.example.com:443", false},
		{"net:https://*.Bücher.de", "net:https://*.xn--bcher-kva.de", "https://*.xn--bcher-kva.de:443", false},
		{"net:http://127.0.0.1:8080", "net:http://127.0.0.1:8080", "http://127.0.0.1:8080", false},
		{"net:http://１２７.0.0.1", "net:http://127.0.0.1", "http://127.0.0.1:80", false},
		{"net:http://[2001:DB8:0::1]:9000/x", "net:http://[2001:db8::1]:9000/x", "http://[2001:db8::1]:9000", false},
		{"net:http://[::ffff:10.0.0.1]", "net:http://10.0.0.1", "http://10.0.0.1:80", false},
		{"net:https://*", "net:https://*", "https://*:443", true},
		{"net:https://*:8443/v1", "net:https://*:8443/v1", "https://*:8443", true},
		{"net:https://*.com", "net:https://*.com", "https://*.com:443", true},
		{"net:*", "net:*", "", true},
		// clipboard
		{"clipboard", "clipboard", "", false},
		{"clipboard:*", "clipboard", "", false},
		// plugin
		{"plugin:acme.sheets#render", "plugin:acme.sheets#render", "", false},
		{"plugin:acme.sheets#*", "plugin:acme.sheets#*", "", false},
		{"plugin:a#Get.Thing-1_x", "plugin:a#Get.Thing-1_x", "", false},
		{"plugin:*", "plugin:*", "", true},
		// env
		{"env:HOME", "env:HOME", "", false},
		{"env:MYAPP_*", "env:MYAPP_*", "", false},
		{"env:*", "env:*", "", true},
		// kv
		{"kv:mykey", "kv:mykey", "", false},
		{"kv:cache/*", "kv:cache/*", "", false},
		{"kv:a*b*c", "kv:a*b*c", "", false},
		{"kv:ключ", "kv:ключ", "", false},
		{"kv:*", "kv:*", "", true},
		// secret
		{"secret:github-token", "secret:github-token", "", false},
		{"secret:github/*", "secret:github/*", "", false},
		{"secret:*", "secret:*", "", true},
		// process
		{"process:git", "process:git", "", false},
		{"process:/usr/bin/git", "process:/usr/bin/git", "", false},
		{"process:/usr//bin/./../bin/git", "process:/usr/bin/git", "", false},
		{"process:*", "process:*", "", true},
	}
	for _, c := range cases {
		p, err := ParseWith(c.in, testOpts)
		if err != nil {
			t.Errorf("ParseWith(%q): %v", c.in, err)
			continue
		}
		if p.String() != c.canon {
			t.Errorf("ParseWith(%q).String() = %q, want %q", c.in, p.String(), c.canon)
		}
		if p.Base() != c.base {
			t.Errorf("ParseWith(%q).Base() = %q, want %q", c.in, p.Base(), c.base)
		}
		if w, why := p.Wildcard(); w != c.wild || w != (why != "") {
			t.Errorf("ParseWith(%q).Wildcard() = %v, %q; want %v", c.in, w, why, c.wild)
		}
		q, err := ParseWith(p.String(), Options{Home: "/elsewhere"})
		if err != nil || !q.Equal(p) {
			t.Errorf("round trip of %q via %q: %v, %v", c.in, p.String(), q, err)
		}
		if p.IsZero() || p.Kind() == "" {
			t.Errorf("ParseWith(%q) is zero", c.in)
		}
	}
}

// TestParseInvalid pins every refusal: the sentinel, where it points, and a
// word of the reason.
func TestParseInvalid(t *testing.T) {
	cases := []struct {
		in     string
		err    error
		offset int
		reason string
	}{
		{"", ErrSyntax, 0, "empty pattern"},
		{"bogus:x", ErrUnknownKind, 0, "valid kinds are clipboard, env, filesystem"},
		{"Filesystem:/a", ErrUnknownKind, 0, "unknown resource kind"},
		{"filesystem", ErrSyntax, 10, "missing ':'"},
		{"filesystem:", ErrSyntax, 11, "empty body"},
		{" filesystem:/a", ErrEncoding, 0, "leading white space"},
		{"filesystem:/a ", ErrEncoding, 13, "trailing white space"},
		{"filesystem:/a\x00b", ErrEncoding, 13, "NUL"},
		{"filesystem:/a\nb", ErrEncoding, 13, "control character"},
		{"filesystem:/a\x7f", ErrEncoding, 13, "control character"},
		{"filesystem:/a\u0085", ErrEncoding, 13, "control character"},
		{"filesystem:/a\xffb", ErrEncoding, 13, "invalid UTF-8"},
		{"filesystem:/a\xc3", ErrEncoding, 13, "invalid UTF-8"},
		{"filesystem:/a\u202egpj.exe", ErrEncoding, 13, "bidirectional"},
		{"filesystem:/" + strings.Repeat("a", MaxPatternLen), ErrTooLong, MaxPatternLen, "limit is 4096"},
		{"filesystem:a/b", ErrSyntax, 11, "relative path"},
		{"filesystem:./a", ErrSyntax, 11, "relative path"},
		{"filesystem:*/a", ErrSyntax, 11, "relative path"},
		{"filesystem:~root/x", ErrSyntax, 11, "~user"},
		{"filesystem:/..", ErrEscapesRoot, 12, "climbs above"},
		{"filesystem:/a/../../etc", ErrEscapesRoot, 17, "climbs above"},
		{"filesystem:~/../../../..", ErrEscapesRoot, 19, "climbs above"},
		{"filesystem:/a/*/../b", ErrSyntax, 16, "after a wildcard"},
		{"filesystem:/a/**/..", ErrSyntax, 17, "after a wildcard"},
		{"filesystem:/a/b**", ErrSyntax, 15, "whole path segment"},
		{"filesystem:/* /**", ErrSyntax, 13, "ends with white space"},
		{"filesystem:/a/ b", ErrSyntax, 14, "starts with white space"},
		{"filesystem:/a　/b", ErrSyntax, 13, "ends with white space"},
		{"filesystem:/a/***", ErrSyntax, 14, "whole path segment"},
		{"net:api.example.com", ErrSyntax, 4, "SCHEME://HOST"},
		{"net:ftp://x.com", ErrSyntax, 4, "not allowed"},
		{"net:*://x.com", ErrSyntax, 4, "not allowed"},
		{"net:file:///etc/passwd", ErrSyntax, 4, "not allowed"},
		{"net:https://", ErrSyntax, 12, "empty host"},
		{"net:https://x.com?q=1", ErrSyntax, 17, "query or fragment"},
		{"net:https://x.com/a#frag", ErrSyntax, 19, "query or fragment"},
		{"net:https://user:pw@x.com", ErrSyntax, 19, "user information"},
		{"net:https://x.com:0", ErrSyntax, 18, "port"},
		{"net:https://x.com:65536", ErrSyntax, 18, "port"},
		{"net:https://x.com:0443", ErrSyntax, 18, "leading zeros"},
		{"net:https://x.com:", ErrSyntax, 18, "port"},
		{"net:https://x.com:*", ErrSyntax, 18, "port"},
		{"net:https://a.*.com", ErrSyntax, 12, `"*" is allowed only`},
		{"net:https://*x.com", ErrSyntax, 12, `"*" is allowed only`},
		{"net:https://*.*.com", ErrSyntax, 12, `"*" is allowed only`},
		{"net:https://*.10.0.0.1", ErrSyntax, 12, "not an IP address"},
		{"net:http://127.1", ErrSyntax, 11, "looks like an IPv4"},
		{"net:http://0x7f.0.0.1", ErrSyntax, 11, "looks like an IPv4"},
		{"net:http://2130706433", ErrSyntax, 11, "looks like an IPv4"},
		{"net:http://010.0.0.1", ErrSyntax, 11, "looks like an IPv4"},
		{"net:http://::1", ErrSyntax, 11, "brackets"},
		{"net:http://[::1", ErrSyntax, 11, "closing"},
		{"net:http://[fe80::1%25eth0]", ErrSyntax, 11, "zones"},
		{"net:http://[1.2.3.4]", ErrSyntax, 11, "IPv6"},
		{"net:http://a..b", ErrSyntax, 11, "empty label"},
		{"net:http://under_score.com", ErrSyntax, 11, "not a valid domain"},
		{"net:http://" + strings.Repeat("a", 64) + ".com", ErrSyntax, 11, "63"},
		{"net:https://x.com/a/../..", ErrEscapesRoot, 23, "climbs above"},
		{"net:https://x.com/%2e%2e", ErrEscapesRoot, 18, "climbs above"},
		{"net:https://x.com/a%2Fb", ErrSyntax, 17, "encoded %2F"},
		{"net:https://x.com/a%5cb", ErrSyntax, 17, "encoded %5C"},
		{"net:https://x.com/a\\b", ErrSyntax, 17, "encoded %5C"},
		{"net:https://x.com/a%00", ErrSyntax, 17, "encoded %00"},
		{"net:https://x.com/a%zz", ErrSyntax, 19, "two hex digits"},
		{"net:https://x.com/a%4", ErrSyntax, 19, "two hex digits"},
		{"net:https://x.com/a**", ErrSyntax, 19, "whole path segment"},
		{"clipboard:read", ErrSyntax, 10, "single resource"},
		{"plugin:acme", ErrSyntax, 11, "#TOOL"},
		{"plugin:Acme#x", ErrSyntax, 7, "plugin ID"},
		{"plugin:-acme#x", ErrSyntax, 7, "plugin ID"},
		{"plugin:*#x", ErrSyntax, 7, "plugin ID"},
		{"plugin:ac*#x", ErrSyntax, 7, "plugin ID"},
		{"plugin:acme#", ErrSyntax, 12, "tool name"},
		{"plugin:acme#a b", ErrSyntax, 12, "tool name"},
		{"plugin:acme#ren*", ErrSyntax, 12, "tool name"},
		{"plugin:acme#" + strings.Repeat("t", 129), ErrSyntax, 12, "tool name"},
		{"env:1X", ErrSyntax, 4, "environment variable"},
		{"env:A-B", ErrSyntax, 4, "environment variable"},
		{"env:*_KEY", ErrSyntax, 4, "only once, at the end"},
		{"env:A**", ErrSyntax, 5, "only once, at the end"},
		{"kv:a**", ErrSyntax, 4, `"**" is refused`},
		{"kv:" + strings.Repeat("k", 513), ErrSyntax, 515, "longer than 512"},
		{"secret:a b", ErrSyntax, 7, "secret name"},
		{"secret:a**", ErrSyntax, 8, `"**" is refused`},
		{"process:bin/git", ErrSyntax, 8, "neither an absolute path"},
		{"process:./git", ErrSyntax, 8, "neither an absolute path"},
		{"process:/usr/bin/*", ErrSyntax, 17, "no wildcards"},
		{"process:/", ErrSyntax, 8, "not an executable"},
		{"process:/..", ErrEscapesRoot, 9, "climbs above"},
	}
	for _, c := range cases {
		_, err := ParseWith(c.in, testOpts)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("ParseWith(%q) = %v; want *ParseError", c.in, err)
			continue
		}
		if !errors.Is(err, c.err) {
			t.Errorf("ParseWith(%q) error %v; want errors.Is %v", c.in, err, c.err)
		}
		if pe.Offset != c.offset {
			t.Errorf("ParseWith(%q) offset %d, want %d (%v)", c.in, pe.Offset, c.offset, err)
		}
		if !strings.Contains(pe.Reason, c.reason) {
			t.Errorf("ParseWith(%q) reason %q; want it to contain %q", c.in, pe.Reason, c.reason)
		}
		if !strings.Contains(err.Error(), "at byte") {
			t.Errorf("ParseWith(%q) error %q does not say where", c.in, err)
		}
	}
}

func TestParseHome(t *testing.T) {
	for _, home := range []string{"relative/home", "/home/*/x", "/home/u\x00"} {
		_, err := ParseWith("filesystem:~/x", Options{Home: home})
		if !errors.Is(err, ErrNoHome) {
			t.Errorf("home %q: %v; want ErrNoHome", home, err)
		}
	}
	p, err := ParseWith("filesystem:~/x", Options{Home: "/home//u/"})
	if err != nil || p.String() != "filesystem:/home/u/x" {
		t.Errorf("home with slashes: %v %v", p, err)
	}
	// With HOME unset and no Options.Home, "~" fails but absolute paths parse.
	t.Setenv("HOME", "")
	if _, err := Parse("filesystem:~/x"); !errors.Is(err, ErrNoHome) {
		t.Errorf("no home: %v", err)
	}
	if _, err := Parse("filesystem:/x"); err != nil {
		t.Errorf("absolute without home: %v", err)
	}
	t.Setenv("HOME", "/home/env")
	if p := MustParse("filesystem:~/x"); p.String() != "filesystem:/home/env/x" {
		t.Errorf("HOME not used: %v", p)
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParse of a bad pattern did not panic")
		}
	}()
	MustParse("bogus")
}

func TestZeroPattern(t *testing.T) {
	var z Pattern
	if !z.IsZero() || z.Kind() != "" || z.String() != "" || z.Base() != "" {
		t.Error("zero pattern is not empty")
	}
	if w, _ := z.Wildcard(); w {
		t.Error("zero pattern is a wildcard")
	}
	p := MustParse("filesystem:/")
	if z.Match("filesystem:/a") || z.MatchPath("/a") || z.Contains(p) || p.Contains(z) || z.Contains(z) {
		t.Error("zero pattern matched or contained something")
	}
	if !z.Equal(Pattern{}) || z.Equal(p) {
		t.Error("zero Equal")
	}
}

func TestParseErrorMessage(t *testing.T) {
	_, err := Parse("filesystem:/" + strings.Repeat("a", 200) + "/../../..")
	msg := err.Error()
	if len(msg) > 300 || !strings.Contains(msg, "...") || !strings.Contains(msg, "at byte 216") {
		t.Errorf("message not truncated or without offset: %s", msg)
	}
}

func TestParseCanonicalTooLong(t *testing.T) {
	// Percent-encoding triples a non-ASCII byte; the result would not
	// re-parse, so it is refused.
	_, err := Parse("net:https://x.com/" + strings.Repeat("ü", 1000))
	if !errors.Is(err, ErrTooLong) {
		t.Errorf("long canonical net pattern: %v", err)
	}
	_, err = ParseWith("filesystem:~/"+strings.Repeat("a", MaxPatternLen-14), Options{Home: "/home/user"})
	if !errors.Is(err, ErrTooLong) {
		t.Errorf("long expanded home pattern: %v", err)
	}
}
