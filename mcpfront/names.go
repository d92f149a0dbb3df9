package mcpfront

import (
	"fmt"
	"sort"
	"strings"
)

// Separator joins a plugin name and a tool name into an MCP tool name.
const Separator = "__"

// MaxToolNameLen is the longest tool name MCP allows (and the SDK enforces).
const MaxToolNameLen = 128

// ToolName returns the MCP name of a plugin's tool: PLUGIN__TOOL.
func ToolName(plugin, tool string) string { return plugin + Separator + tool }

// SplitToolName splits an MCP tool name at its first "__". Plugin names never
// contain "_", so the split is the only one possible for names ToolName made.
func SplitToolName(name string) (plugin, tool string, ok bool) {
	plugin, tool, ok = strings.Cut(name, Separator)
	if !ok || plugin == "" || tool == "" || strings.Contains(plugin, "_") {
		return "", "", false
	}
	return plugin, tool, true
}

// Conflict is one tool that cannot be served under its MCP name.
type Conflict struct {
	Name    string   // the MCP tool name
	Sources []string // "plugin tool" pairs that produce it
	Reason  string
}

// ConflictError lists every tool name that cannot be served. It is reported
// when the tool list is built, so a user learns of it at start, not when an
// agent first calls the tool.
type ConflictError struct{ Conflicts []Conflict }

func (e *ConflictError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d MCP tool name(s) cannot be served:", len(e.Conflicts))
	for _, c := range e.Conflicts {
		fmt.Fprintf(&b, "\n  %s (from %s): %s", c.Name, strings.Join(c.Sources, ", "), c.Reason)
	}
	return b.String()
}

// checkNames finds names that are too long, not valid MCP tool names, or that
// collide. Two names that differ only in case collide too: some clients fold
// case when they match a call to a tool. It returns the conflicting names.
func checkNames(entries []entry) []Conflict {
	var out []Conflict
	byFold := map[string][]entry{}
	for _, e := range entries {
		switch {
		case len(e.name) > MaxToolNameLen:
			out = append(out, Conflict{Name: e.name, Sources: []string{e.source()},
				Reason: fmt.Sprintf("the name is %d characters long, MCP allows %d; shorten the plugin or the tool name", len(e.name), MaxToolNameLen)})
			continue
		case !validName(e.name):
			out = append(out, Conflict{Name: e.name, Sources: []string{e.source()},
				Reason: "the name has characters MCP does not allow (only A-Z a-z 0-9 _ - .)"})
			continue
		case strings.Contains(e.plugin, "_") || e.plugin == "" || e.tool == "":
			out = append(out, Conflict{Name: e.name, Sources: []string{e.source()},
				Reason: "a plugin name must not contain \"_\" and neither part may be empty, or the name cannot be split back"})
			continue
		}
		k := strings.ToLower(e.name)
		byFold[k] = append(byFold[k], e)
	}
	keys := make([]string, 0, len(byFold))
	for k := range byFold {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		es := byFold[k]
		if len(es) < 2 {
			continue
		}
		c := Conflict{Name: es[0].name, Reason: "two tools map to the same MCP name (names are compared ignoring case); uninstall one plugin or rename a tool"}
		for _, e := range es {
			c.Sources = append(c.Sources, e.source())
		}
		out = append(out, c)
	}
	return out
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}
