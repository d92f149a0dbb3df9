package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/internal/home"
	"github.com/wardenproject/warden/manifest"
)

func init() {
	register(func(a *app) *cobra.Command {
		var format string
		c := &cobra.Command{
			Use:   "lint [--format text|json|sarif] MANIFEST...",
			Short: "Check plugin manifests against warden's review rules and score their risk",
			Long: `lint parses, validates and reviews each manifest (a file, or a directory
holding manifest.json) with the rules of docs/lint-rules.md, and prints every
finding with its rule ID, JSON path and line:column, then the risk score
(docs/risk.md). It exits 1 if any finding is an error. A permission that
reaches warden's home (--home, $WARDEN_HOME or the default) is an error
(WDN008).

--format sarif writes SARIF 2.1.0 for code-scanning CI; --json is --format json.`,
			Args: cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				if a.json {
					format = "json"
				}
				switch format {
				case "text", "json", "sarif":
				default:
					return usageErr(fmt.Errorf("unknown --format %q", format), "use --format text, json or sarif")
				}
				// WDN008 judges permissions against warden's homes on this
				// machine: --home (or $WARDEN_HOME) and the default one.
				// Resolve, not a.home(): lint creates nothing.
				prot := home.NewProtected(home.Known()...)
				if dir, err := home.Resolve(a.homeFlag); err == nil {
					prot = prot.With(home.Guarded{Path: dir, What: home.WhatHome})
				}
				reports := make([]*manifest.Report, 0, len(args))
				for _, p := range args {
					r, err := manifest.LintFileWith(p, manifest.LintOptions{Protected: prot})
					if err != nil {
						return withHint(err, "pass a manifest file, or a plugin directory that holds manifest.json")
					}
					reports = append(reports, r)
				}
				var err error
				switch format {
				case "text":
					err = manifest.WriteText(a.out, reports)
				case "json":
					err = a.printJSON(lintJSON(reports))
				case "sarif":
					wd, _ := os.Getwd()
					err = manifest.WriteSARIF(a.out, reports, toolVersion(), wd)
				}
				if err != nil {
					return err
				}
				for _, r := range reports {
					if r.Count(manifest.SeverityError) > 0 {
						return exitCode(1)
					}
				}
				return nil
			},
		}
		c.Flags().StringVar(&format, "format", "text", "output format: text, json or sarif")
		return c
	})
}

type lintOutput struct {
	Files    []*manifest.Report `json:"files"`
	Errors   int                `json:"errors"`
	Warnings int                `json:"warnings"`
	Notes    int                `json:"notes"`
}

func lintJSON(reports []*manifest.Report) lintOutput {
	out := lintOutput{Files: reports}
	for _, r := range reports {
		out.Errors += r.Count(manifest.SeverityError)
		out.Warnings += r.Count(manifest.SeverityWarning)
		out.Notes += r.Count(manifest.SeverityNote)
	}
	return out
}

// toolVersion is warden's version as build metadata reports it (SARIF's
// tool.driver.version, bundle provenance).
func toolVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
