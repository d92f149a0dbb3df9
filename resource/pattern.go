package resource

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Pattern is a parsed, canonical resource pattern. The zero Pattern matches
// nothing and contains nothing. A Pattern is immutable: copy it freely and
// use it from many goroutines. Compare patterns with Equal, not ==, because
// a Pattern also remembers facts about the home directory it was parsed with.
type Pattern struct {
	kind  Kind
	canon string // the full canonical text, "kind:body" (or "clipboard")
	body  string // canonical body: path, glob, plugin ID, process target
	any   bool   // matches every resource of its kind
	base  string // see Base
	wild  string // reason the pattern is too broad, "" if it is not
	lit   bool   // filesystem and net: the path has no wildcard

	// net only
	scheme, host, port string
	// plugin only
	tool string
}

// Options configures parsing. The zero value is ready to use.
type Options struct {
	// Home replaces a leading "~" in filesystem patterns. Empty means
	// os.UserHomeDir(). It must be an absolute path without '*'.
	Home string
}

// Parse parses s with the zero Options. See ParseWith.
func Parse(s string) (Pattern, error) { return ParseWith(s, Options{}) }

// MustParse is Parse for constants and tests: it panics on error.
func MustParse(s string) Pattern {
	p, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return p
}

// ParseWith parses and normalises the resource pattern s. Every failure is a
// *ParseError naming the byte offset and the rule broken; see
// docs/resources.md for the grammar of each kind.
func ParseWith(s string, o Options) (Pattern, error) {
	if err := checkText(s); err != nil {
		return Pattern{}, err
	}
	if !norm.NFC.IsNormalString(s) {
		s = norm.NFC.String(s)
	}
	kindText, body, hasBody := strings.Cut(s, ":")
	k, err := ParseKind(kindText)
	if err != nil {
		return Pattern{}, perr(s, 0, ErrUnknownKind, "unknown resource kind %q; valid kinds are %s", kindText, kindList())
	}
	off := len(kindText) + 1
	if !hasBody && k != Clipboard {
		return Pattern{}, perr(s, len(s), ErrSyntax, "missing ':' and body after %q; write %s:...", kindText, kindText)
	}
	if hasBody && body == "" {
		return Pattern{}, perr(s, off, ErrSyntax, "empty body after %q", kindText+":")
	}
	p, err := parseBody(s, k, off, body, hasBody, o)
	if err == nil && len(p.canon) > MaxPatternLen {
		// "~" expansion and percent-encoding can lengthen a pattern; the
		// canonical form must itself parse, so it obeys the same cap.
		return Pattern{}, perr(s, 0, ErrTooLong, "the canonical form is %d bytes long; the limit is %d", len(p.canon), MaxPatternLen)
	}
	return p, err
}

func parseBody(s string, k Kind, off int, body string, hasBody bool, o Options) (Pattern, error) {
	kindText := string(k)
	switch k {
	case Filesystem:
		return parseFilesystem(s, off, body, o)
	case Net:
		return parseNet(s, off, body)
	case Clipboard:
		if hasBody && body != "*" {
			return Pattern{}, perr(s, off, ErrSyntax, `clipboard has a single resource; write "clipboard" (or "clipboard:*")`)
		}
		return Pattern{kind: Clipboard, canon: "clipboard", any: true}, nil
	case Env:
		return parseEnv(s, off, body)
	case Process:
		return parseProcess(s, off, body)
	case Plugin:
		return parsePlugin(s, off, body)
	case KV:
		return parseKV(s, off, body)
	case Secret:
		return parseSecret(s, off, body)
	}
	return Pattern{}, perr(s, 0, ErrUnknownKind, "unknown resource kind %q", kindText)
}

// checkText applies the rules every pattern and name shares: bounded length,
// valid UTF-8, no control characters (C0, DEL, C1), no bidirectional
// formatting characters (they make text display differently from what it
// is), and no white space at either end.
func checkText(s string) *ParseError {
	if len(s) > MaxPatternLen {
		return perr(s, MaxPatternLen, ErrTooLong, "pattern is %d bytes long; the limit is %d", len(s), MaxPatternLen)
	}
	if s == "" {
		return perr(s, 0, ErrSyntax, "empty pattern; write kind:body, e.g. filesystem:~/Documents")
	}
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			return perr(s, i, ErrEncoding, "invalid UTF-8 byte 0x%02x", s[i])
		case r == 0:
			return perr(s, i, ErrEncoding, "NUL byte")
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
			return perr(s, i, ErrEncoding, "control character %U", r)
		case r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			return perr(s, i, ErrEncoding, "bidirectional formatting character %U", r)
		}
	}
	if r, _ := utf8.DecodeRuneInString(s); unicode.IsSpace(r) {
		return perr(s, 0, ErrEncoding, "leading white space")
	}
	if r, n := utf8.DecodeLastRuneInString(s); unicode.IsSpace(r) {
		return perr(s, len(s)-n, ErrEncoding, "trailing white space")
	}
	return nil
}

// Kind returns the pattern's kind; "" for the zero Pattern.
func (p Pattern) Kind() Kind { return p.kind }

// String returns the canonical text of p. ParseWith(p.String(), o) gives a
// pattern Equal to p for any o, because "~" is already expanded.
func (p Pattern) String() string { return p.canon }

// Equal reports whether p and q are the same pattern after normalisation.
func (p Pattern) Equal(q Pattern) bool { return p.kind == q.kind && p.canon == q.canon }

// IsZero reports whether p is the zero Pattern.
func (p Pattern) IsZero() bool { return p.kind == "" }

// Base returns, for a filesystem pattern, the longest leading directory path
// with no wildcard (what a sandbox mounts or opens with os.Root); for a
// literal path the path itself. For a net pattern it returns
// scheme://host:port with the port always explicit (the host may still be
// "*" or "*.suffix"); for net:* and every other kind, "".
func (p Pattern) Base() string { return p.base }

// Wildcard reports whether p is too broad to grant without a second look,
// and why: a filesystem pattern whose literal base is the root, the home
// directory or an ancestor of it; a net pattern for any host or for every
// host under a top-level domain; env:*, secret:*, process:*, plugin:*, kv:*.
// The reason is a bare clause that reads after the pattern ("matches any
// host") and gives no advice, so that each caller can add its own.
func (p Pattern) Wildcard() (bool, string) { return p.wild != "", p.wild }

// Contains reports whether q lies within p: every concrete resource that q
// matches, p matches too. Patterns of different kinds never contain each
// other, and the zero Pattern contains nothing. A true answer is always
// right; for some pairs of globs within one segment the answer may be a
// conservative false (see docs/resources.md, "Contains").
func (p Pattern) Contains(q Pattern) bool {
	if p.kind == "" || p.kind != q.kind {
		return false
	}
	if p.any {
		return true
	}
	if q.any {
		return false
	}
	switch p.kind {
	case Filesystem:
		return pathContains(p.body, p.lit, q.body)
	case Net:
		return netContains(p, q)
	case Plugin:
		return p.body == q.body && (p.tool == "*" || p.tool == q.tool)
	case Process:
		return p.body == q.body
	case Env, KV, Secret:
		return globCovers(p.body, q.body)
	}
	return false
}

// Match reports whether the concrete resource name is matched by p. A name
// is written like a pattern without wildcards: "filesystem:/home/u/a.csv",
// "net:https://api.x.com/v1/items?q=1", "plugin:acme.sheets#render",
// "env:HOME", "kv:mykey", "secret:github-token", "process:/usr/bin/git",
// "process:git", "clipboard". A '*' in a name is an ordinary character. A
// name that is malformed, or not in canonical form where the kind demands it
// (a filesystem path that is not clean, a URL path with "." or ".." segments),
// matches nothing: Match fails closed.
func (p Pattern) Match(name string) bool {
	if p.kind == "" {
		return false
	}
	kindText, body, hasBody := strings.Cut(name, ":")
	if Kind(kindText) != p.kind {
		return false
	}
	if p.kind == Clipboard {
		return !hasBody
	}
	if !hasBody || body == "" {
		return false
	}
	switch p.kind {
	case Filesystem:
		return p.MatchPath(body)
	case Net:
		return netMatch(p, body)
	case Plugin:
		id, tool, ok := strings.Cut(body, "#")
		if !ok || !validPluginID(id) || !ValidToolName(tool) {
			return false
		}
		return p.any || (p.body == id && (p.tool == "*" || p.tool == tool))
	case Process:
		if !validProcessTarget(body) {
			return false
		}
		return p.any || p.body == body
	case Env:
		return validEnvName(body) && globMatch(p.body, body)
	case KV:
		return validKVKey(body) && globMatch(p.body, body)
	case Secret:
		return validSecretName(body) && globMatch(p.body, body)
	}
	return false
}

// MatchPath is the filesystem fast path: it reports whether the clean
// absolute host path abs (cleaned, with symlinks already resolved by the
// caller) is matched by p. A path that is not clean matches nothing. It does
// not allocate.
func (p Pattern) MatchPath(abs string) bool {
	if p.kind != Filesystem || !isCleanAbs(abs) {
		return false
	}
	if p.lit {
		return underPath(p.body, abs)
	}
	return matchPath(p.body, abs)
}
