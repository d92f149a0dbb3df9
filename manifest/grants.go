package manifest

import (
	"slices"
	"strings"

	wardenhome "github.com/wardenproject/warden/internal/home"
	"github.com/wardenproject/warden/resource"
)

// grant is one permission of a manifest with its parsed pattern and the facts
// that Lint and Risk judge it by. Permissions whose pattern does not parse are
// left out: Validate reports them.
type grant struct {
	index     int
	path      string // JSON path of the permission, like permissions[2]
	perm      Permission
	pat       resource.Pattern
	kind      resource.Kind
	wildcard  bool   // Pattern.Wildcard, or anyHomeWildcard / publicSuffixWildcard: the root, a home, any host
	wildWhy   string // its reason
	broad     bool   // a filesystem pattern whose base is a top-level directory (~/Documents, /etc)
	starred   bool   // the pattern has a "*" at all
	sensitive string // for a filesystem pattern, the sensitive location it reaches, or ""
	warden    string // for a filesystem pattern, how it reaches warden's own state, or ""
}

func (g *grant) can(actions ...string) bool {
	for _, a := range actions {
		if slices.Contains(g.perm.Actions, a) {
			return true
		}
	}
	return false
}

// writes reports whether the grant changes files: write or delete.
func (g *grant) writes() bool { return g.kind == resource.Filesystem && g.can("write", "delete") }

// effect names what the grant lets the plugin change or send out of the
// machine, "" when it only reads local things: file writes and deletes,
// network egress (any action: a GET carries data out in its URL), clipboard
// writes, process spawn, key-value writes, calls of other plugins.
func (g *grant) effect() string {
	switch g.kind {
	case resource.Filesystem:
		if g.can("write", "delete") {
			return "changes files"
		}
	case resource.Net:
		return "reaches the network"
	case resource.Clipboard:
		if g.can("write") {
			return "writes the clipboard"
		}
	case resource.Process:
		return "spawns programs"
	case resource.KV:
		if g.can("write", "delete") {
			return "changes its stored data"
		}
	case resource.Plugin:
		return "calls other plugins"
	}
	return ""
}

// readsFiles reports whether the grant reads file contents or names.
func (g *grant) readsFiles() bool { return g.kind == resource.Filesystem && g.can("read", "list") }

// grants parses m's permissions; home is what "~" means and prot are
// warden's own paths, which no permission may reach.
func grants(m *Manifest, home string, prot wardenhome.Protected) []grant {
	ro := resource.Options{Home: home}
	out := make([]grant, 0, len(m.Permissions))
	for i, p := range m.Permissions {
		pat, err := resource.ParseWith(p.Resource, ro)
		if err != nil {
			continue
		}
		g := grant{index: i, path: joinIndex("permissions", i), perm: p, pat: pat, kind: pat.Kind()}
		g.wildcard, g.wildWhy = pat.Wildcard()
		g.starred = strings.Contains(pat.String(), "*")
		switch g.kind {
		case resource.Filesystem:
			g.broad = topLevel(pat.Base(), home)
			fp := foldPattern(pat, home)
			if !g.wildcard {
				g.wildcard, g.wildWhy = anyHomeWildcard(fp, home)
			}
			g.sensitive = sensitiveReach(fp, home)
			g.warden = wardenHomeReach(pat, fp, home, prot)
		case resource.Net:
			if !g.wildcard {
				g.wildcard, g.wildWhy = publicSuffixWildcard(pat)
			}
		}
		out = append(out, g)
	}
	return out
}

// topLevel reports whether dir lies directly inside the home directory or
// directly inside the root. Every filesystem pattern covers the whole tree
// below its base (docs/resources.md), so how high the base sits is what makes a
// grant broad.
func topLevel(dir, home string) bool {
	rel := strings.TrimPrefix(dir, "/")
	if h := strings.TrimSuffix(home, "/") + "/"; strings.HasPrefix(dir, h) {
		rel = strings.TrimPrefix(dir, h)
	}
	return rel != "" && !strings.Contains(rel, "/")
}
