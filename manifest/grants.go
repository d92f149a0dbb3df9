package manifest

import (
	"path"
	"slices"
	"strings"

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
	wildcard  bool   // Pattern.Wildcard: the filesystem root, the whole home, any host
	wildWhy   string // its reason
	broad     bool   // a filesystem pattern whose base is a top-level directory (~/Documents, /etc)
	starred   bool   // the pattern has a "*" at all
	sensitive string // for a filesystem pattern, the sensitive location it reaches, or ""
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

// readsFiles reports whether the grant reads file contents or names.
func (g *grant) readsFiles() bool { return g.kind == resource.Filesystem && g.can("read", "list") }

func grants(m *Manifest, home string) []grant {
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
		if g.kind == resource.Filesystem {
			g.broad = topLevel(pat.Base(), home)
			g.sensitive = sensitiveReach(pat, home)
		}
		out = append(out, g)
	}
	return out
}

// sensitiveLocation is a place where a write lets a plugin take over the user's
// account or other software: log in elsewhere, run code at the next shell or
// commit, or steal sessions.
type sensitiveLocation struct {
	what string
	// probes are paths under the home directory ("~/...") that a pattern
	// reaching this location matches: the directory itself and a file in it.
	probes []string
	// segments are path elements that name the location wherever it appears,
	// so that "/home/alice/.ssh" or "/root/.ssh" is caught whatever the home.
	segments []string
}

var sensitiveLocations = []sensitiveLocation{
	{"SSH keys and configuration (~/.ssh)", []string{"~/.ssh", "~/.ssh/authorized_keys", "~/.ssh/config"}, []string{".ssh"}},
	{"shell start-up files (~/.bashrc, ~/.zshrc, ~/.profile, ...)", []string{"~/.bashrc", "~/.bash_profile", "~/.bash_login", "~/.zshrc", "~/.zprofile", "~/.zshenv", "~/.profile", "~/.login", "~/.config/fish/config.fish"},
		[]string{".bashrc", ".bash_profile", ".bash_login", ".zshrc", ".zprofile", ".zshenv", ".profile", ".login", "config.fish"}},
	{"git hooks (.git/hooks)", nil, []string{".git"}},
	{"GnuPG keys (~/.gnupg)", []string{"~/.gnupg", "~/.gnupg/pubring.kbx"}, []string{".gnupg"}},
	{"keychains (~/Library/Keychains, ~/.local/share/keyrings)", []string{"~/Library/Keychains", "~/Library/Keychains/login.keychain-db", "~/.local/share/keyrings", "~/.local/share/keyrings/login.keyring"}, []string{"Keychains", "keyrings"}},
	{"browser profiles (cookies, saved passwords)", []string{
		"~/.config/google-chrome", "~/.config/google-chrome/Default/Cookies",
		"~/.config/chromium", "~/.config/chromium/Default/Cookies",
		"~/.mozilla", "~/.mozilla/firefox/profiles.ini",
		"~/Library/Application Support/Google/Chrome", "~/Library/Application Support/Google/Chrome/Default/Cookies",
		"~/Library/Application Support/Firefox", "~/Library/Application Support/Firefox/profiles.ini",
		"~/Library/Safari",
	}, []string{"google-chrome", "chromium", ".mozilla", "Chrome", "Firefox", "Safari", "BraveSoftware"}},
	{"programs started at login (~/.config/autostart, ~/Library/LaunchAgents)", []string{"~/.config/autostart", "~/.config/autostart/x.desktop", "~/Library/LaunchAgents", "~/Library/LaunchAgents/x.plist"}, []string{"autostart", "LaunchAgents"}},
}

// sensitiveReach names the sensitive locations the filesystem pattern p
// reaches, joined by "; ": those it lies inside (named by a path element) and
// those it contains (it matches a probe path there, as ~/** and ~/.config/** do).
// It returns "" when p reaches none.
func sensitiveReach(p resource.Pattern, home string) string {
	s := strings.TrimPrefix(p.String(), string(resource.Filesystem)+":")
	elems := strings.Split(s, "/")
	var hit []string
	for _, loc := range sensitiveLocations {
		reached := false
		for _, seg := range loc.segments {
			reached = reached || slices.Contains(elems, seg)
		}
		for _, probe := range loc.probes {
			reached = reached || p.MatchPath(path.Join(home, strings.TrimPrefix(probe, "~/")))
		}
		if reached {
			hit = append(hit, loc.what)
		}
	}
	return strings.Join(hit, "; ")
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
