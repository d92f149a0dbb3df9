package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/bundle"
	"github.com/wardenproject/warden/bundle/install"
	"github.com/wardenproject/warden/consent"
	"github.com/wardenproject/warden/internal/home"
	"github.com/wardenproject/warden/store"
	"github.com/wardenproject/warden/trust"
)

func init() {
	register(installCmd)
	register(listCmd)
	register(uninstallCmd)
}

func (a *app) installConfig(cmd *cobra.Command, policyFile string) (install.Config, func(), error) {
	homeDir, err := a.home()
	if err != nil {
		return install.Config{}, nil, err
	}
	reg, err := trust.Open(homeDir)
	if err != nil {
		return install.Config{}, nil, withHint(err, "inspect or remove the damaged file under "+homeDir+"/trust")
	}
	pol, err := a.loadPolicy(homeDir, policyFile)
	if err != nil {
		return install.Config{}, nil, err
	}
	st, err := openStateStore(ctxOf(cmd), a, homeDir)
	if err != nil {
		return install.Config{}, nil, err
	}
	return install.Config{Home: homeDir, Store: st, Trust: reg, Policy: pol}, func() { st.Close() }, nil
}

func installCmd(a *app) *cobra.Command {
	var yes, upgrade, allowDowngrade bool
	var policyFile string
	cmd := &cobra.Command{
		Use:   "install BUNDLE [--yes] [--upgrade [--allow-downgrade]]",
		Short: "Verify a bundle, ask for consent, and install the plugin",
		Long: `install verifies BUNDLE (it must be valid-trusted), runs the submission checks
(no lint errors, SBOM and provenance present, risk within the policy's max_risk),
then shows the consent screen: every permission with its resource, actions,
reason and risk; accept all (a), toggle some (1-9, space) and accept (Enter),
or refuse (r, Ctrl-C). Publishers pre-approved by the policy skip the screen.
--yes installs with every permission, only where the policy sets
unattended_install: true. Files go to <home>/plugins/NAME/VERSION/.

Grants that exist already are shown on the screen as lines of their own:
those you gave with 'warden grant --key' before the install (marked when
pinned to this bundle's key) and, on an upgrade, the installed version's.
A line left cleared is a grant removed, and only what stays marked applies.
Without a screen (pre-approval, --yes) no grant given before the install is
confirmed: they are removed. Every grant is for this install only; an
uninstall and reinstall starts with none.

--upgrade replaces an installed older version from the same publisher key:
the consent screen asks only about new or changed permissions, unchanged ones
keep their grants, and your own grants stay where the new manifest still
covers them (the rest are removed and logged). A lower version needs
--allow-downgrade. If anything fails, the old version stays installed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := bundle.ReadFile(args[0], bundle.Limits{})
			if err != nil {
				return &exitError{code: bundle.ExitCodeUnreadable, err: err, hint: "the file is not a bundle warden will open; do not install it"}
			}
			cfg, done, err := a.installConfig(cmd, policyFile)
			if err != nil {
				return err
			}
			defer done()
			cfg.Yes = yes
			cfg.Upgrade = upgrade || allowDowngrade
			cfg.AllowDowngrade = allowDowngrade
			restore := func() {}
			if f, ok := a.in.(*os.File); ok && !yes && isTerminal(f) && isTerminal(a.out) {
				raw, err := consent.MakeRaw(f)
				if err != nil {
					return err
				}
				restore = sync.OnceFunc(raw)
				defer restore()
				cfg.Prompter = consent.New(f, a.out)
			}
			rep, err := install.Install(ctxOf(cmd), b, cfg)
			// Leave raw mode before printing the outcome: in raw mode "\n"
			// does not return the carriage, and the lines would stair-step.
			restore()
			if lerr := a.logInstall(ctxOf(cmd), cfg.Home, b, rep, err); lerr != nil && err == nil {
				return withHint(lerr, "the plugin is installed; run 'warden audit verify' to see why its install event was not logged")
			}
			var ve *install.VerifyError
			var pe *install.PolicyError
			switch {
			case errors.As(err, &ve):
				return &exitError{code: ve.Result.ExitCode, err: err, hint: "run 'warden verify " + args[0] + "' for details; only valid-trusted bundles install"}
			case errors.Is(err, install.ErrNeedsConsent):
				return withHint(err, "run it in a terminal to see the consent screen, or pass --yes where the policy sets unattended_install: true")
			case errors.As(err, &pe) && pe.Decision.By == "policy:unattended_install":
				pf := policyFile
				if pf == "" {
					pf = filepath.Join(cfg.Home, policyFileName)
				}
				return withHint(err, "run 'warden install "+args[0]+"' in a terminal and answer the consent screen, or set unattended_install: true in "+pf)
			case errors.Is(err, install.ErrPolicy):
				return withHint(err, "ask your administrator; 'warden policy check' shows the policy in force")
			case errors.Is(err, install.ErrInstalled) && !cfg.Upgrade:
				return withHint(err, "pass --upgrade to replace it with this version, or run 'warden uninstall "+b.Manifest().Name+"' first")
			case errors.Is(err, install.ErrInstalled):
				return withHint(err, "to reinstall the same version, run 'warden uninstall "+b.Manifest().Name+"' first")
			case errors.Is(err, install.ErrDowngrade):
				return withHint(err, "pass --allow-downgrade if you mean to go back to this version")
			case errors.Is(err, install.ErrPublisherChanged):
				return withHint(err, "grants given to one publisher do not carry to another; run 'warden uninstall "+b.Manifest().Name+"' first, then install")
			case errors.Is(err, home.ErrProtected):
				return withHint(err, "the plugin asks for warden's own state; nothing was installed, and the refusal is in the audit ledger")
			case errors.Is(err, install.ErrSubmission):
				return withHint(err, "the publisher must fix the bundle; 'warden lint' shows manifest faults")
			case errors.Is(err, install.ErrRefused), errors.Is(err, install.ErrInterrupted):
				return withHint(err, "nothing was installed")
			case errors.Is(err, store.ErrNotRecorded):
				return withHint(err, "the plugin is installed; check the audit ledger (is another warden holding it?)")
			case err != nil:
				return err
			}
			if a.json {
				return a.printJSON(rep)
			}
			if rep.Previous != "" {
				fmt.Fprintf(a.out, "replaced %s %s with %s (%s, risk %d) in %s: %d new grant(s), %d kept, %d confirmed, %d removed\n",
					rep.Plugin, rep.Previous, rep.Version, rep.By, rep.Risk, rep.Path, len(rep.Grants), len(rep.Kept), len(rep.Confirmed), len(rep.Removed))
				return nil
			}
			fmt.Fprintf(a.out, "installed %s %s (%s, risk %d) in %s with %d grant(s)", rep.Plugin, rep.Version, rep.By, rep.Risk, rep.Path, len(rep.Grants))
			if len(rep.Confirmed) > 0 || len(rep.Removed) > 0 {
				fmt.Fprintf(a.out, "; of the grants given before the install, %d confirmed and %d removed", len(rep.Confirmed), len(rep.Removed))
			}
			fmt.Fprintln(a.out)
			return nil
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "install without the consent screen (needs unattended_install in the policy)")
	cmd.Flags().StringVar(&policyFile, "policy", "", "policy file (default <home>/policy.yaml, else built-in)")
	cmd.Flags().BoolVar(&upgrade, "upgrade", false, "replace an installed older version (asks only about new or changed permissions)")
	cmd.Flags().BoolVar(&allowDowngrade, "allow-downgrade", false, "with --upgrade: allow installing a lower version than the installed one")
	return cmd
}

func listCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List installed plugins with version, publisher, trust state and risk",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, done, err := a.installConfig(cmd, "")
			if err != nil {
				return err
			}
			defer done()
			ps, err := install.List(ctxOf(cmd), cfg)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(ps)
			}
			if len(ps) == 0 {
				fmt.Fprintln(a.out, "no plugins installed")
				return nil
			}
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tPUBLISHER\tTRUST\tRISK")
			for _, p := range ps {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", p.Name, p.Version, p.Publisher, p.Trust, p.Risk)
			}
			return tw.Flush()
		},
	}
}

func uninstallCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "uninstall NAME",
		Short: "Remove a plugin, its grants and data, and revoke its tokens",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, done, err := a.installConfig(cmd, "")
			if err != nil {
				return err
			}
			defer done()
			if err := install.Uninstall(ctxOf(cmd), args[0], cfg); err != nil {
				if errors.Is(err, install.ErrNotInstalled) {
					return withHint(err, "run 'warden list' for installed plugins")
				}
				return err
			}
			ev := &audit.Event{Action: audit.ActionUninstall, Resource: "plugin:" + args[0] + "#*", Outcome: audit.OutcomeOK}
			if err := (ledgerRecorder{home: cfg.Home, notice: a.errOut}).append(ctxOf(cmd), ev, "uninstall"); err != nil {
				return withHint(err, "the plugin is uninstalled; run 'warden audit verify' to see why the event was not logged")
			}
			if a.json {
				return a.printJSON(map[string]string{"uninstalled": args[0]})
			}
			fmt.Fprintf(a.out, "uninstalled %s; its grants and data are gone and its tokens revoked\n", args[0])
			return nil
		},
	}
}

// logInstall records an install attempt in the audit ledger: the plugin, the
// bundle digest and signer, who decided (consent screen, policy, --yes), the
// grants given, and for a refusal the reason. A refused install leaves a trace
// too, so that a security team sees what was offered and turned down.
func (a *app) logInstall(ctx context.Context, homeDir string, b *bundle.Bundle, rep install.Report, err error) error {
	m := b.Manifest()
	ev := &audit.Event{
		Action:   audit.ActionInstall,
		Resource: "plugin:" + m.Name + "#*",
		Outcome:  audit.OutcomeOK,
		Detail:   map[string]string{"version": m.Version, "publisher": m.Publisher.Name},
	}
	if rep.Digest != "" {
		ev.Detail["digest"] = rep.Digest
		ev.Detail["key_id"] = rep.KeyID
		ev.Detail["by"] = rep.By
		ev.Detail["risk"] = strconv.Itoa(rep.Risk)
		ev.Detail["grants"] = strconv.Itoa(len(rep.Grants))
		// Each of these grants has its own grant or revoke event; the
		// counts tie them to this install.
		ev.Detail["grants_confirmed"] = strconv.Itoa(len(rep.Confirmed))
		ev.Detail["grants_removed"] = strconv.Itoa(len(rep.Removed))
	}
	if rep.Previous != "" {
		ev.Detail["previous_version"] = rep.Previous
	}
	if err != nil {
		if errors.Is(err, store.ErrNotRecorded) {
			return nil // installed; its grant events failed to log and the command says so
		}
		ev.Outcome = audit.OutcomeError
		ev.Error = &audit.Error{Code: installErrorCode(err), Message: err.Error()}
	}
	return (ledgerRecorder{home: homeDir, notice: a.errOut}).append(ctx, ev, "install")
}

// installErrorCode names why an install did not happen, for the audit event.
func installErrorCode(err error) string {
	var ve *install.VerifyError
	switch {
	case errors.As(err, &ve):
		return string(ve.Result.State)
	case errors.Is(err, install.ErrRefused):
		return "refused"
	case errors.Is(err, install.ErrInterrupted):
		return "interrupted"
	case errors.Is(err, install.ErrNeedsConsent):
		return "needs_consent"
	case errors.Is(err, install.ErrPolicy):
		return "policy"
	case errors.Is(err, home.ErrProtected):
		return "protected"
	case errors.Is(err, install.ErrSubmission):
		return "submission_checks"
	case errors.Is(err, install.ErrInstalled), errors.Is(err, install.ErrDowngrade), errors.Is(err, install.ErrPublisherChanged):
		return "conflict"
	}
	return "error"
}
