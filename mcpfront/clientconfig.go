package mcpfront

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Clients for which ClientConfig prints a registration, in the order the CLI
// lists them.
var Clients = []string{"claude-desktop", "claude-code", "cursor", "vscode", "windsurf", "zed"}

// ClientTarget is what a client starts or reaches: warden over stdio (Exe,
// Home), or a running `warden mcp --http` (URL, Token) when URL is set.
type ClientTarget struct {
	Exe  string // absolute path of the warden binary
	Home string // absolute --home
	// URL is the streamable HTTP endpoint (http://127.0.0.1:PORT/) and Token
	// its bearer token; "" for stdio.
	URL   string
	Token string
}

// clientForm says how one client registers a server, for each transport,
// in the format its documentation gives. nil means the client has no
// documented form for that transport.
type clientForm struct {
	stdio func(exe string, args []string) (string, error)
	http  func(url, token string) (string, error)
	where string // where the snippet goes, for the person
}

var clientForms = map[string]clientForm{
	// claude_desktop_config.json takes local (stdio) servers only; remote
	// servers are added as connectors in the app.
	"claude-desktop": {
		stdio: func(exe string, args []string) (string, error) {
			return jsonDoc(map[string]any{"mcpServers": map[string]any{"warden": map[string]any{"command": exe, "args": args}}})
		},
		where: `add "warden" to the "mcpServers" of claude_desktop_config.json (Claude Desktop: Settings, Developer, Edit Config), then restart Claude Desktop`,
	},
	// Claude Code: user scope, so that every project of this user sees it.
	"claude-code": {
		stdio: func(exe string, args []string) (string, error) {
			q := []string{"claude", "mcp", "add", "--scope", "user", "warden", "--", shellQuote(exe)}
			for _, a := range args {
				q = append(q, shellQuote(a))
			}
			return strings.Join(q, " ") + "\n", nil
		},
		http: func(url, token string) (string, error) {
			return strings.Join([]string{"claude", "mcp", "add", "--scope", "user", "--transport", "http", "warden", shellQuote(url),
				"--header", shellQuote("Authorization: Bearer " + token)}, " ") + "\n", nil
		},
		where: `run that command in a shell; 'claude mcp list' then shows warden in every project`,
	},
	"cursor": {
		stdio: func(exe string, args []string) (string, error) {
			return jsonDoc(map[string]any{"mcpServers": map[string]any{"warden": map[string]any{"command": exe, "args": args}}})
		},
		http: func(url, token string) (string, error) {
			return jsonDoc(map[string]any{"mcpServers": map[string]any{"warden": map[string]any{"url": url,
				"headers": map[string]string{"Authorization": "Bearer " + token}}}})
		},
		where: `add "warden" to the "mcpServers" of ~/.cursor/mcp.json (or .cursor/mcp.json in a project), then reload Cursor`,
	},
	// VS Code: "servers" with an explicit type, in .vscode/mcp.json or the
	// user's mcp.json ("MCP: Open User Configuration").
	"vscode": {
		stdio: func(exe string, args []string) (string, error) {
			return jsonDoc(map[string]any{"servers": map[string]any{"warden": map[string]any{"type": "stdio", "command": exe, "args": args}}})
		},
		http: func(url, token string) (string, error) {
			return jsonDoc(map[string]any{"servers": map[string]any{"warden": map[string]any{"type": "http", "url": url,
				"headers": map[string]string{"Authorization": "Bearer " + token}}}})
		},
		where: `add "warden" to the "servers" of your user mcp.json (command palette: MCP: Open User Configuration) or .vscode/mcp.json`,
	},
	// Windsurf: ~/.codeium/windsurf/mcp_config.json; a remote server is
	// "serverUrl".
	"windsurf": {
		stdio: func(exe string, args []string) (string, error) {
			return jsonDoc(map[string]any{"mcpServers": map[string]any{"warden": map[string]any{"command": exe, "args": args}}})
		},
		http: func(url, token string) (string, error) {
			return jsonDoc(map[string]any{"mcpServers": map[string]any{"warden": map[string]any{"serverUrl": url,
				"headers": map[string]string{"Authorization": "Bearer " + token}}}})
		},
		where: `add "warden" to the "mcpServers" of ~/.codeium/windsurf/mcp_config.json, then refresh Windsurf's MCP servers`,
	},
	// Zed: "context_servers" in settings.json; its documented custom
	// servers are commands.
	"zed": {
		stdio: func(exe string, args []string) (string, error) {
			return jsonDoc(map[string]any{"context_servers": map[string]any{"warden": map[string]any{"command": exe, "args": args, "env": map[string]string{}}}})
		},
		where: `add "warden" to the "context_servers" of Zed's settings.json (command palette: zed: open settings)`,
	},
}

// ClientConfig returns what a user adds to register warden with client,
// in the format the client documents: a JSON document, or for claude-code a
// shell command. For a stdio target the client starts `warden --home HOME
// mcp` itself; for an HTTP target (URL set) it connects to a running
// `warden mcp --http` with the bearer token. A client with no documented
// form for the target's transport is an error that says which it takes.
func ClientConfig(client string, t ClientTarget) (string, error) {
	form, ok := clientForms[client]
	if !ok {
		return "", fmt.Errorf("unknown MCP client %q; choose one of %s", client, strings.Join(Clients, ", "))
	}
	if t.URL != "" {
		if form.http == nil {
			return "", fmt.Errorf("%s documents no way to reach an MCP server over HTTP in its configuration; register warden over stdio (drop --http)", client)
		}
		return form.http(t.URL, t.Token)
	}
	return form.stdio(t.Exe, []string{"--home", t.Home, "mcp"})
}

// ClientConfigWhere says where the snippet for client goes.
func ClientConfigWhere(client string) string { return clientForms[client].where }

func jsonDoc(doc any) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // a path with & or < must print as itself
	if err := enc.Encode(doc); err != nil {
		return "", err
	}
	return b.String(), nil
}
