package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/wardenproject/warden/internal/testenv"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenproject/warden/host"
	"github.com/wardenproject/warden/mcpfront"
)

// The tests here run the real warden binary, built once per test run, with
// real MCP clients: the Go SDK client (CommandTransport, streamable HTTP) and
// the MCP Inspector CLI.

var wardenBin struct {
	sync.Once
	path string
	err  error
	out  []byte
}

func builtWarden(t *testing.T) string {
	t.Helper()
	wardenBin.Do(func() {
		dir, err := os.MkdirTemp("", "warden-mcp-bin-")
		if err != nil {
			wardenBin.err = err
			return
		}
		wardenBin.path = filepath.Join(dir, "warden")
		wardenBin.out, wardenBin.err = exec.Command("go", "build", "-o", wardenBin.path, ".").CombinedOutput()
	})
	if wardenBin.err != nil {
		t.Fatalf("build warden: %v\n%s", wardenBin.err, wardenBin.out)
	}
	return wardenBin.path
}

// mcpHome is a home with examples/hello installed by host.Install (Build),
// from a copy whose go.mod points at this checkout's pdk. The host is closed
// again, so that the warden binary can take the home's ledger.
func mcpHome(t *testing.T) string {
	t.Helper()
	src, _ := filepath.Abs("../../examples/hello")
	pdk, _ := filepath.Abs("../../pdk")
	dir := filepath.Join(t.TempDir(), "hello")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"manifest.json", "main.go", "go.mod"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "go.mod" {
			b = []byte(strings.ReplaceAll(string(b), "../../pdk", pdk))
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	home := filepath.Join(t.TempDir(), "home")
	h, err := host.New(context.Background(), host.Config{Home: home})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Install(context.Background(), dir, host.InstallOptions{Build: true}); err != nil {
		h.Close()
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	return home
}

// invokeEvents counts the ok tool.invoke events for hello#greet in home's ledger.
func invokeEvents(t *testing.T, home string) int {
	t.Helper()
	h, err := host.New(context.Background(), host.Config{Home: home})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	n := 0
	for e, err := range h.Ledger().Read(0) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Event.Action == host.ActionInvoke && e.Event.Resource == "plugin:hello#greet" && e.Event.Outcome == "ok" {
			n++
		}
	}
	return n
}

func greetText(t *testing.T, r *mcp.CallToolResult) string {
	t.Helper()
	if r.IsError || len(r.Content) != 1 {
		t.Fatalf("greet result %+v", r)
	}
	return r.Content[0].(*mcp.TextContent).Text
}

func TestMCPBinaryGoClient(t *testing.T) {
	bin := builtWarden(t)
	home := mcpHome(t)
	ctx := context.Background()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "go-sdk-test"}, nil).Connect(ctx,
		&mcp.CommandTransport{Command: exec.Command(bin, "--home", home, "mcp")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(tools.Tools) != 1 || tools.Tools[0].Name != "hello__greet" {
		t.Fatalf("tools %+v", tools.Tools)
	}
	r, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "hello__greet", Arguments: map[string]any{"name": "Ada"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := greetText(t, r); got != `{"message":"Hello, Ada!"}` {
		t.Errorf("greet: %s", got)
	}
	if err := cs.Close(); err != nil {
		t.Logf("close: %v", err)
	}
	if n := invokeEvents(t, home); n != 1 {
		t.Errorf("ledger has %d tool.invoke events for hello#greet, want 1", n)
	}
}

func TestMCPBinaryMalformedInput(t *testing.T) {
	bin := builtWarden(t)
	home := mcpHome(t)
	cmd := exec.Command(bin, "--home", home, "mcp")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Each line but the last once ended the process (issue 10, finding 6):
	// every one must get its own error response and the session go on.
	bad := []string{"this is not json", `{"id":7,"method":"tools/list"}`, "[]", "[1,2]",
		`{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}`, `{"jsonrpc":"2.0","id":[1],"method":"ping"}`,
		`{"jsonrpc":"2.0","id":true,"method":"ping"}`, `[{"jsonrpc":"2.0","id":2,"method":"ping"}]`}
	in := strings.Join(bad, "\n") + "\n" +
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}` + "\n"
	if _, err := io.WriteString(stdin, in); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var lines []string
	for len(lines) < len(bad)+1 && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Errorf("warden mcp exited with %v after malformed input", err)
	}
	if len(lines) != len(bad)+1 || !strings.Contains(lines[0], `"code":-32700`) || !strings.Contains(lines[1], `"id":7`) ||
		!strings.Contains(lines[len(bad)], `"serverInfo"`) {
		t.Fatalf("responses:\n%s", strings.Join(lines, "\n"))
	}
	for i, l := range lines[1:len(bad)] {
		if !strings.Contains(l, `"code":-32600`) {
			t.Errorf("line %q: response %s, want an Invalid Request error", bad[i+1], l)
		}
	}
}

// inspectorDir is where .ci/run installs the pinned MCP Inspector.
func inspectorDir() string {
	if d := os.Getenv("WARDEN_INSPECTOR_DIR"); d != "" {
		return d
	}
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return ""
	}
	return filepath.Join(strings.TrimSpace(string(gopath)), "warden-inspector")
}

func TestMCPInspectorCLI(t *testing.T) {
	cli := filepath.Join(inspectorDir(), "node_modules", ".bin", "mcp-inspector")
	if _, err := os.Stat(cli); err != nil {
		testenv.Need(t, "the MCP Inspector CLI", fmt.Errorf("%w (set WARDEN_INSPECTOR_DIR, or run: npm install --prefix %s @modelcontextprotocol/inspector@1.0.3)", err, inspectorDir()))
	}
	_, err := exec.LookPath("node")
	testenv.Need(t, "node (the MCP Inspector runs on it)", err)
	bin := builtWarden(t)
	home := mcpHome(t)
	inspect := func(args ...string) map[string]any {
		t.Helper()
		cmd := exec.Command(cli, append([]string{"--cli", bin, "--home", home, "mcp"}, args...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("inspector %v: %v\n%s\n%s", args, err, out, stderr.String())
		}
		var v map[string]any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("inspector output is not JSON: %v\n%s", err, out)
		}
		return v
	}
	list := inspect("--method", "tools/list")
	tools, _ := list["tools"].([]any)
	if len(tools) != 1 {
		t.Fatalf("tools/list: %v", list)
	}
	tl := tools[0].(map[string]any)
	ann, _ := tl["annotations"].(map[string]any)
	if tl["name"] != "hello__greet" || ann["readOnlyHint"] != true {
		t.Errorf("tool %v", tl)
	}
	res := inspect("--method", "tools/call", "--tool-name", "hello__greet", "--tool-arg", "name=Inspector")
	content, _ := res["content"].([]any)
	if len(content) != 1 || content[0].(map[string]any)["text"] != `{"message":"Hello, Inspector!"}` || res["isError"] == true {
		t.Errorf("tools/call: %v", res)
	}
	bad := inspect("--method", "tools/call", "--tool-name", "hello__greet", "--tool-arg", "nom=x")
	if bad["isError"] != true {
		t.Errorf("schema-invalid call did not fail: %v", bad)
	}
	if n := invokeEvents(t, home); n != 1 {
		t.Errorf("ledger has %d ok invocations, want 1", n)
	}
}

// bearer adds an Authorization header to every request.
type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

var (
	servingRE = regexp.MustCompile(`serving MCP on (http://\S+/)`)
	tokenRE   = regexp.MustCompile(`shown only now\):\n(\S+)\n`)
)

// startHTTP runs 'warden mcp --http 127.0.0.1:0' and returns its URL and
// everything it printed on stderr up to the serving line.
func startHTTP(t *testing.T, bin, home string, extra ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--home", home, "mcp", "--http", "127.0.0.1:0"}, extra...)...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	var seen strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
		if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(io.Discard, stderr)
			return m[1], seen.String()
		}
	}
	t.Fatalf("warden mcp --http did not start:\n%s", seen.String())
	return "", ""
}

func TestMCPHTTP(t *testing.T) {
	bin := builtWarden(t)
	home := mcpHome(t)
	url, printed := startHTTP(t, bin, home)
	m := tokenRE.FindStringSubmatch(printed)
	if m == nil {
		t.Fatalf("the first start did not print the token:\n%s", printed)
	}
	token := m[1]
	fi, err := os.Stat(filepath.Join(home, mcpfront.TokenFileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}

	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
	post := func(mod func(*http.Request)) int {
		req, _ := http.NewRequest("POST", url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+token)
		mod(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for name, tc := range map[string]struct {
		mod  func(*http.Request)
		want int
	}{
		"no token":         {func(r *http.Request) { r.Header.Del("Authorization") }, 401},
		"wrong token":      {func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+strings.Repeat("A", len(token))) }, 401},
		"rebinding host":   {func(r *http.Request) { r.Host = "attacker.example:80" }, 403},
		"web page origin":  {func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") }, 403},
		"null origin":      {func(r *http.Request) { r.Header.Set("Origin", "null") }, 403},
		"loopback origin":  {func(r *http.Request) { r.Header.Set("Origin", "http://localhost:3000") }, 200},
		"plain good token": {func(*http.Request) {}, 200},
	} {
		if got := post(tc.mod); got != tc.want {
			t.Errorf("%s: status %d, want %d", name, got, tc.want)
		}
	}

	ctx := context.Background()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "go-sdk-http"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: bearer{token}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "hello__greet", Arguments: map[string]any{"name": "HTTP"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := greetText(t, r); got != `{"message":"Hello, HTTP!"}` {
		t.Errorf("greet over HTTP: %s", got)
	}
	cs.Close()
}

func TestMCPTokenPrintedOnceAndRotated(t *testing.T) {
	home := t.TempDir()
	path := filepath.Join(home, mcpfront.TokenFileName)
	tok1, created, err := mcpfront.LoadOrCreateToken(path, false)
	if err != nil || !created {
		t.Fatal(created, err)
	}
	tok2, created, err := mcpfront.LoadOrCreateToken(path, false)
	if err != nil || created || tok2 != tok1 {
		t.Fatalf("second load: %v %v", created, err)
	}
	tok3, created, err := mcpfront.LoadOrCreateToken(path, true)
	if err != nil || !created || tok3 == tok1 {
		t.Fatalf("rotate: %v %v", created, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := mcpfront.LoadOrCreateToken(path, false); err == nil {
		t.Error("a token file others can read was accepted")
	}
}

func TestMCPRefusesRemoteBind(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:8080", "[::]:0"} {
		code, _, errOut := runCLI(t, t.TempDir(), "mcp", "--http", addr)
		if code != 2 || !strings.Contains(errOut, "--allow-remote") {
			t.Errorf("%s: exit %d, stderr %q", addr, code, errOut)
		}
	}
}

func TestMCPConfig(t *testing.T) {
	home := t.TempDir()
	exe, _ := os.Executable()
	exe, _ = filepath.EvalSymlinks(exe)
	code, out, errOut := runCLI(t, home, "mcp", "config", "--client", "claude-desktop")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var v struct {
		MCPServers map[string]struct {
			Command string   `json:"command"`
			Args    []string `json:"args"`
		} `json:"mcpServers"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	w := v.MCPServers["warden"]
	if w.Command != exe || strings.Join(w.Args, " ") != "--home "+home+" mcp" {
		t.Errorf("claude-desktop config %+v", w)
	}
	// The test binary lives in the go build cache, like a 'go run' binary.
	if !strings.Contains(errOut, "temporary file") {
		t.Errorf("no warning about a temporary binary: %q", errOut)
	}
	code, out, _ = runCLI(t, home, "mcp", "config", "--client", "cursor")
	if code != 0 || !strings.Contains(out, `"mcpServers"`) {
		t.Errorf("cursor: %d %s", code, out)
	}
	code, out, _ = runCLI(t, home, "mcp", "config", "--client", "claude-code")
	if code != 0 || out != "claude mcp add --scope user warden -- "+exe+" --home "+home+" mcp\n" {
		t.Errorf("claude-code: %d %q", code, out)
	}
	code, out, _ = runCLI(t, home, "--json", "mcp", "config", "--client", "claude-code")
	if code != 0 || !json.Valid([]byte(out)) || !strings.Contains(out, `"snippet"`) {
		t.Errorf("--json: %d %s", code, out)
	}
	if code, _, errOut := runCLI(t, home, "mcp", "config", "--client", "vim"); code != 2 || !strings.Contains(errOut, "claude-desktop") {
		t.Errorf("unknown client: %d %s", code, errOut)
	}
}

// TestMCPHTTPTokenOnlyOnceBound: a port already in use fails the run before
// a token is made, so the one showing of a new token is never spent on a
// run that could not serve (issue 12).
func TestMCPHTTPTokenOnlyOnceBound(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	home := t.TempDir()
	code, _, errOut := runCLI(t, home, "mcp", "--http", ln.Addr().String())
	if code != 1 || !strings.Contains(errOut, "listen on") || strings.Contains(errOut, "bearer token") {
		t.Fatalf("busy port: exit %d %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(home, "mcp-http.token")); !os.IsNotExist(err) {
		t.Fatalf("a token was made by a run that could not listen: %v", err)
	}
}
