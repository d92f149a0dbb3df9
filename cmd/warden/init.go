package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/internal/scaffold"
	"github.com/wardenproject/warden/manifest"
)

func init() { register(initCmd) }

func initCmd(a *app) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "init [--name NAME] DIR",
		Short: "Scaffold a Go plugin that builds with stock Go",
		Long: `init writes a new Go plugin into DIR (missing or empty): manifest.json,
main.go with one tool, greet, that needs no capability (and commented lines
showing how to read a granted file), go.mod, README.md, .gitignore, and a copy
of warden's Go PDK in third_party/pdk so that it builds offline:

  GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .

Run it with 'warden run DIR'. The name defaults to DIR's base name.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if name != "" && !manifest.ValidPluginName(name) {
				return usageErr(fmt.Errorf("--name %q is not a valid plugin name", name),
					`use lowercase letters, digits and single hyphens, like --name my-plugin`)
			}
			files, err := scaffold.Write(args[0], scaffold.Options{Name: name})
			if errors.Is(err, scaffold.ErrNotEmpty) {
				return usageErr(err, "pass a new or empty directory")
			}
			if err != nil {
				return withHint(err, "pass --name with lowercase letters, digits and hyphens, or another directory")
			}
			dir, _ := filepath.Abs(args[0])
			if a.json {
				return a.printJSON(map[string]any{"dir": dir, "files": files})
			}
			fmt.Fprintf(a.out, "created a warden plugin in %s\n", dir)
			for _, f := range files {
				fmt.Fprintf(a.out, "  %s\n", f)
			}
			fmt.Fprintf(a.out, "\nnext:\n  warden run --input '{\"name\":\"Ada\"}' %s\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "plugin name (default: DIR's base name)")
	return cmd
}
