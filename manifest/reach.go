package manifest

// How far a grant reaches, beyond what resource.Pattern.Wildcard says. The
// resource package answers for the machine it runs on (one HOME, exact names);
// lint runs on the author's machine or a CI runner and judges a manifest that
// will be installed elsewhere, so it asks a wider question and errs towards
// flagging:
//
//   - a filesystem pattern is a wildcard when it covers any user's home
//     directory (/home/*, /Users/*, /root, ...), whatever HOME lint runs with;
//   - a net pattern "*.D" is any-host when D is a public suffix (Public Suffix
//     List, golang.org/x/net/publicsuffix), or has public suffixes right below
//     it: anyone can register a name there and receive what the plugin sends;
//   - names are compared case-insensitively and in one Unicode normal form,
//     because on macOS and Windows "~/.SSH" and a decomposed "é" open the same
//     file as "~/.ssh" and a composed one.

import (
	"fmt"
	"path"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/publicsuffix"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	wardenhome "github.com/wardenproject/warden/internal/home"
	"github.com/wardenproject/warden/resource"
)

// sensitiveLocation is a place where a write lets a plugin take over the user's
// account or other software: run code at the next shell, login, commit or
// program start, log in elsewhere, or change warden itself. docs/lint-rules.md
// lists each one and why; keep the two in step.
type sensitiveLocation struct {
	what string
	// names are path-element sequences ("a", or "a/b" for consecutive
	// elements) that name the location wherever it appears, so that
	// "/home/alice/.ssh" or "/root/.ssh" is caught whatever the home.
	names []string
	// probes are paths inside the location: "~/..." under every home lint
	// considers (see homesFor), or absolute. A pattern that matches one
	// contains the location or part of it, as ~/** and ~/.config/* do.
	probes []string
	// dirs are absolute directories: a pattern whose base lies inside one is
	// inside the location.
	dirs []string
}

var sensitiveLocations = []sensitiveLocation{
	{what: "SSH keys and configuration (~/.ssh)",
		names:  []string{".ssh"},
		probes: []string{"~/.ssh", "~/.ssh/authorized_keys", "~/.ssh/config"}},
	{what: "shell start-up files (~/.bashrc, ~/.zshrc, ~/.profile, ~/.config/fish, ...)",
		names: []string{".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".zshrc", ".zprofile", ".zshenv", ".zlogin", ".zlogout",
			".profile", ".login", ".cshrc", ".tcshrc", ".kshrc", ".xprofile", ".xinitrc", ".xsessionrc", "config.fish", ".config/fish", ".config/environment.d"},
		probes: []string{"~/.bashrc", "~/.bash_profile", "~/.bash_login", "~/.zshrc", "~/.zprofile", "~/.zshenv", "~/.profile", "~/.login",
			"~/.config/fish/config.fish", "~/.config/fish/conf.d/x.fish", "~/.config/environment.d/x.conf", "~/.xprofile"}},
	{what: "git hooks (.git/hooks)", names: []string{".git"}},
	{what: "git configuration (~/.gitconfig, ~/.config/git)",
		names:  []string{".gitconfig", ".config/git"},
		probes: []string{"~/.gitconfig", "~/.config/git/config"}},
	{what: "GnuPG keys (~/.gnupg)",
		names:  []string{".gnupg"},
		probes: []string{"~/.gnupg", "~/.gnupg/pubring.kbx"}},
	{what: "keychains (~/Library/Keychains, ~/.local/share/keyrings)",
		names:  []string{"Keychains", "keyrings"},
		probes: []string{"~/Library/Keychains", "~/Library/Keychains/login.keychain-db", "~/.local/share/keyrings", "~/.local/share/keyrings/login.keyring"}},
	{what: "browser profiles (cookies, saved passwords)",
		names: []string{"google-chrome", "chromium", ".mozilla", "Chrome", "Firefox", "Safari", "BraveSoftware"},
		probes: []string{
			"~/.config/google-chrome", "~/.config/google-chrome/Default/Cookies",
			"~/.config/chromium", "~/.config/chromium/Default/Cookies",
			"~/.mozilla", "~/.mozilla/firefox/profiles.ini",
			"~/Library/Application Support/Google/Chrome", "~/Library/Application Support/Google/Chrome/Default/Cookies",
			"~/Library/Application Support/Firefox", "~/Library/Application Support/Firefox/profiles.ini",
			"~/Library/Safari",
		}},
	{what: "programs started at login (~/.config/autostart, ~/Library/LaunchAgents)",
		names:  []string{"autostart", "LaunchAgents", "LaunchDaemons"},
		probes: []string{"~/.config/autostart", "~/.config/autostart/x.desktop", "~/Library/LaunchAgents", "~/Library/LaunchAgents/x.plist"}},
	{what: "systemd user units (~/.config/systemd/user)",
		names:  []string{".config/systemd", "systemd/user"},
		probes: []string{"~/.config/systemd/user", "~/.config/systemd/user/x.service", "~/.local/share/systemd/user/x.service"}},
	{what: "cron tables (/var/spool/cron, /etc/cron.d)",
		names:  []string{"crontabs"},
		probes: []string{"/var/spool/cron/crontabs/x", "/var/spool/cron/x", "/var/at/tabs/x", "/etc/crontab", "/etc/cron.d/x"},
		dirs:   []string{"/var/spool/cron", "/var/at", "/var/cron"}},
	{what: "programs on PATH (~/.local/bin, ~/bin, ~/.cargo/bin, ~/go/bin)",
		names:  []string{".local/bin", ".cargo/bin"},
		probes: []string{"~/.local/bin/x", "~/bin/x", "~/.cargo/bin/x", "~/go/bin/x"}},
	{what: "Python packages and .pth files (site-packages)",
		names:  []string{"site-packages"},
		probes: []string{"~/.local/lib/python3/site-packages/x.pth"}},
	{what: "editor start-up files (~/.vimrc, ~/.config/nvim, ~/.emacs.d)",
		names:  []string{".vimrc", ".config/nvim", ".emacs", ".emacs.d"},
		probes: []string{"~/.vimrc", "~/.config/nvim/init.lua", "~/.emacs", "~/.emacs.d/init.el"}},
	{what: "system directories (/etc, /usr, /bin, /lib, /boot, ...)",
		probes: []string{"/etc/profile", "/usr/bin/x", "/usr/local/bin/x", "/bin/sh", "/sbin/init", "/lib/x", "/boot/x"},
		dirs:   []string{"/etc", "/private/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot", "/System"}},
	{what: "package registry credentials and settings (~/.npmrc, ~/.pypirc, ~/.netrc, ...)",
		names: []string{".npmrc", ".yarnrc", ".yarnrc.yml", ".pypirc", ".netrc", ".git-credentials", ".cargo/credentials", ".cargo/credentials.toml",
			".gem/credentials", ".m2/settings.xml", ".config/gh"},
		probes: []string{"~/.npmrc", "~/.pypirc", "~/.netrc", "~/.git-credentials", "~/.cargo/credentials.toml", "~/.config/gh/hosts.yml"}},
	{what: "cloud and cluster credentials (~/.aws, ~/.kube, ~/.docker/config.json, ...)",
		names:  []string{".aws", ".kube", ".docker/config.json", ".config/gcloud", ".azure"},
		probes: []string{"~/.aws/credentials", "~/.aws/config", "~/.kube/config", "~/.docker/config.json", "~/.config/gcloud/x", "~/.azure/x"}},
}

// wardenDefaultHome is where warden keeps its home when neither --home nor
// $WARDEN_HOME says otherwise (os.UserConfigDir()/warden), under any user's
// home: WDN008 flags a permission that reaches it for any action, whichever
// home the manifest is linted against. docs/lint-rules.md names it under
// WDN008; keep the two in step.
var wardenDefaultHome = sensitiveLocation{what: "warden's default home (~/.config/warden, ~/Library/Application Support/warden)",
	names:  []string{".config/warden", "Application Support/warden"},
	probes: []string{"~/.config/warden/x", "~/Library/Application Support/warden/x"}}

// foldedLocation is a sensitiveLocation with every name folded once, split
// the way the checks use it.
type foldedLocation struct {
	what  string
	names [][]string // element sequences
	rel   []string   // "~/" probes, without the "~/"
	abs   []string   // absolute probes
	dirs  []string
}

var foldedLocations = foldLocations(sensitiveLocations)

var foldedWardenHome = foldLocations([]sensitiveLocation{wardenDefaultHome})[0]

func foldLocations(ls []sensitiveLocation) []foldedLocation {
	out := make([]foldedLocation, len(ls))
	for i, l := range ls {
		f := foldedLocation{what: l.what}
		for _, n := range l.names {
			f.names = append(f.names, strings.Split(foldPath(n), "/"))
		}
		for _, p := range l.probes {
			if rel, ok := strings.CutPrefix(p, "~/"); ok {
				f.rel = append(f.rel, foldPath(rel))
			} else {
				f.abs = append(f.abs, foldPath(p))
			}
		}
		for _, d := range l.dirs {
			f.dirs = append(f.dirs, foldPath(d))
		}
		out[i] = f
	}
	return out
}

// fold maps a name to the form lint compares names in: Unicode canonical
// caseless matching (NFD, full case folding, then NFC for a stable result),
// so that every spelling a case-insensitive or normalising filesystem treats
// as one name is one string. ASCII, the common case, is only lower-cased.
func fold(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			// A Caser keeps state, so each call makes its own.
			return norm.NFC.String(cases.Fold().String(norm.NFD.String(s)))
		}
	}
	return strings.ToLower(s)
}

// foldPath folds a slash-separated path and drops trailing dots from each
// element, since Windows opens ".ssh." as ".ssh".
func foldPath(p string) string {
	p = fold(p)
	if !strings.Contains(p, "./") && !strings.HasSuffix(p, ".") {
		return p
	}
	elems := strings.Split(p, "/")
	for i, e := range elems {
		if t := strings.TrimRight(e, "."); t != "" {
			elems[i] = t
		}
	}
	return strings.Join(elems, "/")
}

// fsBody is the path of a filesystem pattern, without the kind.
func fsBody(p resource.Pattern) string {
	return strings.TrimPrefix(p.String(), string(resource.Filesystem)+":")
}

// foldPattern returns the filesystem pattern p with its path folded (see
// fold), or p itself when it is already folded or the folded text does not
// parse.
func foldPattern(p resource.Pattern, home string) resource.Pattern {
	body := fsBody(p)
	fb := foldPath(body)
	if fb == body {
		return p
	}
	q, err := resource.ParseWith(string(resource.Filesystem)+":"+fb, resource.Options{Home: foldPath(home)})
	if err != nil {
		return p
	}
	return q
}

// homeRoots are directories whose children are users' home directories
// (Linux, macOS, Fedora Atomic, FreeBSD); fixedHomes are the homes of root on
// Linux and macOS. Both are compared folded and shown as written here.
var (
	homeRoots  = []string{"/home", "/Users", "/var/home", "/usr/home"}
	fixedHomes = []string{"/root", "/var/root"}
)

// homesFor returns the folded home directories lint judges the folded
// filesystem pattern path body against: the linting user's, root's, and one
// under each home root, named by the pattern's own element there ("*" for
// /home/*/**) or a placeholder.
func homesFor(body, home string) []string {
	hs := make([]string, 0, 1+len(fixedHomes)+len(homeRoots))
	hs = append(hs, foldPath(path.Clean(home)))
	for _, h := range fixedHomes {
		hs = append(hs, foldPath(h))
	}
	for _, r := range homeRoots {
		r = foldPath(r)
		user := "user"
		if rest, ok := strings.CutPrefix(body, r+"/"); ok {
			user, _, _ = strings.Cut(rest, "/")
		}
		hs = append(hs, r+"/"+user)
	}
	return hs
}

// inOrAbove reports whether dir is base or lies below it.
func inOrAbove(base, dir string) bool {
	return base == "/" || dir == base || strings.HasPrefix(dir, base+"/")
}

// anyHomeWildcard reports whether the folded filesystem pattern fp covers a
// whole home directory of some user, and why: /home/*/**, /Users/*/**, /home,
// /home/bob, /root. resource.Pattern.Wildcard asks this only of the HOME it
// runs with, which on a CI runner (HOME=/root) misses every user's home.
func anyHomeWildcard(fp resource.Pattern, home string) (bool, string) {
	base := fp.Base()
	if inOrAbove(base, foldPath(path.Clean(home))) {
		return true, "covers the whole home directory " + home
	}
	for _, r := range homeRoots {
		fr := foldPath(r)
		switch {
		case inOrAbove(base, fr):
			return true, "covers every home directory under " + r
		case path.Dir(base) == fr:
			return true, "covers the whole home directory " + r + "/" + path.Base(base)
		}
	}
	for _, h := range fixedHomes {
		if inOrAbove(base, foldPath(h)) {
			return true, "covers the whole home directory " + h
		}
	}
	return false, ""
}

// sensitiveReach names the sensitive locations the folded filesystem pattern
// fp reaches, joined by "; ": those it lies inside (named by a path element
// sequence, or below one of the location's directories) and those it
// contains (it matches a probe path there). It returns "" when fp reaches none.
func sensitiveReach(fp resource.Pattern, home string) string {
	var hit []string
	for i := range foldedLocations {
		if foldedLocations[i].reaches(fp, home) {
			hit = append(hit, foldedLocations[i].what)
		}
	}
	return strings.Join(hit, "; ")
}

// wardenHomeReach says how the filesystem pattern p (folded: fp) reaches
// warden's own state: one of the paths in prot (the homes, cache and policy
// of the machine lint runs on, in any spelling) or the default home's
// location under any user's home. It returns "" when it reaches neither.
func wardenHomeReach(p, fp resource.Pattern, home string, prot wardenhome.Protected) string {
	if g, ok := prot.Reaches(p); ok {
		return "reaches " + g.Path + ", " + g.What
	}
	if foldedWardenHome.reaches(fp, home) {
		return "reaches " + foldedWardenHome.what
	}
	return ""
}

// reaches reports whether the folded filesystem pattern fp reaches l.
func (l *foldedLocation) reaches(fp resource.Pattern, home string) bool {
	body := fsBody(fp)
	base := fp.Base()
	var homes []string
	for _, h := range homesFor(body, home) {
		// A probe under h can match only when h and the base are on one line.
		if inOrAbove(base, h) || inOrAbove(h, base) {
			homes = append(homes, h)
		}
	}
	return l.reachedBy(fp, strings.Split(body, "/"), base, homes)
}

func (l *foldedLocation) reachedBy(fp resource.Pattern, elems []string, base string, homes []string) bool {
	for _, seq := range l.names {
		if containsRun(elems, seq) {
			return true
		}
	}
	for _, d := range l.dirs {
		if base == d || strings.HasPrefix(base, d+"/") {
			return true
		}
	}
	for _, p := range l.abs {
		if fp.MatchPath(p) {
			return true
		}
	}
	for _, h := range homes {
		for _, rel := range l.rel {
			if fp.MatchPath(h + "/" + rel) {
				return true
			}
		}
	}
	return false
}

// containsRun reports whether seq occurs in elems as consecutive elements.
func containsRun(elems, seq []string) bool {
	for i := 0; i+len(seq) <= len(elems); i++ {
		match := true
		for j, s := range seq {
			if elems[i+j] != s {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// publicSuffixWildcard reports whether the net pattern p has a host "*.D"
// under which anyone can register a name, and why: D is on the Public Suffix
// List (co.uk, github.io, s3.amazonaws.com), or the list has a wildcard rule
// right below D (*.compute.amazonaws.com makes every x.compute.amazonaws.com
// public). Single-label D (*.com) is resource.Pattern.Wildcard's already.
func publicSuffixWildcard(p resource.Pattern) (bool, string) {
	_, hostPort, ok := strings.Cut(p.Base(), "://")
	if !ok {
		return false, ""
	}
	host := hostPort
	if c := strings.LastIndexByte(hostPort, ':'); c >= 0 {
		host = hostPort[:c]
	}
	d, ok := strings.CutPrefix(host, "*.")
	if !ok || d == "" {
		return false, ""
	}
	if ps, icann := publicsuffix.PublicSuffix(d); ps == d {
		return true, fmt.Sprintf("matches every host under .%s, a public suffix (%s) where anyone can register a name", d, pslSection(icann))
	}
	probe := "warden-lint-probe." + d
	if ps, icann := publicsuffix.PublicSuffix(probe); ps == probe {
		return true, fmt.Sprintf("matches every host under .%s, whose subdomains are public suffixes (%s) where anyone can register a name", d, pslSection(icann))
	}
	return false, ""
}

func pslSection(icann bool) string {
	if icann {
		return "ICANN section of the Public Suffix List"
	}
	return "private section of the Public Suffix List"
}
