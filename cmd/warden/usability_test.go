package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenproject/warden/bundle"
)

// Mistakes in the command line exit 2 and say which command was wrong and
// how it is used; a group given an unknown subcommand is one of them.
func TestCommandLineMistakes(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"policy", "check"},
			[]string{"warden: policy check: accepts 1 arg(s), received 0", "hint: usage: warden policy check FILE", "'warden policy check --help'"}},
		{[]string{"grant", "p", "filesystem:/tmp"},
			[]string{"warden: grant: accepts 3 arg(s), received 2", "hint: usage: warden grant PLUGIN RESOURCE ACTIONS"}},
		{[]string{"policy", "chek", "x.yaml"},
			[]string{`unknown command "chek" for "warden policy"`, "hint: run 'warden policy --help' for usage"}},
		{[]string{"audit", "tial"},
			[]string{`unknown command "tial" for "warden audit"`, "hint: run 'warden audit --help'"}},
		{[]string{"policy", "explain", "--plugin", "p"},
			[]string{`required flag(s) "action", "resource" not set`, "hint: run 'warden policy explain --help'"}},
		{[]string{"init", "--name", "Bad Name", "x"},
			[]string{`--name "Bad Name" is not a valid plugin name`, "hint: use lowercase letters, digits and single hyphens, like --name my-plugin"}},
		{[]string{"list", "--bogus"},
			[]string{"unknown flag: --bogus", "hint: run 'warden list --help'"}},
	} {
		code, out, errOut := runCLI(t, t.TempDir(), c.args...)
		if code != 2 || out != "" {
			t.Errorf("%v: exit %d, stdout %q; want exit 2 and nothing on stdout", c.args, code, out)
		}
		for _, w := range c.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%v: stderr lacks %q:\n%s", c.args, w, errOut)
			}
		}
	}
	// A group alone still shows its help and succeeds.
	if code, out, _ := runCLI(t, t.TempDir(), "policy"); code != 0 || !strings.Contains(out, "Available Commands") {
		t.Errorf("warden policy: exit %d\n%s", code, out)
	}
}

// mcp config keeps stdout pasteable and says on stderr where it goes.
func TestMCPConfigSaysWhereItGoes(t *testing.T) {
	home := t.TempDir()
	for client, want := range map[string]string{
		"claude-desktop": "claude_desktop_config.json",
		"cursor":         "~/.cursor/mcp.json",
		"claude-code":    "run that command in a shell",
		"vscode":         "mcp.json",
		"windsurf":       "mcp_config.json",
		"zed":            "context_servers",
	} {
		code, out, errOut := runCLI(t, home, "mcp", "config", "--client", client)
		if code != 0 || strings.Contains(out, "next:") || !strings.Contains(errOut, "next: ") || !strings.Contains(errOut, want) {
			t.Errorf("%s: exit %d\nstdout %s\nstderr %s", client, code, out, errOut)
		}
	}
	code, _, errOut := runCLI(t, home, "mcp", "config")
	if code != 2 || !strings.Contains(errOut, "mcp config needs --client") {
		t.Errorf("no --client: exit %d: %s", code, errOut)
	}
	// The HTTP form carries the URL and the token kept in the home, and
	// says so; a client without an HTTP form says to use stdio.
	code, out, errOut := runCLI(t, home, "mcp", "config", "--client", "vscode", "--http", "127.0.0.1:8765")
	tok, err := os.ReadFile(filepath.Join(home, "mcp-http.token"))
	if code != 0 || err != nil || !strings.Contains(out, `"url": "http://127.0.0.1:8765/"`) || !strings.Contains(out, "Bearer "+strings.TrimSpace(string(tok))) ||
		!strings.Contains(errOut, "holds the bearer token") {
		t.Errorf("vscode --http: exit %d %v\n%s\n%s", code, err, out, errOut)
	}
	if code, _, errOut := runCLI(t, home, "mcp", "config", "--client", "zed", "--http", "127.0.0.1:8765"); code != 2 || !strings.Contains(errOut, "stdio") {
		t.Errorf("zed --http: exit %d: %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, home, "mcp", "config", "--client", "cursor", "--http", "10.0.0.5:80"); code != 2 || !strings.Contains(errOut, "loopback") {
		t.Errorf("--http on a remote address: exit %d: %s", code, errOut)
	}
}

// Without a terminal, and with --yes under the default policy, install
// refuses in one sentence and says what to do instead.
func TestInstallRefusalsSayWhatToDo(t *testing.T) {
	home := t.TempDir()
	id, key, pub := keygenPublisher(t, home, "acme")
	dir := t.TempDir()
	m := fmt.Sprintf(`{"name":"tiny","version":"1.0.0","description":"Does nothing.","entry":"plugin.wasm","runtime":"wasm",
 "publisher":{"name":"Acme","key_id":%q},"permissions":[]}`, id)
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(m), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plugin.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(t.TempDir(), "tiny"+bundle.Extension)
	for _, args := range [][]string{{"pack", dir, "-o", b}, {"sign", b, "--key", key}, {"trust", "add", pub, "--publisher", "Acme"}} {
		if code, _, errOut := runCLI(t, home, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"install", b}, []string{"no terminal to show the consent screen on", "hint: run it in a terminal"}},
		{[]string{"install", "--yes", b}, []string{
			"warden: install tiny: install forbidden by policy: the policy requires a person at the consent screen to install a plugin (rule policy:unattended_install)\n",
			"hint: run 'warden install " + b + "' in a terminal and answer the consent screen, or set unattended_install: true in " + filepath.Join(home, "policy.yaml")}},
	} {
		code, out, errOut := runCLI(t, home, c.args...)
		if code != 1 || out != "" {
			t.Errorf("%v: exit %d, stdout %q", c.args, code, out)
		}
		for _, w := range c.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%v: stderr lacks %q:\n%s", c.args, w, errOut)
			}
		}
	}
}
