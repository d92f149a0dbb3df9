package resource

import "testing"

func TestTouches(t *testing.T) {
	for _, tc := range []struct {
		p, abs string
		want   bool
	}{
		// literal patterns: above, equal, below, beside
		{"filesystem:/a", "/a/b/c", true},
		{"filesystem:/a/b/c", "/a/b/c", true},
		{"filesystem:/a/b/c/d", "/a/b/c", true},
		{"filesystem:/a/x", "/a/b/c", false},
		{"filesystem:/a/bc", "/a/b", false},
		{"filesystem:/", "/a", true},
		// globs above the path
		{"filesystem:/a/*", "/a/b/c", true},
		{"filesystem:/*/b", "/a/b/c", true},
		{"filesystem:/*/x", "/a/b/c", false},
		{"filesystem:/**/c", "/a/b/c", true},
		{"filesystem:/**/z", "/a/b/c", true}, // /a/b/c/z
		{"filesystem:/a/**", "/a/b/c", true},
		{"filesystem:/a/*.d", "/a/b/c", false},
		{"filesystem:/a/b*", "/a/b/c", true},
		// globs reaching below the path
		{"filesystem:/a/b/c/*/keys", "/a/b/c", true},
		{"filesystem:/a/*/c/x", "/a/b/c", true},
		{"filesystem:/a/*/d/x", "/a/b/c", false},
		{"filesystem:/x/**/c", "/a/b/c", false},
		// not clean, not filesystem
		{"filesystem:/a", "/a/../a", false},
		{"env:A", "/a", false},
	} {
		p := MustParse(tc.p)
		if got := p.Touches(tc.abs); got != tc.want {
			t.Errorf("%s touches %s = %v, want %v", tc.p, tc.abs, got, tc.want)
		}
	}
}

// Touches agrees with its definition on every small path: p touches abs
// exactly when p matches abs, an ancestor, or some path below abs.
func TestTouchesAgreesWithMatch(t *testing.T) {
	segs := []string{"a", "b"}
	var paths []string
	var gen func(prefix string, depth int)
	gen = func(prefix string, depth int) {
		paths = append(paths, prefix)
		if depth == 0 {
			return
		}
		for _, s := range segs {
			next := prefix + "/" + s
			if prefix == "/" {
				next = "/" + s
			}
			gen(next, depth-1)
		}
	}
	gen("/", 4)
	pats := []string{"/a", "/a/b", "/*", "/*/b", "/**/b", "/a/**/a", "/*/*/a", "/b/*", "/**", "/a/b/a/b"}
	for _, ps := range pats {
		p := MustParse("filesystem:" + ps)
		for _, abs := range paths {
			if len(abs) > 4 { // depth 2 at most for abs; the rest extends below
				continue
			}
			want := false
			for _, q := range paths {
				if (q == abs || len(q) > len(abs) && q[:len(abs)] == abs && (abs == "/" || q[len(abs)] == '/') || underPath(q, abs)) && p.MatchPath(q) {
					want = true
				}
			}
			if got := p.Touches(abs); got != want {
				t.Errorf("%s touches %s = %v, enumeration says %v", ps, abs, got, want)
			}
		}
	}
}
