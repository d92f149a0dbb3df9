package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/host"
	"github.com/wardenproject/warden/hostapi"
	"github.com/wardenproject/warden/internal/home"
	"github.com/wardenproject/warden/manifest"
	"github.com/wardenproject/warden/resource"
)

func init() { register(runPluginCmd) }

func runPluginCmd(a *app) *cobra.Command {
	var caps []string
	var tool, input string
	cmd := &cobra.Command{
		Use:   "run [--cap RESOURCE=ACTIONS ...] [--tool T] [--input JSON|@FILE] DIR|WASM",
		Short: "Run a plugin's tool in the sandbox and show its audit events",
		Long: `run is the local sandbox runner. It builds the plugin in DIR when its Go
sources are newer than the entry (or the entry is missing), installs it with
only the --cap grants (each RESOURCE=ACTIONS, e.g. 'filesystem:~/notes=read',
must lie within the manifest), invokes the tool (--tool may be left out when
the plugin has one tool) on the input (--input JSON, or @FILE; default {}),
prints the result and then the audit events the run produced: the same gate,
ledger and events as production.

Everything happens in a temporary home unless --home (or $WARDEN_HOME) is given. Confirmations
the policy asks for are prompted on a terminal and denied otherwise.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := ctxOf(cmd)
			dir, err := pluginDirArg(args[0])
			if err != nil {
				return usageErr(err, "pass a plugin directory (manifest.json and its sources or entry) or its .wasm entry")
			}
			grants, err := parseCaps(caps)
			if err != nil {
				return usageErr(err, "write each --cap as RESOURCE=ACTION[,ACTION], e.g. --cap 'filesystem:~/Documents=read'")
			}
			in, err := readInputArg(input)
			if err != nil {
				return usageErr(err, "pass --input '{\"key\":\"value\"}' or --input @file.json")
			}
			homeDir, cleanup, err := a.runHome()
			if err != nil {
				return err
			}
			defer cleanup()

			if _, err := host.Build(ctx, dir, host.BuildOptions{}); err != nil {
				if errors.Is(err, host.ErrNoGo) {
					return withHint(err, "install Go from https://go.dev/dl, or build plugin.wasm yourself")
				}
				return withHint(err, "fix the build error above, then run again")
			}
			var confirm hostapi.Confirmer = hostapi.DenyAll{}
			if a.in == os.Stdin && isTerminal(os.Stdin) {
				confirm = hostapi.NewPrompt(a.in, a.errOut, 0)
			}
			logs := &logPrinter{w: a.errOut}
			h, err := host.New(ctx, host.Config{Home: homeDir, Confirmer: confirm, Log: logs.line})
			if err != nil {
				if a.homeFlag != "" || os.Getenv(home.EnvVar) != "" {
					return withHint(err, hostStartHint(err))
				}
				return withHint(err, "pass --home with a private directory, or leave it out to use a temporary one")
			}
			defer h.Close()
			from := h.Ledger().Len()

			p, err := h.Install(ctx, dir, host.InstallOptions{Grants: grants, Replace: true})
			switch {
			case errors.Is(err, host.ErrOutsideGrant):
				return usageErr(err, declaredHint(dir))
			case errors.Is(err, home.ErrProtected):
				return withHint(err, "warden's own home, cache and policy are out of every plugin's reach; the refusal is in the run's audit events")
			case errors.Is(err, host.ErrLint):
				return withHint(err, "fix the manifest: 'warden lint "+args[0]+"' explains every finding")
			case err != nil:
				return withHint(err, "check the plugin directory and its manifest")
			}
			switch {
			case tool == "" && len(p.Manifest.Tools) != 1:
				return usageErr(fmt.Errorf("plugin %s has %d tools; choose one with --tool", p.Name, len(p.Manifest.Tools)), "its tools are: "+toolNames(p.Manifest))
			case tool == "":
				tool = p.Manifest.Tools[0].Name
			case !slices.ContainsFunc(p.Manifest.Tools, func(t manifest.Tool) bool { return t.Name == tool }):
				return usageErr(fmt.Errorf("plugin %s has no tool %q", p.Name, tool), "its tools are: "+toolNames(p.Manifest))
			}
			res, ierr := h.Invoke(ctx, p.Name, tool, in)
			// The events are durable once Invoke returns; read them all,
			// install and grant included.
			events, err := readEvents(h.Ledger(), from)
			if err != nil {
				return err
			}
			return a.printRun(res, ierr, events)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&caps, "cap", nil, "grant RESOURCE=ACTIONS for this run (repeatable); must lie within the manifest")
	f.StringVar(&tool, "tool", "", "tool to invoke (default: the plugin's only tool)")
	f.StringVar(&input, "input", "", "tool input as JSON, or @FILE to read it from a file (default {})")
	return cmd
}

// runHome is --home (or $WARDEN_HOME, as for every command) when given,
// else a temporary home removed afterwards.
func (a *app) runHome() (string, func(), error) {
	if a.homeFlag != "" || os.Getenv(home.EnvVar) != "" {
		dir, err := a.home()
		return dir, func() {}, err
	}
	dir, err := os.MkdirTemp("", "warden-run-")
	if err != nil {
		return "", nil, withHint(err, "pass --home DIR")
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// pluginDirArg accepts a plugin directory or the .wasm entry inside one.
func pluginDirArg(arg string) (string, error) {
	fi, err := os.Stat(arg)
	if err != nil {
		return "", err
	}
	if fi.IsDir() {
		return arg, nil
	}
	dir := filepath.Dir(arg)
	_, src, err := manifest.ReadFile(dir)
	if err != nil {
		return "", fmt.Errorf("%s is a file, and there is no manifest.json beside it: %w", arg, err)
	}
	m, err := manifest.Parse(src)
	if err != nil {
		return "", err
	}
	if filepath.Clean(filepath.Join(dir, filepath.FromSlash(m.Entry))) != filepath.Clean(arg) {
		return "", fmt.Errorf("%s is not the entry (%s) of the manifest beside it", arg, m.Entry)
	}
	return dir, nil
}

// parseCaps reads RESOURCE=ACTION[,ACTION] flags. The last '=' splits, since
// a resource pattern may itself hold '=' (a URL query never does, but a file
// name can). A malformed pattern or action is a mistake in the command line,
// so it is caught here, before the host sees it.
func parseCaps(caps []string) ([]host.Grant, error) {
	out := make([]host.Grant, 0, len(caps))
	for _, c := range caps {
		i := strings.LastIndexByte(c, '=')
		if i <= 0 || i == len(c)-1 {
			return nil, fmt.Errorf("--cap %q: want RESOURCE=ACTIONS", c)
		}
		var acts []string
		for _, a := range strings.Split(c[i+1:], ",") {
			if a = strings.TrimSpace(a); a != "" {
				acts = append(acts, a)
			}
		}
		if len(acts) == 0 {
			return nil, fmt.Errorf("--cap %q: no actions after '='", c)
		}
		pat, err := resource.Parse(c[:i])
		if err == nil {
			err = resource.CheckActions(pat.Kind(), acts)
		}
		if err != nil {
			return nil, fmt.Errorf("--cap %q: %w", c, err)
		}
		out = append(out, host.Grant{Resource: c[:i], Actions: acts})
	}
	return out, nil
}

// readInputArg returns --input as JSON: the text itself or @FILE's content.
func readInputArg(s string) (json.RawMessage, error) {
	if s == "" {
		return json.RawMessage("{}"), nil
	}
	b := []byte(s)
	if name, ok := strings.CutPrefix(s, "@"); ok {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("--input: %w", err)
		}
		defer f.Close()
		if b, err = io.ReadAll(io.LimitReader(f, 64<<20)); err != nil {
			return nil, fmt.Errorf("--input %s: %w", name, err)
		}
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("--input is not valid JSON")
	}
	return b, nil
}

// declaredHint names what the manifest in dir declares, since a --cap may
// grant only that.
func declaredHint(dir string) string {
	const general = "a --cap may grant only what manifest.json's permissions declare; add a permission there or grant less"
	_, src, err := manifest.ReadFile(dir)
	if err != nil {
		return general
	}
	m, err := manifest.Parse(src)
	if err != nil || len(m.Permissions) == 0 {
		return general
	}
	decl := make([]string, len(m.Permissions))
	for i, p := range m.Permissions {
		decl[i] = "--cap '" + p.Resource + "=" + strings.Join(p.Actions, ",") + "'"
	}
	return "the manifest allows at most: " + strings.Join(decl, " ")
}

func toolNames(m *manifest.Manifest) string {
	names := make([]string, len(m.Tools))
	for i, t := range m.Tools {
		names[i] = t.Name
	}
	return strings.Join(names, ", ")
}

// readEvents returns the ledger's events from index from on.
func readEvents(l *audit.Ledger, from uint64) ([]audit.Entry, error) {
	var out []audit.Entry
	for e, err := range l.Read(from) {
		if err != nil {
			return nil, withHint(fmt.Errorf("read the audit events: %w", err), "run 'warden audit verify'")
		}
		out = append(out, e)
	}
	return out, nil
}

// printRun prints a tool's result (or error) and the run's events, and
// makes a failed call exit 1.
func (a *app) printRun(res *host.Result, ierr error, events []audit.Entry) error {
	if a.json {
		raw := make([]json.RawMessage, len(events))
		for i, e := range events {
			raw[i] = e.Raw
		}
		v := map[string]any{"events": raw}
		if ierr != nil {
			v["error"] = map[string]string{"code": string(hostapi.CodeOf(ierr)), "message": errMessage(ierr)}
		} else {
			v["result"] = res.Output
		}
		if err := a.printJSON(v); err != nil {
			return err
		}
		if ierr != nil {
			return exitCode(1)
		}
		return nil
	}
	if ierr != nil {
		fmt.Fprintf(a.out, "error: %s: %s\n", hostapi.CodeOf(ierr), errMessage(ierr))
	} else {
		fmt.Fprintf(a.out, "result:\n%s\n", indentJSON(res.Output, "  "))
	}
	fmt.Fprintf(a.out, "\naudit events (%d):\n", len(events))
	for _, e := range events {
		fmt.Fprintf(a.out, "  %s\n", eventLine(e))
	}
	if ierr != nil {
		return exitCode(1)
	}
	return nil
}

func errMessage(err error) string {
	var he *hostapi.Error
	if errors.As(err, &he) {
		return he.Message
	}
	return err.Error()
}

// indentJSON pretty-prints b with every line starting with prefix.
func indentJSON(b []byte, prefix string) string {
	var out bytes.Buffer
	if json.Indent(&out, b, prefix, "  ") != nil {
		return prefix + string(b)
	}
	return prefix + out.String()
}

// eventLine renders one event on one line: index, action, decision and
// outcome, resource, and what went wrong.
func eventLine(e audit.Entry) string {
	ev := e.Event
	verdict := ev.Outcome
	if ev.Decision.Effect != "" {
		verdict = ev.Decision.Effect
		if ev.Decision.Answer != "" {
			verdict += "→" + ev.Decision.Answer
		}
		verdict += "/" + ev.Outcome
	}
	line := fmt.Sprintf("#%-4d %-18s %-12s %s", e.Index, ev.Action, verdict, hostapi.Sanitize(ev.Resource, 160))
	if ev.Decision.By != "" {
		line += "  by " + ev.Decision.By
	}
	if ev.Error != nil {
		line += "  [" + ev.Error.Code + ": " + hostapi.Sanitize(ev.Error.Message, 200) + "]"
	}
	if ev.AfterHash != "" {
		line += "  after " + ev.AfterHash[:min(len(ev.AfterHash), 19)] + "…"
	}
	return line
}

// logPrinter writes plugin log lines to stderr, one at a time.
type logPrinter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *logPrinter) line(plugin, stream, line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "[%s %s] %s\n", plugin, stream, hostapi.Sanitize(line, 4096))
}
