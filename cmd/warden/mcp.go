package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/host"
	"github.com/wardenproject/warden/hostapi"
	"github.com/wardenproject/warden/mcpfront"
)

func init() { register(mcpCmd) }

func mcpCmd(a *app) *cobra.Command {
	var httpAddr, policyFile string
	var allowRemote, rotate bool
	cmd := &cobra.Command{
		Use:   "mcp [--http 127.0.0.1:PORT]",
		Short: "Serve every installed plugin as MCP tools (stdio or HTTP)",
		Long: `mcp serves the tools of every installed plugin to an MCP client (Claude
Desktop, Claude Code, Cursor, ...) as PLUGIN__TOOL, over stdio by default.
Each call runs in warden's sandbox under your grants and policy and is
audited. When the policy says ask, you are asked through the client
(MCP elicitation); a client that cannot ask, a decline or no answer denies
the call. Nothing an agent sends can change your grants: use 'warden grant'.

--http ADDR serves MCP streamable HTTP on ADDR (loopback only unless
--allow-remote) behind a bearer token kept in <home>/` + mcpfront.TokenFileName + `
(printed once when created; --rotate-token makes a new one). Requests with a
non-loopback Host or Origin header are refused.

'warden mcp config --client NAME' prints how to register warden with a client.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			homeDir, err := a.home()
			if err != nil {
				return err
			}
			if httpAddr != "" {
				if err := mcpfront.CheckListenAddr(httpAddr, allowRemote); err != nil {
					return usageErr(err, "listen on 127.0.0.1:PORT, or pass --allow-remote if you really mean to serve other machines")
				}
			} else if allowRemote || rotate {
				return usageErr(errors.New("--allow-remote and --rotate-token only apply with --http"), "add --http 127.0.0.1:PORT")
			}
			ctx, stop := signal.NotifyContext(ctxOf(cmd), os.Interrupt, syscall.SIGTERM)
			defer stop()
			h, err := host.New(ctx, host.Config{
				Home: homeDir, PolicyPath: policyFile,
				// Every call brings its own Confirmer (the MCP client's
				// elicitation); anything else is refused.
				Confirmer: hostapi.DenyAll{},
				Log:       func(plugin, stream, line string) { fmt.Fprintf(a.errOut, "%s %s: %s\n", plugin, stream, line) },
			})
			if err != nil {
				return withHint(err, hostStartHint(err))
			}
			defer h.Close()
			front, err := mcpfront.New(ctx, mcpfront.Config{
				Host: mcpfront.FromHost(h), Name: "warden", Version: mcpServerVersion(),
				Logger: slog.New(slog.NewTextHandler(a.errOut, &slog.HandlerOptions{Level: slog.LevelWarn})),
			})
			var ce *mcpfront.ConflictError
			if errors.As(err, &ce) {
				return withHint(err, "uninstall one of the plugins named ('warden uninstall NAME'), then start again")
			}
			if err != nil {
				return withHint(err, "fix or uninstall the plugin named above")
			}
			defer front.Close()
			if httpAddr == "" {
				return front.ServeStdio(ctx, io.NopCloser(a.in), nopWriteCloser{a.out})
			}
			return a.serveMCPHTTP(ctx, front, homeDir, httpAddr, allowRemote, rotate)
		},
	}
	f := cmd.Flags()
	f.StringVar(&httpAddr, "http", "", "serve MCP streamable HTTP on HOST:PORT instead of stdio")
	f.BoolVar(&allowRemote, "allow-remote", false, "allow --http on a non-loopback address")
	f.BoolVar(&rotate, "rotate-token", false, "make a new bearer token for --http (the old one stops working)")
	f.StringVar(&policyFile, "policy", "", "enterprise policy file (default <home>/policy.yaml when present)")
	cmd.AddCommand(mcpConfigCmd(a))
	return cmd
}

// mcpServerVersion is the version reported in MCP's serverInfo.
func mcpServerVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

func (a *app) serveMCPHTTP(ctx context.Context, front *mcpfront.Front, homeDir, addr string, allowRemote, rotate bool) error {
	// Bind first: a new (or rotated) token is shown only once, so it must
	// not be shown — and spent — by a run that then fails to listen.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return withHint(fmt.Errorf("listen on %s: %w", addr, err), "choose a free port")
	}
	tokPath := filepath.Join(homeDir, mcpfront.TokenFileName)
	tok, created, err := mcpfront.LoadOrCreateToken(tokPath, rotate)
	if err != nil {
		ln.Close()
		return withHint(err, "run 'warden mcp --http ADDR --rotate-token' to replace the token file")
	}
	if created {
		fmt.Fprintf(a.errOut, "warden: new MCP bearer token (kept in %s, shown only now):\n%s\n", tokPath, tok)
	}
	opts := mcpfront.HTTPOptions{Token: tok}
	if allowRemote {
		host, _, _ := net.SplitHostPort(addr)
		opts.ExtraHosts = append(opts.ExtraHosts, host)
	}
	handler, err := mcpfront.HTTPHandler(front, opts)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(a.errOut, "warden: serving MCP on http://%s/ (Authorization: Bearer <token from %s>)\n", ln.Addr(), tokPath)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		return nil
	}
}

func mcpConfigCmd(a *app) *cobra.Command {
	var client, httpAddr string
	clients := strings.Join(mcpfront.Clients, ", ")
	cmd := &cobra.Command{
		Use:   "config --client NAME [--http HOST:PORT]",
		Short: "Print how to register warden with an MCP client",
		Long: `config prints what to add to an MCP client, in the format that client
documents, so that it starts 'warden mcp' with this binary's absolute path and
the current --home:
  claude-desktop  JSON for claude_desktop_config.json
  claude-code     the 'claude mcp add --scope user' command to run
  cursor          JSON for ~/.cursor/mcp.json
  vscode          JSON for VS Code's mcp.json ("servers", type stdio)
  windsurf        JSON for ~/.codeium/windsurf/mcp_config.json
  zed             JSON for the "context_servers" of Zed's settings.json

With --http HOST:PORT it prints instead how to reach a 'warden mcp --http' on
that address: its URL and the bearer token from --home (created if there is
none yet), for the clients that take one (claude-code, cursor, vscode,
windsurf). The snippet then holds the token: keep it private.`,
		Example: `  warden mcp config --client claude-desktop
  warden mcp config --client vscode --http 127.0.0.1:8765`,
		Args:              cobra.NoArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if client == "" {
				return usageErr(errors.New("mcp config needs --client"), "pass --client with one of "+clients)
			}
			homeDir, err := a.home()
			if err != nil {
				return err
			}
			t := mcpfront.ClientTarget{Home: homeDir}
			if httpAddr != "" {
				if err := mcpfront.CheckListenAddr(httpAddr, false); err != nil {
					return usageErr(err, "give the loopback address 'warden mcp --http' listens on, e.g. 127.0.0.1:8765")
				}
				tok, created, err := mcpfront.LoadOrCreateToken(filepath.Join(homeDir, mcpfront.TokenFileName), false)
				if err != nil {
					return withHint(err, "run 'warden mcp --http ADDR --rotate-token' to replace the token file")
				}
				if created {
					fmt.Fprintf(a.errOut, "notice: made a new MCP bearer token in %s\n", filepath.Join(homeDir, mcpfront.TokenFileName))
				}
				t.URL, t.Token = "http://"+httpAddr+"/", tok
			} else {
				exe, err := os.Executable()
				if err == nil {
					exe, err = filepath.EvalSymlinks(exe)
				}
				if err != nil {
					return withHint(fmt.Errorf("find this program's path: %w", err), "run warden by its full path")
				}
				if strings.Contains(exe, string(filepath.Separator)+"go-build") {
					fmt.Fprintf(a.errOut, "warden: warning: %s is a temporary file made by 'go run' and will disappear; build warden (go build -o ~/bin/warden ./cmd/warden) and run 'warden mcp config' from that binary\n", exe)
				}
				t.Exe = exe
			}
			snippet, err := mcpfront.ClientConfig(client, t)
			if err != nil {
				return usageErr(err, "pass --client with one of "+clients)
			}
			if a.json {
				out := map[string]any{"client": client, "snippet": snippet}
				if t.URL != "" {
					out["url"] = t.URL
				} else {
					out["command"], out["args"] = t.Exe, []string{"--home", homeDir, "mcp"}
				}
				return a.printJSON(out)
			}
			if _, err = io.WriteString(a.out, snippet); err != nil {
				return err
			}
			// Where it goes, on stderr so that stdout stays pasteable.
			fmt.Fprintf(a.errOut, "next: %s\n", mcpfront.ClientConfigWhere(client))
			if t.URL != "" {
				fmt.Fprintf(a.errOut, "note: the snippet holds the bearer token; start the server with 'warden --home %s mcp --http %s'\n", homeDir, httpAddr)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&client, "client", "", "the MCP client: "+clients)
	cmd.Flags().StringVar(&httpAddr, "http", "", "register a running 'warden mcp --http HOST:PORT' instead of stdio")
	_ = cmd.RegisterFlagCompletionFunc("client", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return mcpfront.Clients, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}
