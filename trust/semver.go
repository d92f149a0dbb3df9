package trust

import (
	"fmt"
	"strings"

	"golang.org/x/mod/semver"
)

// Range is a set of Semantic Versioning 2.0.0 versions, written as in npm's
// node-semver, the subset warden needs: comparators "=1.2.3", ">1.2.3",
// ">=1.2.3", "<1.2.3", "<=1.2.3" or a bare "1.2.3" (equal), joined by spaces
// (all must hold), and alternatives joined by "||" (any may hold). "*" is every
// version. Precedence is SemVer's (golang.org/x/mod/semver): pre-releases sort
// before their release, build metadata is ignored.
type Range struct {
	alts [][]comparator
	src  string
}

type comparator struct {
	op string // "=", ">", ">=", "<", "<="
	v  string // with "v" prefix for x/mod/semver
}

// ParseRange parses a version range.
func ParseRange(s string) (Range, error) {
	r := Range{src: s}
	if strings.TrimSpace(s) == "" {
		return r, fmt.Errorf("empty version range; use \"*\" for every version")
	}
	for _, alt := range strings.Split(s, "||") {
		fields := strings.Fields(alt)
		if len(fields) == 0 {
			return r, fmt.Errorf("version range %q has an empty alternative", s)
		}
		var cs []comparator
		for _, f := range fields {
			if f == "*" {
				cs = append(cs, comparator{op: "*"})
				continue
			}
			op := "="
			for _, p := range []string{">=", "<=", ">", "<", "="} {
				if strings.HasPrefix(f, p) {
					op, f = p, f[len(p):]
					break
				}
			}
			v := "v" + f
			if strings.HasPrefix(f, "v") || !semver.IsValid(v) || semver.Canonical(v) != strings.SplitN(v, "+", 2)[0] {
				return r, fmt.Errorf("version range %q: %q is not a full semantic version like 1.2.3", s, f)
			}
			cs = append(cs, comparator{op: op, v: v})
		}
		r.alts = append(r.alts, cs)
	}
	return r, nil
}

// Contains reports whether version (without "v") is in r. A string that is
// not a semantic version is in no range but "*".
func (r Range) Contains(version string) bool {
	v := "v" + version
	valid := semver.IsValid(v) && !strings.HasPrefix(version, "v")
	for _, alt := range r.alts {
		ok := true
		for _, c := range alt {
			if c.op == "*" {
				continue
			}
			if !valid {
				ok = false
				break
			}
			cmp := semver.Compare(v, c.v)
			switch c.op {
			case "=":
				ok = cmp == 0
			case ">":
				ok = cmp > 0
			case ">=":
				ok = cmp >= 0
			case "<":
				ok = cmp < 0
			case "<=":
				ok = cmp <= 0
			}
			if !ok {
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// String returns the range as written.
func (r Range) String() string { return r.src }
