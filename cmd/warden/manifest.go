package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/manifest"
)

func init() {
	register(func(a *app) *cobra.Command {
		c := &cobra.Command{
			Use:   "manifest",
			Short: "Print the manifest JSON Schema or validate manifests",
		}
		c.AddCommand(&cobra.Command{
			Use:   "schema",
			Short: "Print the manifest's JSON Schema (draft 2020-12)",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				_, err := a.out.Write(manifest.Schema())
				return err
			},
		})
		var requireEntry bool
		v := &cobra.Command{
			Use:   "validate MANIFEST...",
			Short: "Parse and validate manifests; print each fault with its JSON path and line:column",
			Long: `validate checks each manifest (a file, or a directory holding manifest.json)
against docs/manifest.md and exits 1 if any is invalid. When the plugin directory
is Go source (it has a go.mod) a missing entry file is accepted, because the
toolchain builds it; --require-entry refuses that too.`,
			Args: cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				type result struct {
					File   string            `json:"file"`
					Valid  bool              `json:"valid"`
					Errors []*manifest.Error `json:"errors"`
				}
				var results []result
				bad := 0
				for _, p := range args {
					file, _, _ := manifest.ReadFile(p)
					_, err := manifest.LoadWith(p, manifest.ValidateOptions{AllowUnbuilt: !requireEntry})
					r := result{File: file, Valid: err == nil, Errors: []*manifest.Error{}}
					if err != nil {
						bad++
						faults := manifest.Errors(err)
						if faults == nil {
							return withHint(err, "pass a manifest file, or a plugin directory that holds manifest.json")
						}
						r.Errors = faults
					}
					results = append(results, r)
				}
				if a.json {
					if err := a.printJSON(results); err != nil {
						return err
					}
				} else {
					for _, r := range results {
						if r.Valid {
							fmt.Fprintf(a.out, "%s: valid\n", r.File)
						}
						for _, e := range r.Errors {
							fmt.Fprintln(a.out, e.Error())
						}
					}
				}
				if bad > 0 {
					return exitCode(1)
				}
				return nil
			},
		}
		v.Flags().BoolVar(&requireEntry, "require-entry", false, "fail when the entry file is missing, even in a Go source directory")
		c.AddCommand(v)
		return c
	})
}
