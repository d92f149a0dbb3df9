package main

import (
	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/manifest"
)

func init() {
	register(func(a *app) *cobra.Command {
		return &cobra.Command{
			Use:   "risk MANIFEST",
			Short: "Score a manifest's risk from 0 to 100 and list every reason",
			Long: `risk validates the manifest (a file, or a directory holding manifest.json) and
prints its risk score with every contribution, by the formula of docs/risk.md.
The entry file need not exist: the score judges only what the manifest declares.`,
			Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				file, _, _ := manifest.ReadFile(args[0])
				m, err := manifest.LoadWith(args[0], manifest.ValidateOptions{SkipEntry: true})
				if err != nil {
					return withHint(err, "fix the manifest first; 'warden lint "+args[0]+"' lists every fault")
				}
				s := manifest.Risk(m)
				if a.json {
					return a.printJSON(struct {
						File string `json:"file"`
						manifest.Score
					}{file, s})
				}
				return manifest.WriteRisk(a.out, file, s)
			},
		}
	})
}
