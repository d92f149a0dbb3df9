package hostapi

// This file holds the two rules that a capability and the policy cannot
// lift: a symlink leads only where the same checks would let the call go
// directly (the resolved path is decided on again), and warden's own state
// directory is out of every plugin's reach (Config.Protected).

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

// protectedError is the refusal of a path under Config.Protected. The
// message says why plainly, so that nobody widens a grant to get past it.
func protectedError(method, p string, viaLink bool) *Error {
	how := "is"
	if viaLink {
		how = "leads (through a symlink) into"
	}
	return Errorf(CodeDenied, "%s: %s %s warden's own state directory; no plugin may touch it, whatever it was granted",
		method, Sanitize(p, 512), how)
}

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

// protectsVia reports whether p, a path under a grant's literal base, is
// protected once the symlinks in the base itself are resolved. The provider
// resolves symlinks only below the base, so a grant for ~/cfg/** with
// ~/cfg -> ~/.config reaches ~/.config/warden with no symlink it would see.
func (g *Gate) protectsVia(base, p string) bool {
	rb := g.bases.resolve(base)
	if rb == base {
		return false
	}
	rest, ok := strings.CutPrefix(p, base)
	if !ok || rest != "" && rest[0] != '/' && base != "/" {
		return false
	}
	return g.protects(path.Join(rb, rest))
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
		if len(c.g.protected) > 0 && (c.g.protects(real) || c.g.protectsVia(capa.Resource.Base(), real)) {
			c.ev.Decision = decisionDeny("gate", reasonProtected)
			return protectedError(c.name, a0.Path, true)
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
