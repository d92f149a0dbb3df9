package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/host"
	"github.com/wardenproject/warden/hostapi"
)

func init() { register(demoCmd) }

// demoInput is the spreadsheet the demo asks sheet-gen to make.
const demoInput = `{"title":"Q3 budget","columns":["month","revenue","costs"],"rows":[["Jul",1200.5,800],["Aug",1350,820],["Sep",1500.25,null]]}`

func demoCmd(a *app) *cobra.Command {
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Build and run the sheet-gen example in the sandbox, with its audit trail",
		Long: `demo is the quick start in one command. From a warden source checkout it
builds examples/sheet-gen with the stock Go toolchain, installs it in a
temporary home with one grant (read and write on a temporary
~/Documents/Spreadsheets: the demo never touches your real home), asks it to
write a CSV spreadsheet (once through the explicit host API, once through
plain os.WriteFile), shows the files and the audit events, tries one write
outside the grant to show the refusal, and verifies the whole audit ledger.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := ctxOf(cmd)
			src, err := findExample("sheet-gen")
			if err != nil {
				return withHint(err, "run the demo from a warden source checkout: git clone the repository, cd into it, then: go run ./cmd/warden demo")
			}
			tmp, err := os.MkdirTemp("", "warden-demo-")
			if err != nil {
				return err
			}
			if keep {
				fmt.Fprintf(a.errOut, "keeping the demo's files in %s\n", tmp)
			} else {
				defer os.RemoveAll(tmp)
			}
			if tmp, err = filepath.EvalSymlinks(tmp); err != nil {
				return err
			}
			userHome := filepath.Join(tmp, "user")
			sheets := filepath.Join(userHome, "Documents", "Spreadsheets")
			plugin := filepath.Join(tmp, "plugin")
			for _, d := range []string{sheets, plugin} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					return err
				}
			}

			say := func(format string, args ...any) {
				if !a.json {
					fmt.Fprintf(a.out, format, args...)
				}
			}
			say("1. build %s (GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared)\n", src)
			if _, err := host.Build(ctx, src, host.BuildOptions{Force: true, Output: filepath.Join(plugin, "plugin.wasm")}); err != nil {
				return withHint(err, "the demo needs the Go toolchain (go 1.24 or later) on PATH")
			}
			man, err := os.ReadFile(filepath.Join(src, "manifest.json"))
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(plugin, "manifest.json"), man, 0o644); err != nil {
				return err
			}

			logs := &logPrinter{w: a.errOut}
			h, err := host.New(ctx, host.Config{Home: filepath.Join(tmp, "home"), UserHome: userHome, Log: logs.line})
			if err != nil {
				return err
			}
			defer h.Close()
			grant := host.Grant{Resource: "filesystem:~/Documents/Spreadsheets", Actions: []string{"read", "write"}}
			say("2. install sheet-gen in a temporary home, granting only %s (~ is %s)\n", grant, userHome)
			p, err := h.Install(ctx, plugin, host.InstallOptions{Grants: []host.Grant{grant}})
			if err != nil {
				return err
			}

			say("3. invoke sheet-gen.generate %s\n", demoInput)
			res, err := h.Invoke(ctx, p.Name, "generate", json.RawMessage(demoInput))
			if err != nil {
				return fmt.Errorf("the demo's tool call failed: %w", err)
			}
			var out struct {
				Path        string `json:"path"`
				SummaryPath string `json:"summary_path"`
			}
			_ = json.Unmarshal(res.Output, &out)
			csv, err := os.ReadFile(out.Path)
			if err != nil {
				return fmt.Errorf("the plugin said it wrote %s, but: %w", out.Path, err)
			}
			summary, _ := os.ReadFile(out.SummaryPath)
			say("   result:\n%s\n", indentJSON(res.Output, "     "))
			say("   %s (written through the explicit host API, pdk.FS().Write):\n%s", out.Path, indent(csv))
			say("   %s (written with plain os.WriteFile, through the same gate):\n%s", out.SummaryPath, indent(summary))

			outside := filepath.Join(userHome, "Documents")
			denied := fmt.Sprintf(`{"title":"exfil","rows":[["secret"]],"dir":%q}`, outside)
			say("4. ask it to write outside the grant, in %s\n", outside)
			_, derr := h.Invoke(ctx, p.Name, "generate", json.RawMessage(denied))
			if derr == nil {
				return errors.New("the demo's write outside the grant succeeded; the sandbox is broken")
			}
			say("   refused: %s: %s\n", hostapi.CodeOf(derr), errMessage(derr))

			events, err := readEvents(h.Ledger(), 0)
			if err != nil {
				return err
			}
			say("5. the audit events (%d), from the same ledger production uses:\n", len(events))
			for _, e := range events {
				say("   %s\n", eventLine(e))
			}
			ck, err := h.Ledger().Checkpoint(ctx)
			if err != nil {
				return err
			}
			verifiers, err := audit.Verifiers(h.Ledger().VerifierKeys()...)
			if err != nil {
				return err
			}
			rep, err := audit.VerifyDir(ctx, h.Ledger().Dir(), verifiers, audit.VerifyOptions{})
			if err != nil {
				return withHint(fmt.Errorf("verify the demo's ledger: %w", err), "this is a bug in warden; please report it")
			}
			root := base64.StdEncoding.EncodeToString(ck.Root[:])
			if a.json {
				raw := make([]json.RawMessage, len(events))
				for i, e := range events {
					raw[i] = e.Raw
				}
				return a.printJSON(map[string]any{
					"result": res.Output, "csv": string(csv), "denied": map[string]string{"code": string(hostapi.CodeOf(derr)), "message": errMessage(derr)},
					"events": raw, "verified": map[string]any{"events": rep.Events, "root": root, "origin": ck.Origin},
				})
			}
			say("6. ledger verified: %d events, root %s\n", rep.Events, root)
			return nil
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary home, plugin and spreadsheets for inspection")
	return cmd
}

func indent(b []byte) string {
	var out bytes.Buffer
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if len(line) > 0 {
			out.WriteString("     ")
			out.Write(line)
		}
	}
	if out.Len() > 0 && out.Bytes()[out.Len()-1] != '\n' {
		out.WriteByte('\n')
	}
	return out.String()
}

// findExample finds examples/NAME in the warden checkout that holds the
// working directory.
func findExample(name string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(gomod), []byte("module github.com/wardenproject/warden\n")) {
			ex := filepath.Join(dir, "examples", name)
			if _, err := os.Stat(filepath.Join(ex, "manifest.json")); err != nil {
				return "", fmt.Errorf("the warden checkout at %s has no examples/%s: %w", dir, name, err)
			}
			return ex, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no warden source checkout (a go.mod of module github.com/wardenproject/warden) holds %s", wd)
		}
	}
}
