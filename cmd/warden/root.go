package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/hostapi"
	"github.com/wardenproject/warden/internal/home"
)

// app carries what every command needs: global flags and the streams to use.
// Commands print through it so that tests can run the CLI in process.
type app struct {
	homeFlag string
	json     bool

	in     io.Reader
	out    io.Writer
	errOut io.Writer
}

// registry holds one constructor per command group; each command file adds its
// own in init so that groups never edit a shared list.
var registry []func(a *app) *cobra.Command

func register(f func(a *app) *cobra.Command) { registry = append(registry, f) }

func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "warden",
		Short: "A capability-secured extension host for desktop AI agents",
		Long: `warden runs third-party plugins for desktop AI agents in a sandbox, behind
signed short-lived capability tokens, a policy, and a tamper-evident audit log.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(a.in)
	root.SetOut(a.out)
	root.SetErr(a.errOut)
	pf := root.PersistentFlags()
	pf.StringVar(&a.homeFlag, "home", "", "state directory (env "+home.EnvVar+"; default: the user config directory/warden)")
	pf.BoolVar(&a.json, "json", false, "print machine-readable JSON")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr(fmt.Errorf("%w", err), "run '"+c.CommandPath()+" --help' for usage")
	})
	for _, f := range registry {
		root.AddCommand(f(a))
	}
	strictGroups(root)
	return root
}

// strictGroups makes a misspelt subcommand ("warden policy chek") a usage
// error, exit 2: cobra itself prints the group's help and exits 0, which a
// script would take for success.
func strictGroups(c *cobra.Command) {
	for _, sub := range c.Commands() {
		strictGroups(sub)
		if !sub.HasSubCommands() || sub.Runnable() {
			continue
		}
		sub.Args = cobra.ArbitraryArgs
		sub.RunE = func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return c.Help()
			}
			// run turns this into a usage error naming the group's help.
			return fmt.Errorf("unknown command %q for %q", args[0], c.CommandPath())
		}
	}
}

// run executes the CLI with args and returns the process exit code.
func run(args []string, in io.Reader, out, errOut io.Writer) int {
	a := &app{in: in, out: out, errOut: errOut}
	root := newRoot(a)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) && ee.err == nil {
		return ee.code // the command already said what it had to
	}
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "unknown flag") ||
		strings.HasPrefix(msg, "required flag"):
		err = usageErr(err, "run '"+cmd.CommandPath()+" --help' for usage")
	case strings.HasPrefix(msg, "accepts ") || strings.HasPrefix(msg, "requires "):
		// cobra's argument-count errors name neither the command nor what
		// it takes; the usage line says both.
		err = usageErr(fmt.Errorf("%s: %w", strings.TrimPrefix(cmd.CommandPath(), "warden "), err), "usage: "+cmd.UseLine()+"; see '"+cmd.CommandPath()+" --help'")
	}
	code, hint := 1, ""
	if errors.As(err, &ee) {
		code, hint = ee.code, ee.hint
	}
	if a.json || slices.Contains(args, "--json") {
		// With --json the error is data too: one object on stdout, so a
		// program reads every outcome the same way; stderr keeps the text.
		b, _ := json.Marshal(map[string]any{"ok": false, "error": map[string]any{
			"code": errorCode(err, code), "message": err.Error(), "hint": hint, "exit": code}})
		fmt.Fprintf(out, "%s\n", b)
	}
	fmt.Fprintf(errOut, "warden: %v\n", err)
	if hint != "" {
		fmt.Fprintf(errOut, "hint: %s\n", hint)
	}
	return code
}

// errorCode is the stable code of a CLI error for --json: a host call's
// code, an audit integrity kind, "usage" for a mistake in the command line,
// or "error".
func errorCode(err error, exit int) string {
	var he *hostapi.Error
	var ie *audit.IntegrityError
	switch {
	case exit == 2:
		return "usage"
	case errors.As(err, &he):
		return string(he.Code)
	case errors.As(err, &ie):
		return ie.KindName()
	}
	return "error"
}

// exitError carries an exit code and an optional hint (what to do next) with an
// error. A nil err means the command already printed its own report.
type exitError struct {
	code int
	err  error
	hint string
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// withHint returns err with exit code 1 and a sentence telling the user what to do.
func withHint(err error, hint string) error { return &exitError{code: 1, err: err, hint: hint} }

// usageErr marks a mistake in the command line itself (exit code 2).
func usageErr(err error, hint string) error { return &exitError{code: 2, err: err, hint: hint} }

// exitCode makes the process exit with code without printing anything more.
func exitCode(code int) error { return &exitError{code: code} }

// home returns the resolved --home directory, created 0700 and checked.
func (a *app) home() (string, error) {
	dir, err := home.Resolve(a.homeFlag)
	if err != nil {
		return "", err
	}
	if err := home.Ensure(dir); err != nil {
		return "", withHint(err, "pass --home DIR or set "+home.EnvVar+" to a private directory")
	}
	return dir, nil
}

// printJSON writes v as indented JSON followed by a newline.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// isTerminal reports whether f is an interactive terminal; progress bars and
// prompts only appear there.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	fi, err := file.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
