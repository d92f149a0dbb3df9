package mcpfront

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Clients for which ClientConfig prints a registration.
var Clients = []string{"claude-desktop", "claude-code", "cursor"}

// ClientConfig returns what a user adds to register warden with client:
// a JSON document for claude-desktop (claude_desktop_config.json) and cursor
// (~/.cursor/mcp.json), a shell command for claude-code. exe must be the
// absolute path of the warden binary and home the absolute --home.
func ClientConfig(client, exe, home string) (string, error) {
	args := []string{"--home", home, "mcp"}
	switch client {
	case "claude-desktop", "cursor":
		doc := map[string]any{"mcpServers": map[string]any{"warden": map[string]any{"command": exe, "args": args}}}
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // a path with & or < must print as itself
		if err := enc.Encode(doc); err != nil {
			return "", err
		}
		return b.String(), nil
	case "claude-code":
		q := []string{"claude", "mcp", "add", "warden", "--", shellQuote(exe)}
		for _, a := range args {
			q = append(q, shellQuote(a))
		}
		return strings.Join(q, " ") + "\n", nil
	}
	return "", fmt.Errorf("unknown MCP client %q; choose one of %s", client, strings.Join(Clients, ", "))
}
