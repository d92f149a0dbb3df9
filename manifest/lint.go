package manifest

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	wardenhome "github.com/wardenproject/warden/internal/home"
	"github.com/wardenproject/warden/resource"
)

// Severity is how much a finding matters. The names are SARIF 2.1.0's levels.
type Severity string

// Severities, from blocking to informative. Any error makes warden lint fail.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityNote    Severity = "note"
)

// Rule is one lint rule. IDs never change meaning and are never reused; each is
// documented under its own heading in docs/lint-rules.md.
type Rule struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Severity Severity `json:"severity"`
	Short    string   `json:"short"` // one line
	Full     string   `json:"full"`  // why it matters and what to do
}

// Anchor is the rule's heading anchor in docs/lint-rules.md.
func (r Rule) Anchor() string { return strings.ToLower(r.ID) + "-" + r.Name }

// RulesDocURL is where the rules are documented; each rule's help link is this
// URL plus "#" and the rule's Anchor.
const RulesDocURL = "https://github.com/wardenproject/warden/blob/main/docs/lint-rules.md"

var rules = []Rule{
	{"WDN000", "invalid-manifest", SeverityError,
		"The manifest is not a valid warden manifest.",
		"The manifest failed parsing or validation (docs/manifest.md): fix the field named by the JSON path."},
	{"WDN001", "filesystem-wildcard", SeverityError,
		"A filesystem permission covers the root, a whole home directory or every path.",
		"Grants of '/', '/**', '~', '~/**', or any user's home such as '/home/*/**' or '/Users/*/**', hand a plugin every file of a user. Name the directory the plugin works in, such as '~/Documents/Spreadsheets/**'."},
	{"WDN002", "network-any-host", SeverityError,
		"A network permission matches any host.",
		"A plugin that may reach any host can send the user's data anywhere. That includes every host under a public suffix such as '*.co.uk' or '*.github.io', where anyone can register a name. List the API hosts the plugin calls, such as 'net:https://api.example.com/v1/*'."},
	{"WDN003", "sensitive-write", SeverityError,
		"A permission lets the plugin write to a location that controls the user's account or other programs.",
		"Writing to ~/.ssh, shell start-up files, .git/hooks, ~/.gitconfig, keychains, GnuPG keys, browser profiles, login items, systemd user units, cron, ~/.local/bin, /etc, /usr, or registry and cloud credentials lets a plugin run code or log in as the user. A grant that contains such a place (like write on '~/**' or '~/.config/**') counts too, in any letter case. Narrow the grant to the files the plugin produces. (warden's own home is WDN008's, for every action.)"},
	{"WDN004", "missing-publisher", SeverityError,
		"The manifest names no publisher.",
		"Without a publisher and key id no signature can tie the plugin to whoever made it, and the trust registry cannot decide about it. Add \"publisher\": {\"name\": ..., \"key_id\": \"ed25519:...\"}."},
	{"WDN005", "permission-without-reason", SeverityError,
		"A permission has no reason.",
		"The reason is what the person asked to grant the permission reads. Say in a sentence why the plugin needs it."},
	{"WDN006", "tool-without-input-schema", SeverityError,
		"A tool has no input schema.",
		"MCP clients and warden check a tool's arguments against its input schema before the plugin sees them. Give every tool an input_schema with \"type\": \"object\"."},
	{"WDN007", "process-any-executable", SeverityError,
		"A process permission lets the plugin spawn any executable.",
		"Spawning any program is the same as running arbitrary code outside the sandbox. Name the one executable the plugin needs."},
	{"WDN008", "warden-home", SeverityError,
		"A filesystem permission reaches warden's own home, compilation cache or policy file.",
		"warden's home holds the host key, the grants, the policy, the audit ledger and compiled native code. A plugin that can read it can forge capability tokens; one that can write, rename or delete anything above or inside it can grant itself more or run its code in warden. warden refuses such a grant at install and at 'warden grant', whatever the actions. Lint flags a permission that matches, contains or lies inside the default home under any user's home (~/.config/warden, ~/Library/Application Support/warden), or the homes, cache and policy of the machine it runs on (--home, $WARDEN_HOME), through symlinks too. Name a folder that neither contains the home nor lies inside it."},
	{"WDN101", "exfiltration-shape", SeverityWarning,
		"The plugin can both read local files and reach the network.",
		"Reading files plus network egress is the shape of data exfiltration. Split the plugin in two, or keep both grants narrow and explain them in the reasons; policies may require a runtime confirmation."},
	{"WDN102", "clipboard-read", SeverityWarning,
		"The plugin can read the clipboard.",
		"The clipboard often holds passwords and one-time codes copied from elsewhere. Ask for the text as a tool argument instead, if you can."},
	{"WDN103", "long-timeout", SeverityWarning,
		"The timeout is longer than 30 seconds.",
		"Long-running invocations hold a worker and keep the user waiting; most tools answer in well under a second. Lower limits.timeout_ms or split the work."},
	{"WDN104", "env-breadth", SeverityWarning,
		"An environment permission names many variables with a wildcard.",
		"Environment variables often carry tokens and keys. Name each variable the plugin reads."},
	{"WDN105", "secret-breadth", SeverityWarning,
		"A secret permission names many secrets with a wildcard.",
		"Name each secret the plugin reads, so that a grant never covers secrets added later."},
	{"WDN106", "process-spawn", SeverityWarning,
		"The plugin may spawn a program.",
		"A spawned program runs outside the WebAssembly sandbox, confined only by the OS sandbox. Prefer a host API or a connector; if you must spawn, say why in the reason."},
	{"WDN107", "tool-without-description", SeverityWarning,
		"A tool has no description.",
		"The model chooses tools by their description, and the user reads it when approving a call. Describe what the tool does and what it touches."},
	{"WDN108", "read-only-hint-with-effects", SeverityWarning,
		"A tool says it is read-only (readOnlyHint), but the plugin may change things or reach the network.",
		"Clients may run a tool annotated readOnlyHint: true without asking the person, and warden cannot hold one tool to less than its plugin's permissions. Drop the hint from tools that change anything, or move the read-only tools into a plugin of their own that only reads."},
	{"WDN109", "placeholder-publisher", SeverityWarning,
		"The publisher is still the placeholder warden init wrote.",
		"A bundle is signed by its publisher's key, and warden trusts keys, not names. Make your key with 'warden keygen --publisher NAME' and put your name and its key id into manifest.json's publisher before you pack or sign."},
	{"WDN201", "entry-not-built", SeverityNote,
		"The entry file does not exist yet; it is built from the Go source in the plugin directory.",
		"The directory has a go.mod, so the entry is expected to be built by the toolchain. Build it before packing or installing the plugin."},
}

// PlaceholderKeyID is the publisher key id `warden init` writes into a new
// plugin's manifest until its author makes a key: no key has it.
const PlaceholderKeyID = "ed25519:0000000000000000"

// Rules returns every lint rule in ID order.
func Rules() []Rule { return slices.Clone(rules) }

func ruleByID(id string) Rule {
	for _, r := range rules {
		if r.ID == id {
			return r
		}
	}
	return Rule{ID: id, Severity: SeverityError}
}

// Finding is one rule's verdict on one place in a manifest.
type Finding struct {
	RuleID   string   `json:"rule_id"`
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Path     string   `json:"path"` // JSON path of the place to fix; "" for the document
	Line     int      `json:"line,omitempty"`
	Col      int      `json:"col,omitempty"`
}

// longTimeoutMS is the timeout above which WDN103 warns.
const longTimeoutMS = 30_000

// LintOptions says what a manifest is judged against. The zero value is
// ready to use.
type LintOptions struct {
	// Home is what "~" means in permissions. Empty means the current user's
	// home directory.
	Home string
	// Protected are warden's own paths on the machine the plugin is for (its
	// home, compilation cache, policy file): a permission that reaches one is
	// WDN008. The zero value means the homes home.Known finds ($WARDEN_HOME
	// and the default home).
	Protected wardenhome.Protected
}

// Lint is LintWith with the zero LintOptions.
func Lint(m *Manifest, src []byte, path string) []Finding {
	return LintWith(m, src, path, LintOptions{})
}

// LintWith checks m against every rule and returns the findings in document
// order. src is the manifest's bytes, used to place findings at a line and
// column (it may be nil when m came from Parse); path is the manifest's file
// path, whose directory Validate resolves the entry in. Validation faults are
// findings of rule WDN000, so one call reports everything that is wrong.
func LintWith(m *Manifest, src []byte, path string, lo LintOptions) []Finding {
	loc := m.loc
	if loc == nil && len(src) > 0 {
		loc = newLocator(src)
		scan(src, loc, &errorSet{})
	}
	l := &linter{loc: loc}
	dir := filepath.Dir(path)
	o := ValidateOptions{AllowUnbuilt: true, Home: lo.Home}
	for _, e := range Errors(m.Validate(dir, o)) {
		l.addError(e)
	}
	if m.Entry != "" && filepath.IsLocal(filepath.FromSlash(m.Entry)) && isGoSource(dir) && entryExists(dir, m.Entry) != nil {
		l.add("WDN201", "entry", "entry %q is not built yet; it is built from the Go source in %s", m.Entry, dir)
	}

	prot := lo.Protected
	if len(prot.Paths()) == 0 {
		prot = wardenhome.NewProtected(wardenhome.Known()...)
	}
	gs := grants(m, o.home(), prot)
	var fileRead, netGrant, effect *grant
	for i := range gs {
		g := &gs[i]
		rp := g.path + ".resource"
		if strings.TrimSpace(g.perm.Reason) == "" {
			l.add("WDN005", g.path+".reason", "permission %q has no reason; say why the plugin needs it", g.perm.Resource)
		}
		if effect == nil && g.effect() != "" {
			effect = g
		}
		switch g.kind {
		case resource.Filesystem:
			if g.wildcard {
				l.add("WDN001", rp, "%q %s; name the directory the plugin works in, such as ~/Documents/Project", g.perm.Resource, g.wildWhy)
			}
			if g.writes() && g.sensitive != "" {
				l.add("WDN003", rp, "%q allows %s on %s", g.perm.Resource, strings.Join(g.perm.Actions, ","), g.sensitive)
			}
			// A pattern that covers a whole home or the root (WDN001) holds
			// warden's home too; one error says it.
			if g.warden != "" && !g.wildcard {
				l.add("WDN008", rp, "%q %s; no plugin may be granted it, whatever the actions: name a folder that neither contains it nor lies inside it", g.perm.Resource, g.warden)
			}
			if g.readsFiles() && fileRead == nil {
				fileRead = g
			}
		case resource.Net:
			if g.wildcard {
				l.add("WDN002", rp, "%q %s; list the hosts the plugin calls, such as net:https://api.example.com/*", g.perm.Resource, g.wildWhy)
			}
			if netGrant == nil {
				netGrant = g
			}
		case resource.Clipboard:
			if g.can("read") {
				l.add("WDN102", rp, "the plugin can read the clipboard, which often holds passwords copied from elsewhere")
			}
		case resource.Env:
			if g.wildcard || g.starred {
				l.add("WDN104", rp, "%q names environment variables with a wildcard; name each variable", g.perm.Resource)
			}
		case resource.Secret:
			if g.wildcard || g.starred {
				l.add("WDN105", rp, "%q names secrets with a wildcard; name each secret", g.perm.Resource)
			}
		case resource.Process:
			if g.wildcard || g.starred {
				l.add("WDN007", rp, "%q lets the plugin spawn any executable; name the one it needs", g.perm.Resource)
			} else {
				l.add("WDN106", rp, "the plugin may spawn %q outside the WebAssembly sandbox", g.perm.Resource)
			}
		}
	}
	if fileRead != nil && netGrant != nil {
		l.add("WDN101", netGrant.path+".resource", "the plugin can read files (%s %q) and reach the network (%s %q): the shape of data exfiltration",
			fileRead.path, fileRead.perm.Resource, netGrant.path, netGrant.perm.Resource)
	}
	if m.Publisher.KeyID == PlaceholderKeyID {
		l.add("WDN109", "publisher.key_id", "the publisher key id %s is warden init's placeholder; make your key with 'warden keygen --publisher NAME' and put its id here", PlaceholderKeyID)
	}
	if !m.hasPublisher() {
		l.add("WDN004", "publisher", "no publisher; add \"publisher\": {\"name\": ..., \"key_id\": \"ed25519:...\"} so bundles can be signed and trusted")
	}
	for i, t := range m.Tools {
		tp := joinIndex("tools", i)
		if t.InputSchema == nil {
			l.add("WDN006", tp+".input_schema", "tool %q has no input_schema; give it one with \"type\": \"object\"", t.Name)
		}
		if strings.TrimSpace(t.Description) == "" {
			l.add("WDN107", tp+".description", "tool %q has no description; the model and the user choose by it", t.Name)
		}
		if a := t.Annotations; a != nil && a.ReadOnlyHint != nil && *a.ReadOnlyHint && effect != nil {
			l.add("WDN108", tp+".annotations.readOnlyHint", "tool %q says it is read-only, but the plugin %s (%s %q); clients may run it without asking",
				t.Name, effect.effect(), effect.path, effect.perm.Resource)
		}
	}
	if m.Limits.TimeoutMS > longTimeoutMS {
		l.add("WDN103", "limits.timeout_ms", "timeout of %d ms is longer than %d ms", m.Limits.TimeoutMS, longTimeoutMS)
	}
	slices.SortStableFunc(l.out, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col), cmp.Compare(a.RuleID, b.RuleID))
	})
	return l.out
}

// parseFindings turns the faults of Parse into WDN000 findings.
func parseFindings(err error) []Finding {
	l := &linter{}
	for _, e := range Errors(err) {
		l.addError(e)
	}
	return l.out
}

type linter struct {
	loc *locator
	out []Finding
}

func (l *linter) add(id, path, format string, args ...any) {
	r := ruleByID(id)
	f := Finding{RuleID: r.ID, Rule: r.Name, Severity: r.Severity, Message: fmt.Sprintf(format, args...), Path: path}
	if l.loc != nil {
		f.Line, f.Col = l.loc.lineCol(l.loc.offset(path))
	}
	l.out = append(l.out, f)
}

// addError reports a Parse or Validate fault as a WDN000 finding, keeping its
// position (which may point inside a string, at the faulty character).
func (l *linter) addError(e *Error) {
	l.add("WDN000", e.Path, "%s", e.Msg)
	if e.Line > 0 {
		f := &l.out[len(l.out)-1]
		f.Line, f.Col = e.Line, e.Col
	}
}
