package home

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/wardenproject/warden/resource"
)

// Protected is the set of paths that hold warden's own state — a home, a
// compilation cache, a policy file — and that no grant may reach. Grants
// are refused when made (warden grant, install, warden run --cap) and
// manifests that ask for such a path fail lint, whatever the path's
// spelling: Reaches compares symlink-resolved paths and the identity
// (device and inode) of the directories a pattern and a protected path
// share. The gate keeps plugins out of them at run time as well; refusing
// the grant first means no plugin ever holds a capability on them.
//
// The zero Protected protects nothing. It is immutable once made.
type Protected struct {
	paths []Guarded
}

// Guarded is one protected path and what it is, in words for a person.
type Guarded struct {
	Path string // absolute and clean
	What string // e.g. "warden's home"
}

// What the guarded paths are, for messages.
const (
	WhatHome   = "warden's home (host key, grants, policy, audit ledger, compiled code)"
	WhatCache  = "warden's compilation cache (native code warden runs)"
	WhatPolicy = "warden's policy file"
)

// NewProtected returns the set of paths given; empty paths are left out and
// relative ones made absolute.
func NewProtected(paths ...Guarded) Protected {
	var p Protected
	return p.With(paths...)
}

// With returns p with more paths.
func (p Protected) With(paths ...Guarded) Protected {
	out := Protected{paths: append([]Guarded(nil), p.paths...)}
	for _, g := range paths {
		if g.Path == "" {
			continue
		}
		abs, err := filepath.Abs(g.Path)
		if err != nil {
			continue
		}
		g.Path = filepath.Clean(abs)
		dup := false
		for _, q := range out.paths {
			dup = dup || q.Path == g.Path
		}
		if !dup {
			out.paths = append(out.paths, g)
		}
	}
	return out
}

// Paths returns the protected paths.
func (p Protected) Paths() []Guarded { return append([]Guarded(nil), p.paths...) }

// Known returns warden's homes on this machine besides any given one: the
// home $WARDEN_HOME names, and the default home (os.UserConfigDir()/warden),
// which may hold the user's main profile even while another home is in
// use. A grant to a plugin of one home must not reach another's keys.
func Known() []Guarded {
	var out []Guarded
	if env := os.Getenv(EnvVar); env != "" {
		out = append(out, Guarded{Path: env, What: WhatHome})
	}
	if cfg, err := os.UserConfigDir(); err == nil && filepath.IsAbs(cfg) {
		out = append(out, Guarded{Path: filepath.Join(cfg, "warden"), What: WhatHome})
	}
	return out
}

// ErrProtected is wrapped by every *ReachError.
var ErrProtected = errors.New("the grant reaches warden's own state")

// ReachError says that a grant or permission reaches a protected path.
type ReachError struct {
	Resource string  // the pattern, canonical
	Guarded  Guarded // what it reaches
}

func (e *ReachError) Error() string {
	return fmt.Sprintf("%s reaches %s, which is %s; no plugin may be granted it, whatever the actions. Grant a folder that neither contains it nor lies inside it",
		e.Resource, e.Guarded.Path, e.Guarded.What)
}

// Unwrap makes errors.Is(err, ErrProtected) true.
func (e *ReachError) Unwrap() error { return ErrProtected }

// Check returns a *ReachError when the filesystem pattern pat reaches a
// protected path; nil for other patterns.
func (p Protected) Check(pat resource.Pattern) error {
	if g, ok := p.Reaches(pat); ok {
		return &ReachError{Resource: pat.String(), Guarded: g}
	}
	return nil
}

// Reaches returns the protected path that the filesystem pattern pat
// reaches (resource.Pattern.Touches: it matches the path, an ancestor, or
// something inside), in any spelling:
//
//   - as written;
//   - with the symlinks in the protected path and in pat's literal base
//     resolved (a grant of ~/cfg/** with ~/cfg -> ~/.config reaches
//     ~/.config/warden);
//   - through the identity of the deepest existing directory of pat's base
//     that is also a directory on the protected path's chain (a bind mount,
//     or another letter case on a case-insensitive volume, names the same
//     directory).
func (p Protected) Reaches(pat resource.Pattern) (Guarded, bool) {
	if pat.Kind() != resource.Filesystem {
		return Guarded{}, false
	}
	base := pat.Base()
	rbase := resolveExisting(base)
	rpat := rebase(pat, base, rbase)
	for _, g := range p.paths {
		rg := resolveExisting(g.Path)
		if pat.Touches(g.Path) || pat.Touches(rg) || rpat.Touches(g.Path) || rpat.Touches(rg) {
			return g, true
		}
		if viaIdentity(pat, base, rbase, rg) {
			return g, true
		}
	}
	return Guarded{}, false
}

// viaIdentity finds the deepest existing directory X on the resolved base's
// chain that is the same directory (os.SameFile) as a directory A on the
// protected path's chain, spells the base from A, and asks again.
func viaIdentity(pat resource.Pattern, base, rbase, target string) bool {
	type dir struct {
		path string
		fi   os.FileInfo
	}
	var chain []dir
	for d := target; ; d = path.Dir(d) {
		if fi, err := os.Stat(d); err == nil {
			chain = append(chain, dir{d, fi})
		}
		if d == "/" {
			break
		}
	}
	for x := rbase; ; x = path.Dir(x) {
		if fx, err := os.Stat(x); err == nil {
			for _, a := range chain {
				if os.SameFile(fx, a.fi) {
					return rebase(pat, base, joinRest(a.path, rbase[len(x):])).Touches(target)
				}
			}
		}
		if x == "/" {
			return false
		}
	}
}

// rebase returns pat with its literal base replaced by newBase; pat itself
// when they are equal or the result does not parse.
func rebase(pat resource.Pattern, base, newBase string) resource.Pattern {
	if newBase == base {
		return pat
	}
	body := strings.TrimPrefix(pat.String(), string(resource.Filesystem)+":")
	q, err := resource.Parse(string(resource.Filesystem) + ":" + joinRest(newBase, body[len(base):]))
	if err != nil {
		return pat
	}
	return q
}

// joinRest appends rest (a path tail, with or without its leading '/') to
// dir.
func joinRest(dir, rest string) string {
	rest = strings.TrimPrefix(rest, "/")
	if rest == "" {
		return dir
	}
	if dir == "/" {
		return "/" + rest
	}
	return dir + "/" + rest
}

// resolveExisting returns p with the symlinks in its longest existing
// prefix resolved; the rest, which does not exist, cannot hold one.
func resolveExisting(p string) string {
	for d := p; ; d = path.Dir(d) {
		if r, err := filepath.EvalSymlinks(d); err == nil {
			return joinRest(filepath.Clean(r), p[len(d):])
		}
		if d == "/" || d == "." {
			return p
		}
	}
}
