package mcpfront

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestClientConfigs: each client's registration has the shape its
// documentation gives, starts this binary with --home, and keeps a path
// with characters JSON would escape for HTML (&, <) as itself; the HTTP
// forms carry the URL and the bearer header; clients without a documented
// HTTP form refuse it and say to use stdio.
func TestClientConfigs(t *testing.T) {
	exe, home := "/opt/w&w/bin/warden", "/home/u/.config/warden <test>"
	stdio := ClientTarget{Exe: exe, Home: home}
	web := ClientTarget{URL: "http://127.0.0.1:8765/", Token: "tok-123"}
	// The JSON path to the server entry, per client.
	paths := map[string][]string{
		"claude-desktop": {"mcpServers", "warden"},
		"cursor":         {"mcpServers", "warden"},
		"vscode":         {"servers", "warden"},
		"windsurf":       {"mcpServers", "warden"},
		"zed":            {"context_servers", "warden"},
	}
	for _, c := range Clients {
		t.Run(c, func(t *testing.T) {
			s, err := ClientConfig(c, stdio)
			if err != nil {
				t.Fatal(err)
			}
			if ClientConfigWhere(c) == "" {
				t.Error("no 'where' for this client")
			}
			if c == "claude-code" {
				want := "claude mcp add --scope user warden -- '/opt/w&w/bin/warden' --home '/home/u/.config/warden <test>' mcp\n"
				if s != want {
					t.Fatalf("got %q, want %q", s, want)
				}
				h, err := ClientConfig(c, web)
				if err != nil || h != "claude mcp add --scope user --transport http warden http://127.0.0.1:8765/ --header 'Authorization: Bearer tok-123'\n" {
					t.Fatalf("http: %q %v", h, err)
				}
				return
			}
			entry := dig(t, s, paths[c])
			if entry["command"] != exe {
				t.Errorf("command %v in %s", entry["command"], s)
			}
			if args := fmt.Sprint(entry["args"]); args != "[--home /home/u/.config/warden <test> mcp]" {
				t.Errorf("args %s", args)
			}
			if strings.Contains(s, `\u0026`) || strings.Contains(s, `\u003c`) {
				t.Errorf("the path is escaped for HTML: %s", s)
			}
			if c == "vscode" && entry["type"] != "stdio" {
				t.Errorf("vscode entry needs type stdio: %s", s)
			}
			h, err := ClientConfig(c, web)
			if c == "claude-desktop" || c == "zed" {
				if err == nil || !strings.Contains(err.Error(), "stdio") {
					t.Fatalf("%s over HTTP: %q, %v; want a refusal that says stdio", c, h, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			e := dig(t, h, paths[c])
			urlKey := map[string]string{"cursor": "url", "vscode": "url", "windsurf": "serverUrl"}[c]
			hd, _ := e["headers"].(map[string]any)
			if e[urlKey] != "http://127.0.0.1:8765/" || hd["Authorization"] != "Bearer tok-123" {
				t.Errorf("http form %s", h)
			}
			if c == "vscode" && e["type"] != "http" {
				t.Errorf("vscode http entry needs type http: %s", h)
			}
		})
	}
	if _, err := ClientConfig("notepad", stdio); err == nil || !strings.Contains(err.Error(), "claude-desktop") {
		t.Fatalf("unknown client: %v", err)
	}
}

func dig(t *testing.T, doc string, path []string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("%v: %s", err, doc)
	}
	for _, k := range path {
		next, ok := m[k].(map[string]any)
		if !ok {
			t.Fatalf("no %v in %s", path, doc)
		}
		m = next
	}
	return m
}
