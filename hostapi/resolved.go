package hostapi

// This file holds the two rules that a capability and the policy cannot
// lift: a symlink leads only where the same checks would let the call go
// directly (the resolved path is decided on again), and warden's own state
// directory is out of every plugin's reach (Config.Protected).
//
// Warden's state is kept out of reach in two layers:
//
//   - by name, here: the requested path, the resolved path and the path
//     with a grant base's symlinks resolved must not be, or lie under, a
//     protected path; and a path on the way to a protected path (an
//     ancestor, existing or not) must not be created, removed, moved or
//     replaced (actions write and delete). This is the first line, and it
//     gives the clearest message.
//   - by identity, in the provider (fsprov.Protection): device and inode of
//     each protected path and of every directory on the way to it, taken at
//     NewGate. No walk passes through the state under any name, and no
//     delete or rename moves a directory that holds it.
//
// Names alone were not enough: a name is what a rename changes. A plugin
// with read, write and delete on a folder holding warden's home two levels
// down renamed the folder in between, worked in the moved copy (a name no
// check knew) and renamed it back. The identity layer refuses that rename
// (the folder holds the home), and refuses the moved copy if another program
// moved it. Both layers refuse with the same deny event (by "gate", reason
// reasonProtected).

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/capability"
	"github.com/wardenproject/warden/hostapi/internal/fsprov"
)

// reasonProtected is the audit reason of a refusal by Config.Protected.
const reasonProtected = "warden's own state directory: no plugin may touch it"

// reasonNotRegular is the audit reason of a refusal to open a FIFO, socket
// or device (fsprov.ErrNotRegular).
const reasonNotRegular = "not a regular file or directory: warden opens only regular files and directories"

// How a path meets warden's state, for protectedError's message.
const (
	protIs       = iota // the path is the state, or lies under it
	protViaLink         // a symlink leads it there
	protHolds           // it is a directory on the way to the state
	protIdentity        // it reaches the state by identity under another name
)

// protectedError is the refusal of a path under Config.Protected. The
// message says why plainly, so that nobody widens a grant to get past it.
func protectedError(method, p string, how int) *Error {
	var verb string
	switch how {
	case protViaLink:
		verb = "leads (through a symlink) into warden's own state directory"
	case protHolds:
		verb = "is a folder on the way to warden's own state directory, which would move with it; it cannot be moved, removed, replaced or created"
	case protIdentity:
		verb = "reaches warden's own state directory under another name (a moved folder, a hard link or a mount)"
	default:
		verb = "is warden's own state directory"
	}
	return Errorf(CodeDenied, "%s: %s %s; no plugin may touch it, whatever it was granted", method, Sanitize(p, 512), verb)
}

// changesName reports whether an access with action creates, removes,
// moves or replaces the entry at its path (rather than reading it or
// looking into it).
func changesName(action string) bool { return action == "write" || action == "delete" }

// Protected returns the paths the gate was configured to keep every plugin
// out of (Config.Protected), as given.
func (g *Gate) Protected() []string { return append([]string(nil), g.cfg.Protected...) }

// protectedPaths cleans Config.Protected and adds the symlink-resolved
// spelling of each entry that has one, since the provider compares resolved
// paths.
func protectedPaths(in []string) ([]string, error) {
	var out []string
	add := func(p string) {
		for _, q := range out {
			if q == p {
				return
			}
		}
		out = append(out, p)
	}
	for _, p := range in {
		if !path.IsAbs(p) || strings.IndexByte(p, 0) >= 0 {
			return nil, fmt.Errorf("Config.Protected entry %q is not an absolute path; pass warden's home as an absolute path", p)
		}
		p = path.Clean(p)
		add(p)
		if r := resolveExisting(p); r != p {
			add(r)
		}
	}
	return out, nil
}

// resolveExisting returns p with symlinks resolved in its longest existing
// prefix (the rest, which does not exist yet, cannot hold a symlink).
func resolveExisting(p string) string {
	for d := p; ; d = path.Dir(d) {
		if r, err := filepath.EvalSymlinks(d); err == nil {
			if d == p {
				return path.Clean(r)
			}
			return path.Join(r, p[len(d):])
		}
		if d == "/" {
			return p
		}
	}
}

// protects reports whether the clean absolute path p is a protected path or
// lies under one.
func (g *Gate) protects(p string) bool {
	for _, q := range g.protected {
		if p == q || q == "/" || len(p) > len(q) && p[len(q)] == '/' && strings.HasPrefix(p, q) {
			return true
		}
	}
	return false
}

// holds reports whether the clean absolute path p is a directory on the way
// to a protected path (a strict ancestor of one, whether it exists or not).
func (g *Gate) holds(p string) bool {
	for _, q := range g.protected {
		if len(q) > len(p) && (p == "/" || q[len(p)] == '/' && strings.HasPrefix(q, p)) {
			return true
		}
	}
	return false
}

// protectedName reports how an access with action on the clean absolute
// path p meets the protected paths by name: protIs, protHolds (only for an
// action that changes the entry at p), or -1 when it does not.
func (g *Gate) protectedName(p, action string) int {
	switch {
	case g.protects(p):
		return protIs
	case changesName(action) && g.holds(p):
		return protHolds
	}
	return -1
}

// protectsVia is protectedName for p, a path under a grant's literal base,
// once the symlinks in the base itself are resolved. The provider resolves
// symlinks only below the base, so a grant for ~/cfg/** with ~/cfg ->
// ~/.config reaches ~/.config/warden with no symlink it would see.
func (g *Gate) protectsVia(base, p, action string) int {
	rb := g.bases.resolve(base)
	if rb == base {
		return -1
	}
	rest, ok := strings.CutPrefix(p, base)
	if !ok || rest != "" && rest[0] != '/' && base != "/" {
		return -1
	}
	return g.protectedName(path.Join(rb, rest), action)
}

// baseCache remembers the resolved form of grant bases: a gate sees few
// distinct bases (one per grant), and resolving one costs a system call per
// path component, too much to pay on every call. A symlink in a base that is
// re-pointed after first use is judged by its first target (the guest cannot
// make symlinks; only another program of the user can).
type baseCache struct {
	mu sync.RWMutex
	m  map[string]string
}

const maxCachedBases = 1024

func (bc *baseCache) resolve(base string) string {
	bc.mu.RLock()
	rb, ok := bc.m[base]
	bc.mu.RUnlock()
	if ok {
		return rb
	}
	rb = resolveExisting(base)
	bc.mu.Lock()
	if bc.m == nil {
		bc.m = map[string]string{}
	}
	if len(bc.m) < maxCachedBases {
		bc.m[base] = rb
	}
	bc.mu.Unlock()
	return rb
}

// resolvedCheck is the gate's decision on a path the provider resolved
// somewhere other than where it was asked (fsprov.Checker): the accesses
// c.acc[first..last] all name that one path.
type resolvedCheck struct {
	c           *call
	first, last int
}

// CheckResolved applies to the resolved path real every check the requested
// path passed: the protected paths, token coverage, and a policy decision
// (deny refuses, ask asks a person showing real). It records real as the
// event's resource (or its "to") and the requested name in the detail.
func (rc *resolvedCheck) CheckResolved(requested, real string) error {
	c := rc.c
	name := "filesystem:" + real
	a0 := &c.acc[rc.first]
	if rc.first == 0 {
		c.ev.Resource = name
		c.setDetail("requested", a0.Name)
	} else {
		c.setDetail("to", name)
		c.setDetail("requested_to", a0.Name)
	}
	for i := rc.first; i <= rc.last; i++ {
		capa := c.caps[i]
		if len(c.g.protected) > 0 {
			how := c.g.protectedName(real, c.acc[i].Action)
			if how < 0 {
				how = c.g.protectsVia(capa.Resource.Base(), real, c.acc[i].Action)
			}
			if how >= 0 {
				if how == protIs {
					how = protViaLink
				}
				c.ev.Decision = decisionDeny("gate", reasonProtected)
				return protectedError(c.name, a0.Path, how)
			}
		}
		if !capa.PermitsName(name, c.acc[i].Action) {
			c.ev.Decision = decisionDeny("gate", "a symlink leads outside the capability")
			return Errorf(CodeDenied, "%s: %s resolves through a symlink outside the capability that was checked", c.name, Sanitize(a0.Path, 512))
		}
	}
	for i := rc.first; i <= rc.last; i++ {
		if herr := c.decideResolved(&c.acc[i], name); herr != nil {
			return herr
		}
	}
	return nil
}

// grant is the provider's view of the capability that covered c.acc[i],
// with the resolved-path check for accesses i..last.
func (c *call) grant(k, i, last int) fsprov.Grant {
	c.chk[k] = resolvedCheck{c: c, first: i, last: last}
	g := grantOf(c.caps[i])
	g.Check = &c.chk[k]
	g.Protect = c.g.prot
	return g
}

func grantOf(c *capability.Capability) fsprov.Grant {
	return fsprov.Grant{Base: c.Resource.Base(), Match: c.Resource.MatchPath}
}

func (c *call) setDetail(k, v string) {
	if c.ev.Detail == nil {
		c.ev.Detail = make(map[string]string, 2)
	}
	c.ev.Detail[k] = v
}

// hostError returns the *Error a gate check handed back through the
// provider, if err is one.
func hostError(err error) (*Error, bool) {
	var he *Error
	if errors.As(err, &he) {
		return he, true
	}
	return nil, false
}

func decisionDeny(by, reason string) audit.Decision {
	return audit.Decision{Effect: audit.EffectDeny, By: by, Reason: reason}
}
