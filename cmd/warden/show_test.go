package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestShowAndCall: on a home with the hello plugin installed, `warden show`
// lists its permissions with their reasons, grants, tools and trust, and
// `warden call` runs its tool through the host and prints that call's audit
// events, ending with tool.invoke; an unknown plugin or tool is a usage
// error that says what there is.
func TestShowAndCall(t *testing.T) {
	home := mcpHome(t)
	code, out, errOut := runCLI(t, home, "show", "hello")
	if code != 0 || !strings.Contains(out, "hello ") || !strings.Contains(out, "tools (1):") || !strings.Contains(out, "greet") ||
		!strings.Contains(out, "grants (") || !strings.Contains(out, "risk ") {
		t.Fatalf("show: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, home, "--json", "show", "hello")
	var v struct {
		Name  string
		Tools []struct{ Name string }
		Trust string
	}
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Name != "hello" || len(v.Tools) != 1 || v.Trust == "" {
		t.Fatalf("show --json: exit %d %s", code, out)
	}
	code, out, errOut = runCLI(t, home, "call", "hello", "greet", "--input", `{"name":"Ada"}`)
	if code != 0 || !strings.Contains(out, "Hello, Ada!") || !strings.Contains(out, "tool.invoke") {
		t.Fatalf("call: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, home, "--json", "call", "hello", "greet", "--input", `{"name":"Bo"}`)
	var r struct {
		Result struct{ Message string }
		Events []struct{ Action string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.Result.Message != "Hello, Bo!" || len(r.Events) == 0 || r.Events[len(r.Events)-1].Action != "tool.invoke" {
		t.Fatalf("call --json: exit %d %s", code, out)
	}
	if code, _, errOut := runCLI(t, home, "call", "nope", "greet"); code != 2 || !strings.Contains(errOut, "installed: hello") {
		t.Fatalf("call of a plugin not installed: exit %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, home, "call", "hello", "shout"); code != 2 || !strings.Contains(errOut, "greet") {
		t.Fatalf("call of a tool the plugin lacks: exit %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, home, "show", "nope"); code != 2 || !strings.Contains(errOut, "warden list") {
		t.Fatalf("show of a plugin not installed: exit %d %s", code, errOut)
	}
	// Completion offers the installed plugins, then their tools.
	if _, out, _ := runCLI(t, home, "__complete", "call", ""); !strings.Contains(out, "hello") {
		t.Fatalf("completion of plugins: %q", out)
	}
	if _, out, _ := runCLI(t, home, "__complete", "call", "hello", ""); !strings.Contains(out, "greet") {
		t.Fatalf("completion of tools: %q", out)
	}
}
