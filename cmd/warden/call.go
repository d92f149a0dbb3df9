package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/host"
	"github.com/wardenproject/warden/hostapi"
	"github.com/wardenproject/warden/manifest"
)

func init() { register(callCmd) }

// callCmd runs one tool of an installed plugin: the same host, grants,
// policy, confirmations and audit as `warden mcp`, from a shell.
func callCmd(a *app) *cobra.Command {
	var input string
	cmd := &cobra.Command{
		Use:   "call PLUGIN TOOL [--input JSON|@FILE]",
		Short: "Call a tool of an installed plugin and show its audit events",
		Long: `call invokes TOOL of the installed PLUGIN on the input (--input JSON, or
@FILE; default {}) through the same host as 'warden mcp': its grants, the
policy, confirmations (prompted on a terminal, denied otherwise) and the audit
ledger. It prints the result, then the audit events of this call. It exits 1
when the call fails.

Use 'warden run DIR' for a plugin that is not installed (a plugin you are
writing); 'warden show PLUGIN' lists the tools and what each may touch.`,
		Example: `  warden call sheet-gen generate --input '{"title":"Q3","rows":[["Jul",1200]]}'
  warden call sheet-gen generate --input @rows.json --json`,
		Args: cobra.ExactArgs(2),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			return a.completePluginTools(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := ctxOf(cmd)
			plugin, tool := args[0], args[1]
			in, err := readInputArg(input)
			if err != nil {
				return usageErr(err, "pass --input '{\"key\":\"value\"}' or --input @file.json")
			}
			homeDir, err := a.home()
			if err != nil {
				return err
			}
			var confirm hostapi.Confirmer = hostapi.DenyAll{}
			if a.in == os.Stdin && isTerminal(os.Stdin) {
				confirm = hostapi.NewPrompt(a.in, a.errOut, 0)
			}
			logs := &logPrinter{w: a.errOut}
			h, err := host.New(ctx, host.Config{Home: homeDir, Confirmer: confirm, Log: logs.line})
			if err != nil {
				return withHint(err, hostStartHint(err))
			}
			defer h.Close()
			p, err := installedPlugin(ctx, h, plugin)
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(p.Manifest.Tools, func(t manifest.Tool) bool { return t.Name == tool }) {
				return usageErr(fmt.Errorf("plugin %s has no tool %q", plugin, tool), "its tools are: "+toolNames(p.Manifest))
			}
			res, ierr := h.Invoke(ctx, plugin, tool, in)
			var events []audit.Entry
			if res != nil {
				for _, i := range res.Events {
					e, err := h.Ledger().Get(i)
					if err != nil {
						return withHint(fmt.Errorf("read audit event %d: %w", i, err), "run 'warden audit verify'")
					}
					events = append(events, e)
				}
			}
			return a.printRun(res, ierr, events)
		},
	}
	cmd.Flags().StringVar(&input, "input", "", "tool input as JSON, or @FILE to read it from a file (default {})")
	return cmd
}

// installedPlugin returns the installed plugin name, or a usage error that
// lists what is installed.
func installedPlugin(ctx context.Context, h *host.Host, name string) (host.Plugin, error) {
	ps, err := h.Plugins(ctx)
	if err != nil {
		return host.Plugin{}, err
	}
	var names []string
	for _, p := range ps {
		if p.Name == name {
			return p, nil
		}
		names = append(names, p.Name)
	}
	if len(names) == 0 {
		return host.Plugin{}, usageErr(fmt.Errorf("no plugin %q is installed; no plugins are installed", name), "install one with 'warden install BUNDLE'")
	}
	return host.Plugin{}, usageErr(fmt.Errorf("no plugin %q is installed", name), "installed: "+strings.Join(names, ", "))
}
