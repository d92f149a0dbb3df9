package resource

import (
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// defaultPorts gives each allowed scheme its port. Canonical text omits a
// port equal to its scheme's default (as WHATWG URL serialisation does); the
// Pattern always holds the effective port, so ":443" and no port are equal.
var defaultPorts = map[string]string{"http": "80", "https": "443", "ws": "80", "wss": "443"}

// urlParts is a URL split and normalised the way both patterns and names
// need it. host may be "*" or "*.suffix" only for patterns.
type urlParts struct {
	scheme, host, port, path string
	hostOff, pathOff         int // offsets into the body, for errors
}

// parseNet parses net:* or net:SCHEME://HOST[:PORT][/PATH].
func parseNet(input string, off int, body string) (Pattern, error) {
	if body == "*" {
		return Pattern{kind: Net, canon: "net:*", any: true, wild: "matches every host on every scheme"}, nil
	}
	u, e := splitURL(body, true)
	if e != nil {
		return Pattern{}, perr(input, off+e.off, ErrSyntax, "%s", e.why)
	}
	segs, err := cleanPath(input, u.path, off+u.pathOff, nil)
	if err != nil {
		return Pattern{}, err
	}
	p := Pattern{kind: Net, scheme: u.scheme, host: u.host, port: u.port, body: joinPath(segs)}
	p.lit = literalBase(segs) == p.body
	p.base = u.scheme + "://" + u.host + ":" + u.port
	canon := "net:" + u.scheme + "://" + u.host
	if u.port != defaultPorts[u.scheme] {
		canon += ":" + u.port
	}
	if p.body != "/" {
		canon += p.body
	}
	p.canon = canon
	switch {
	case u.host == "*":
		p.wild = "matches any host"
	case strings.HasPrefix(u.host, "*.") && strings.IndexByte(u.host[2:], '.') < 0:
		p.wild = "matches every host under the top-level domain ." + u.host[2:]
	}
	return p, nil
}

type urlError struct {
	off int
	why string
}

// splitURL splits SCHEME://HOST[:PORT][PATH] and normalises each part. For a
// pattern, '?' and '#' are refused and host wildcards allowed; for a name,
// query and fragment are dropped and wildcards refused.
func splitURL(body string, pattern bool) (urlParts, *urlError) {
	var u urlParts
	i := strings.Index(body, "://")
	if i < 0 {
		return u, &urlError{0, `expected SCHEME://HOST, e.g. net:https://api.example.com/v1`}
	}
	u.scheme = strings.ToLower(body[:i])
	if _, ok := defaultPorts[u.scheme]; !ok {
		return u, &urlError{0, "scheme " + strconv.Quote(body[:i]) + " is not allowed; use http, https, ws or wss (or net:* for everything)"}
	}
	rest, restOff := body[i+3:], i+3
	if q := strings.IndexAny(rest, "?#"); q >= 0 {
		if pattern {
			return u, &urlError{restOff + q, "a net pattern cannot hold a query or fragment; it matches every query under its path"}
		}
		rest = rest[:q]
	}
	auth, path := rest, ""
	if s := strings.IndexByte(rest, '/'); s >= 0 {
		auth, path = rest[:s], rest[s:]
	}
	u.hostOff, u.pathOff = restOff, restOff+len(auth)
	if a := strings.IndexByte(auth, '@'); a >= 0 {
		return u, &urlError{restOff + a, "user information (user:password@) is not allowed; credentials never go in patterns"}
	}
	hostText, portText, hasPort := auth, "", false
	if strings.HasPrefix(auth, "[") {
		c := strings.IndexByte(auth, ']')
		if c < 0 {
			return u, &urlError{restOff, `IPv6 address without closing "]"`}
		}
		hostText = auth[:c+1]
		if after := auth[c+1:]; after != "" {
			if after[0] != ':' {
				return u, &urlError{restOff + c + 1, `expected ":PORT" or "/" after "]"`}
			}
			portText, hasPort = after[1:], true
		}
	} else if c := strings.LastIndexByte(auth, ':'); c >= 0 {
		hostText, portText, hasPort = auth[:c], auth[c+1:], true
	}
	u.port = defaultPorts[u.scheme]
	if hasPort {
		n, err := strconv.Atoi(portText)
		if err != nil || n < 1 || n > 65535 || portText[0] < '1' || portText[0] > '9' {
			return u, &urlError{restOff + len(hostText) + 1, "port " + strconv.Quote(portText) + " must be a decimal number from 1 to 65535 without leading zeros"}
		}
		u.port = strconv.Itoa(n)
	}
	host, why := normHost(hostText, pattern)
	if why != "" {
		return u, &urlError{restOff, why}
	}
	u.host = host
	if path == "" {
		path = "/"
	}
	norm, bad := normPercent(path)
	if bad >= 0 {
		return u, &urlError{u.pathOff + bad, `"%" must be followed by two hex digits`}
	}
	for _, enc := range []string{"%2F", "%5C", "%00"} {
		if k := strings.Index(norm, enc); k >= 0 {
			return u, &urlError{u.pathOff, "encoded " + enc + " in a path is refused: servers disagree on whether it separates segments"}
		}
	}
	u.path = norm
	return u, nil
}

// normHost lower-cases and IDNA-normalises a host (punycode is canonical),
// normalises IP literals, and for patterns accepts "*" and "*.suffix".
func normHost(h string, pattern bool) (string, string) {
	if h == "" {
		return "", "empty host"
	}
	if pattern && h == "*" {
		return "*", ""
	}
	if pattern && strings.HasPrefix(h, "*.") {
		s, why := normHost(h[2:], false)
		if why != "" {
			return "", why
		}
		if strings.HasPrefix(s, "[") || isIPv4(s) {
			return "", `"*." must be followed by a domain name, not an IP address`
		}
		return "*." + s, ""
	}
	if strings.HasPrefix(h, "[") {
		a, err := netip.ParseAddr(h[1 : len(h)-1])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", "invalid IPv6 address " + strconv.Quote(h) + " (zones are not allowed)"
		}
		if a.Is4In6() {
			return a.Unmap().String(), ""
		}
		return "[" + a.String() + "]", ""
	}
	if strings.IndexByte(h, '*') >= 0 {
		return "", `"*" is allowed only as the whole host or as the first label, as in *.example.com`
	}
	if strings.IndexByte(h, ':') >= 0 {
		return "", "an IPv6 address must be written in brackets, as in [2001:db8::1]"
	}
	h = strings.TrimSuffix(h, ".")
	a, err := idna.Lookup.ToASCII(h)
	if err != nil {
		return "", "host " + strconv.Quote(h) + " is not a valid domain name: " + err.Error()
	}
	if len(a) > 253 {
		return "", "host is longer than 253 bytes"
	}
	labels := strings.Split(a, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return "", "host " + strconv.Quote(h) + " has an empty label or one longer than 63 bytes"
		}
	}
	// WHATWG URL parsers read a host whose last label is a number as IPv4
	// ("127.1", "0x7f.1"); accept only the dotted-decimal form, so no pattern
	// names an address under a disguise.
	if last := labels[len(labels)-1]; isNumeric(last) {
		ip, err := netip.ParseAddr(a)
		if err != nil || !ip.Is4() {
			return "", "host " + strconv.Quote(h) + " looks like an IPv4 address but is not four decimal numbers without leading zeros"
		}
		return ip.String(), ""
	}
	return a, ""
}

func isNumeric(l string) bool {
	if strings.HasPrefix(l, "0x") || strings.HasPrefix(l, "0X") {
		return true
	}
	for i := 0; i < len(l); i++ {
		if l[i] < '0' || l[i] > '9' {
			return false
		}
	}
	return true
}

func isIPv4(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4()
}

// normPercent returns p with percent-encoding normalised (RFC 3986 6.2.2):
// encoded unreserved characters are decoded, other escapes upper-cased, and
// every byte outside unreserved, sub-delims, ':', '@' and '/' is encoded. It
// returns the offset of a malformed escape, or -1.
func normPercent(p string) (string, int) {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '%':
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return "", i
			}
			v := unhex(p[i+1])<<4 | unhex(p[i+2])
			if isUnreserved(v) {
				b.WriteByte(v)
			} else {
				b.WriteByte('%')
				b.WriteByte(hex[v>>4])
				b.WriteByte(hex[v&15])
			}
			i += 2
		case isUnreserved(c) || strings.IndexByte("!$&'()*+,;=:@/", c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String(), -1
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// netMatch reports whether the concrete URL body (after "net:") is matched
// by the net pattern p. The URL's path must already be clean: no empty, "."
// or ".." segments (a trailing "/" is allowed). Anything else fails closed.
func netMatch(p Pattern, body string) bool {
	u, e := splitURL(body, false)
	if e != nil {
		return false
	}
	path := u.path
	if len(path) > 1 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	if !isCleanAbs(path) {
		return false
	}
	if p.any {
		return true
	}
	return p.scheme == u.scheme && p.port == u.port && hostCovers(p.host, u.host) && (p.lit && underPath(p.body, path) || !p.lit && matchPath(p.body, path))
}

func netContains(p, q Pattern) bool {
	return p.scheme == q.scheme && p.port == q.port && hostCovers(p.host, q.host) && pathContains(p.body, p.lit, q.body)
}

// hostCovers reports whether host pattern ph matches every host qh matches.
// "*.s" matches hosts with one or more labels before ".s", never s itself.
func hostCovers(ph, qh string) bool {
	switch {
	case ph == "*":
		return true
	case qh == "*":
		return false
	case strings.HasPrefix(ph, "*."):
		s := ph[1:] // ".suffix"
		if strings.HasPrefix(qh, "*.") {
			return qh == ph || strings.HasSuffix(qh[1:], s)
		}
		return strings.HasSuffix(qh, s)
	}
	return ph == qh
}
