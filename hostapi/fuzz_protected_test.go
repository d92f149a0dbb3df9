package hostapi

import (
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzProtectedName checks the gate's name checks of protected paths
// against filepath.Rel, the standard library's own idea of one path lying
// under another: p is protected when it is q or lies under it, and holds q
// when q lies strictly under p.
func FuzzProtectedName(f *testing.F) {
	for _, s := range [][2]string{
		{"/home/u/.warden", "/home/u/.warden"},
		{"/home/u/.warden/keys/k", "/home/u/.warden"},
		{"/home/u", "/home/u/.warden"},
		{"/home/u/.wardenx", "/home/u/.warden"},
		{"/home/u/.ward", "/home/u/.warden"},
		{"/", "/home/u/.warden"},
		{"/home/u/.warden", "/"},
		{"/a/b", "/a/bc/d"},
		{"/a/bc", "/a/b"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if strings.IndexByte(a, 0) >= 0 || strings.IndexByte(b, 0) >= 0 {
			return
		}
		p, q := path.Clean("/"+a), path.Clean("/"+b)
		g := &Gate{protected: []string{q}}
		under := func(x, base string) bool {
			rel, err := filepath.Rel(base, x)
			return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
		}
		if got, want := g.protects(p), under(p, q); got != want {
			t.Fatalf("protects(%q) with %q protected = %v, want %v", p, q, got, want)
		}
		if got, want := g.holds(p), p != q && under(q, p); got != want {
			t.Fatalf("holds(%q) with %q protected = %v, want %v", p, q, got, want)
		}
		for _, action := range []string{"read", "list", "write", "delete"} {
			how := g.protectedName(p, action)
			switch {
			case g.protects(p) && how != protIs,
				!g.protects(p) && g.holds(p) && changesName(action) && how != protHolds,
				!g.protects(p) && (!g.holds(p) || !changesName(action)) && how != -1:
				t.Fatalf("protectedName(%q, %s) with %q protected = %d", p, action, q, how)
			}
		}
	})
}
