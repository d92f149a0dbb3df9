package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/manifest"
	"github.com/wardenproject/warden/policy"
	"github.com/wardenproject/warden/resource"
	"github.com/wardenproject/warden/store"
)

// policyFileName is the active enterprise policy under --home. No file means
// policy.Default().
const policyFileName = "policy.yaml"

func init() {
	register(func(a *app) *cobra.Command {
		cmd := &cobra.Command{
			Use:   "policy",
			Short: "Check an enterprise policy file and explain decisions",
			Long: `The enterprise policy (docs/policy.md) says what plugins may do: allow, deny
and ask rules, token lifetime, always-ask categories, pre-approved publishers.
The active policy is <home>/` + policyFileName + `; without it a built-in default
applies (no rules, always ask for network and process spawn, default deny).`,
		}
		cmd.AddCommand(policyCheckCmd(a), policyExplainCmd(a))
		return cmd
	})
}

func policyCheckCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "check FILE",
		Short: "Validate a policy file; every fault is printed as FILE:line:col",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := args[0]
			p, err := policy.Load(file, policy.ParseOptions{})
			var ve *policy.ValidationError
			switch {
			case errors.As(err, &ve):
				return a.reportPolicyFaults(file, ve)
			case err != nil:
				return withHint(err, "check the path; 'warden policy check' reads a YAML or JSON file")
			}
			if a.json {
				return a.printJSON(policyCheckJSON{File: file, Valid: true, Rules: len(p.Rules)})
			}
			fmt.Fprintf(a.out, "%s: valid policy, %d rule%s, tokens live at most %s, always ask for %s\n",
				file, len(p.Rules), pluralS(len(p.Rules)), p.MaxTokenTTL, categoryList(p.AlwaysAsk))
			return nil
		},
	}
}

type policyCheckJSON struct {
	File   string            `json:"file"`
	Valid  bool              `json:"valid"`
	Rules  int               `json:"rules"`
	Errors []policyFaultJSON `json:"errors,omitempty"`
}

type policyFaultJSON struct {
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

func (a *app) reportPolicyFaults(file string, ve *policy.ValidationError) error {
	if a.json {
		out := policyCheckJSON{File: file}
		for _, fe := range ve.Errs {
			out.Errors = append(out.Errors, policyFaultJSON{Line: fe.Line, Column: fe.Col, Path: fe.Path, Message: fe.Msg})
		}
		if err := a.printJSON(out); err != nil {
			return err
		}
		return exitCode(1)
	}
	for _, fe := range ve.Errs {
		fmt.Fprintln(a.errOut, fe.Error())
	}
	return withHint(fmt.Errorf("policy %s has %d fault%s", file, len(ve.Errs), pluralS(len(ve.Errs))),
		"fix each line above; docs/policy.md describes every field")
}

func pluralS(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func categoryList(cs []policy.Category) string {
	if len(cs) == 0 {
		return "nothing"
	}
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.String()
	}
	return strings.Join(names, ", ")
}

// loadPolicy returns the policy in file, or <home>/policy.yaml, or the built-in
// default when that file does not exist.
func (a *app) loadPolicy(homeDir, file string) (*policy.Policy, error) {
	explicit := file != ""
	if !explicit {
		file = filepath.Join(homeDir, policyFileName)
	}
	p, err := policy.Load(file, policy.ParseOptions{})
	switch {
	case err == nil:
		return p, nil
	case !explicit && errors.Is(err, fs.ErrNotExist):
		return policy.Default(), nil
	case errors.Is(err, policy.ErrInvalidPolicy):
		return nil, withHint(fmt.Errorf("load policy: %w", err), "run 'warden policy check "+file+"' and fix every fault")
	}
	return nil, withHint(err, "pass --policy FILE, or remove "+file+" to use the built-in default")
}

func policyExplainCmd(a *app) *cobra.Command {
	var plugin, res, action, policyFile, manifestPath, publisher, publisherKey string
	cmd := &cobra.Command{
		Use:   "explain --plugin P --resource R --action A",
		Short: "Show the decision for one request and why",
		Long: `explain asks the policy engine what it would decide if plugin P did action A on
resource R now, with the active policy and the grants in the state database.

R is a concrete resource name ("filesystem:/home/u/a.csv", "clipboard"); a
pattern with '*' or a leading "~" asks about a whole token scope instead. The
plugin's manifest comes from the installed plugins, else from --manifest.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			homeDir, err := a.home()
			if err != nil {
				return err
			}
			pol, err := a.loadPolicy(homeDir, policyFile)
			if err != nil {
				return err
			}
			st, err := openStateStore(ctx, a, homeDir)
			if err != nil {
				return err
			}
			defer st.Close()

			// An action the resource's kind does not have is a mistake in the
			// command line, not a question for the policy.
			if kindName, _, ok := strings.Cut(res, ":"); ok || res == "clipboard" {
				if res == "clipboard" {
					kindName = "clipboard"
				}
				if k, err := resource.ParseKind(kindName); err != nil {
					return usageErr(fmt.Errorf("--resource %q: %w", res, err), "write KIND:NAME, e.g. filesystem:/home/u/a.csv (docs/resources.md)")
				} else if !resource.ValidAction(k, action) {
					return usageErr(fmt.Errorf("--action %q is not an action on %s resources", action, k), "the actions on "+string(k)+" are "+strings.Join(resource.Actions(k), ", "))
				}
			}
			req := policy.Request{Plugin: plugin, Action: action, Now: time.Now(), Publisher: publisher, PublisherKeyID: publisherKey}
			perms, pub, keyID, from, err := pluginPermissions(ctx, st, plugin, manifestPath)
			if err != nil {
				return err
			}
			if req.Publisher == "" {
				req.Publisher = pub
			}
			if req.PublisherKeyID == "" {
				req.PublisherKeyID = keyID
			}
			ropts := resource.Options{}
			req.Manifest, err = policy.NewManifest(perms, ropts)
			if err != nil {
				return withHint(fmt.Errorf("read the manifest of %s (%s): %w", plugin, from, err), "fix the manifest; 'warden lint' lists every fault")
			}
			if strings.Contains(res, "*") || strings.HasPrefix(res, "filesystem:~") {
				if req.Pattern, err = resource.ParseWith(res, ropts); err != nil {
					return usageErr(err, "--resource takes a resource name or pattern (docs/resources.md)")
				}
			} else {
				req.Resource = res
			}
			rows, err := st.ActiveGrants(ctx, req.Now)
			if err != nil {
				return err
			}
			grants, gerr := policy.NewGrants(rows, ropts)
			if gerr != nil {
				fmt.Fprintf(a.errOut, "warning: %v\n", gerr)
			}
			d := policy.NewEngine(pol, grants).Decide(req)
			if a.json {
				return a.printJSON(explainJSON{
					Plugin: plugin, Resource: res, Action: action,
					Effect: string(d.Effect), By: d.By, Reason: d.Reason,
					MaxTTLSeconds: int64(d.MaxTTL / time.Second),
					Policy:        pol.Source, Manifest: from,
				})
			}
			fmt.Fprintf(a.out, "%s (%s)\n%s\n", d.Effect, d.By, d.Reason)
			fmt.Fprintf(a.out, "policy: %s; manifest: %s\n", pol.Source, from)
			if d.MaxTTL > 0 {
				fmt.Fprintf(a.out, "a token for it may live at most %s\n", d.MaxTTL.Round(time.Second))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&plugin, "plugin", "", "plugin id (required)")
	f.StringVar(&res, "resource", "", "resource name or pattern (required)")
	f.StringVar(&action, "action", "", "action, e.g. read, get, spawn (required)")
	f.StringVar(&policyFile, "policy", "", "policy file (default <home>/"+policyFileName+", else the built-in default)")
	f.StringVar(&manifestPath, "manifest", "", "manifest file or directory, when the plugin is not installed")
	f.StringVar(&publisher, "publisher", "", "publisher name (default: from the installed plugin or manifest)")
	f.StringVar(&publisherKey, "publisher-key", "", "publisher key id (default: from the installed plugin or manifest)")
	for _, name := range []string{"plugin", "resource", "action"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

type explainJSON struct {
	Plugin        string `json:"plugin"`
	Resource      string `json:"resource"`
	Action        string `json:"action"`
	Effect        string `json:"effect"`
	By            string `json:"by"`
	Reason        string `json:"reason"`
	MaxTTLSeconds int64  `json:"max_ttl_seconds"`
	Policy        string `json:"policy"`
	Manifest      string `json:"manifest"`
}

// pluginPermissions returns the manifest permissions and publisher of plugin:
// from the installed plugins table, else from the manifest at path. from says
// which, for the explanation.
func pluginPermissions(ctx context.Context, st *store.Store, plugin, path string) (perms []policy.Permission, pub, keyID, from string, err error) {
	var m *manifest.Manifest
	installed, gerr := st.GetPlugin(ctx, plugin)
	switch {
	case gerr == nil:
		m, err = manifest.Parse(installed.Manifest)
		if err != nil {
			return nil, "", "", "", withHint(fmt.Errorf("installed manifest of %s: %w", plugin, err), "reinstall the plugin")
		}
		from = "installed plugin " + plugin + " " + installed.Version
		pub, keyID = installed.Publisher, installed.KeyID
	case !errors.Is(gerr, store.ErrNotFound):
		return nil, "", "", "", gerr
	case path != "":
		m, err = manifest.LoadWith(path, manifest.ValidateOptions{SkipEntry: true})
		if err != nil {
			return nil, "", "", "", withHint(err, "fix the manifest first; 'warden lint "+path+"' lists every fault")
		}
		from = path
	default:
		return nil, "", "", "", usageErr(fmt.Errorf("plugin %s is not installed", plugin), "pass --manifest PATH to explain with a manifest file")
	}
	if pub == "" {
		pub = m.Publisher.Name
	}
	if keyID == "" {
		keyID = m.Publisher.KeyID
	}
	for _, p := range m.Permissions {
		perms = append(perms, policy.Permission{Resource: p.Resource, Actions: p.Actions})
	}
	return perms, pub, keyID, from, nil
}
