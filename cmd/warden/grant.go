package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/internal/home"
	"github.com/wardenproject/warden/internal/keyid"
	"github.com/wardenproject/warden/manifest"
	"github.com/wardenproject/warden/policy"
	"github.com/wardenproject/warden/resource"
	"github.com/wardenproject/warden/store"
)

// auditRecorder is the seam for the audit ledger: the store reports every
// grant, grant deletion and revocation it commits to the Recorder returned
// here. Until the ledger is wired it returns nil and nothing is recorded.
var auditRecorder = func(a *app, homeDir string) store.Recorder { return nil }

// openStateStore opens <home>/state.db with the audit seam attached.
func openStateStore(ctx context.Context, a *app, homeDir string) (*store.Store, error) {
	var opts []store.Option
	if r := auditRecorder(a, homeDir); r != nil {
		opts = append(opts, store.WithRecorder(r))
	}
	st, err := store.Open(ctx, store.Path(homeDir), opts...)
	if err != nil {
		if errors.Is(err, store.ErrSchemaTooNew) {
			return nil, withHint(err, "a newer warden wrote this home; upgrade warden")
		}
		return nil, withHint(err, "check that --home is yours and private (chmod 700)")
	}
	return st, nil
}

// homeStore opens the state store of the resolved --home.
func (a *app) homeStore(ctx context.Context) (*store.Store, error) {
	homeDir, err := a.home()
	if err != nil {
		return nil, err
	}
	return openStateStore(ctx, a, homeDir)
}

func ctxOf(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

func init() {
	register(grantCmd)
	register(grantsCmd)
	register(revokeCmd)
}

func grantCmd(a *app) *cobra.Command {
	var ttl time.Duration
	var note, key string
	cmd := &cobra.Command{
		Use:   "grant PLUGIN RESOURCE ACTIONS [--key KEY_ID]",
		Short: "Let a plugin use a resource (within its manifest)",
		Long: `grant records that you let PLUGIN do ACTIONS (comma-separated) on the
resource pattern RESOURCE. A leading "~" expands to your home directory now.

A grant is for the plugin as it is installed now: its publisher key and this
install. It never applies to a plugin of the same name from another publisher
or key, nor after the plugin is uninstalled and installed again. A grant
outside the installed plugin's manifest is refused.

For a plugin that is not installed yet, name the publisher key it is for with
--key (see 'warden trust list'): the grant waits, pending, and applies to
nothing until that publisher's PLUGIN is installed and you confirm the grant
on its consent screen, where it is shown marked; clear it there to drop it.
Without --key a grant to a plugin that is not installed is refused: warden
could not tell whose plugin it is for.

The enterprise policy still applies: a grant never overrides a deny rule or
an always-ask category. A grant that reaches warden's own home (this one,
$WARDEN_HOME's or the default), its cache or its policy file, by containing
it, lying inside it or through a symlink, is refused and the refusal logged.`,
		Example: `  warden grant sheet-gen 'filesystem:~/Documents/Reports/**' read,list --ttl 24h
  warden grant sheet-gen 'filesystem:~/Documents/Reports/**' read --key ed25519:21fe31dfa154a261`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := ctxOf(cmd)
			plugin, res := args[0], args[1]
			if !resource.ValidPluginID(plugin) {
				return usageErr(fmt.Errorf("%q is not a plugin id", plugin), "a plugin id is lower-case letters, digits, '.', '_' and '-'")
			}
			pat, err := resource.Parse(res)
			if err != nil {
				return usageErr(err, "write a resource pattern such as 'filesystem:~/Documents/**' (docs/resources.md)")
			}
			acts := strings.Split(args[2], ",")
			for i := range acts {
				acts[i] = strings.TrimSpace(acts[i])
			}
			if err := resource.CheckActions(pat.Kind(), acts); err != nil {
				return usageErr(err, "name actions comma-separated, e.g. read,list")
			}
			if ttl < 0 {
				return usageErr(fmt.Errorf("--ttl %s is negative", ttl), "pass a positive duration such as 24h, or leave --ttl out for no expiry")
			}
			if wild, why := pat.Wildcard(); wild {
				fmt.Fprintf(a.errOut, "warning: %s is very broad: it %s\n", pat, why)
			}
			st, err := a.homeStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()

			g := store.Grant{Plugin: plugin, Resource: pat.String(), Actions: acts, Source: store.SourceUser, Note: note}
			installed, err := st.GetPlugin(ctx, plugin)
			switch {
			case err == nil:
				if key != "" && key != installed.KeyID {
					return withHint(fmt.Errorf("refusing to grant: the installed %s is signed by %s, not %s", plugin, orNone(installed.KeyID), key),
						"'warden list' shows who signed it; a grant is for the plugin installed, from its own key")
				}
				if err := checkWithinManifest(installed, pat, acts); err != nil {
					return err
				}
				// Bound to the install just checked; the store refuses if
				// it is no longer the one installed.
				g.InstallID, g.KeyID = installed.InstallID, installed.KeyID
			case errors.Is(err, store.ErrNotFound) && key == "":
				return withHint(fmt.Errorf("refusing to grant: %s is not installed, so warden cannot tell whose %s the grant is for", plugin, plugin),
					"install it first ('warden install BUNDLE'), or pass --key KEY_ID (the publisher's key, see 'warden trust list') to keep the grant pending until that publisher's "+plugin+" is installed and you confirm it on the consent screen")
			case errors.Is(err, store.ErrNotFound):
				if !keyid.Valid(key) {
					return usageErr(fmt.Errorf("--key %q is not a key id", key), "a key id looks like ed25519:21fe31dfa154a261 ('warden trust list' shows them)")
				}
				g.KeyID = key
			default:
				return err
			}
			if ttl > 0 {
				g.Expires = time.Now().Add(ttl)
			}
			g, err = st.AddGrant(ctx, g)
			switch {
			case errors.Is(err, home.ErrProtected):
				return withHint(err, "warden's own home, cache and policy are out of every plugin's reach; the refusal is in the audit ledger")
			case errors.Is(err, store.ErrChanged), errors.Is(err, store.ErrExists):
				return withHint(err, "another warden installed, upgraded or removed "+plugin+" meanwhile; run the command again")
			case err != nil:
				return err
			}
			if a.json {
				return a.printJSON(g)
			}
			if g.Pending() {
				fmt.Fprintf(a.out, "grant %d (pending): %s may %s %s, %s, once you confirm it on the consent screen when %s from key %s is installed\n",
					g.ID, g.Plugin, strings.Join(g.Actions, ","), g.Resource, grantExpiry(g.Expires), g.Plugin, g.KeyID)
				return nil
			}
			fmt.Fprintf(a.out, "grant %d: %s may %s %s, %s\n", g.ID, g.Plugin, strings.Join(g.Actions, ","), g.Resource, grantExpiry(g.Expires))
			return nil
		},
	}
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "expire the grant after this long (e.g. 24h); default: no expiry")
	cmd.Flags().StringVar(&note, "note", "", "a note kept with the grant")
	cmd.Flags().StringVar(&key, "key", "", "the publisher key id the grant is for; needed when PLUGIN is not installed yet")
	return cmd
}

// orNone names a key id, or says there is none.
func orNone(keyID string) string {
	if keyID == "" {
		return "no publisher key"
	}
	return "key " + keyID
}

// checkWithinManifest refuses a grant that reaches outside the installed
// plugin's manifest.
func checkWithinManifest(p store.Plugin, pat resource.Pattern, acts []string) error {
	m, err := manifest.Parse(p.Manifest)
	if err != nil {
		return withHint(fmt.Errorf("installed manifest of %s: %w", p.ID, err), "reinstall the plugin")
	}
	perms := make([]policy.Permission, 0, len(m.Permissions))
	for _, q := range m.Permissions {
		perms = append(perms, policy.Permission{Resource: q.Resource, Actions: q.Actions})
	}
	pm, err := policy.NewManifest(perms, resource.Options{})
	if err != nil {
		return withHint(fmt.Errorf("installed manifest of %s: %w", p.ID, err), "reinstall the plugin")
	}
	if ok, missing := pm.Covers(pat, acts); !ok {
		return withHint(fmt.Errorf("refusing to grant %s %s on %s: its manifest does not declare it, and nothing outside a manifest can be granted",
			p.ID, missing, pat), "grant a narrower resource or fewer actions; 'warden grants' and the manifest show what is declared")
	}
	return nil
}

func grantExpiry(t time.Time) string {
	if t.IsZero() {
		return "no expiry"
	}
	return "expires " + t.UTC().Format(time.RFC3339)
}

func grantsCmd(a *app) *cobra.Command {
	var plugin string
	cmd := &cobra.Command{
		Use:   "grants",
		Short: "List grants, newest last, and whether each is bound or pending",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := ctxOf(cmd)
			st, err := a.homeStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			gs, err := st.ListGrants(ctx, plugin)
			if err != nil {
				return err
			}
			if a.json {
				if gs == nil {
					gs = []store.Grant{}
				}
				return a.printJSON(gs)
			}
			if len(gs) == 0 {
				fmt.Fprintln(a.out, "no grants")
				return nil
			}
			ps, err := st.ListPlugins(ctx)
			if err != nil {
				return err
			}
			rows := map[string]store.Plugin{}
			for _, p := range ps {
				rows[p.ID] = p
			}
			now := time.Now()
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPLUGIN\tRESOURCE\tACTIONS\tSOURCE\tEXPIRES\tSTATE")
			for _, g := range gs {
				exp := "never"
				if !g.Expires.IsZero() {
					exp = g.Expires.UTC().Format(time.RFC3339)
					if !g.Active(now) {
						exp += " (expired)"
					}
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", g.ID, g.Plugin, g.Resource, strings.Join(g.Actions, ","), g.Source, exp, grantState(g, rows))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&plugin, "plugin", "", "only this plugin's grants")
	return cmd
}

// grantState says whether g can apply: "bound" to the installed plugin,
// "pending" until confirmed on the consent screen of an install from the
// named key, or "stale" when bound to an install that is gone (it never
// applies again; revoke it).
func grantState(g store.Grant, installed map[string]store.Plugin) string {
	switch p, ok := installed[g.Plugin]; {
	case g.Pending() && g.KeyID == "":
		return "pending (any key)"
	case g.Pending():
		return "pending (" + g.KeyID + ")"
	case ok && g.BoundTo(p):
		return "bound"
	}
	return "stale"
}

func revokeCmd(a *app) *cobra.Command {
	var token, plugin, publisher, key, grant, reason string
	cmd := &cobra.Command{
		Use:   "revoke (--token JTI | --plugin P | --publisher X | --key ID | --grant ID)",
		Short: "Revoke a token, every token of a plugin or publisher, a key, or a grant",
		Long: `revoke takes effect at once for new verifications.

  --token JTI      one capability token, by its jti
  --plugin P       every token issued to plugin P until now
  --publisher X    every token issued to plugins of publisher X until now
  --key ID         a key, by key id
  --grant ID       delete one grant (see 'warden grants')`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := ctxOf(cmd)
			var kind store.RevocationKind
			var value string
			n := 0
			for _, c := range []struct {
				v string
				k store.RevocationKind
			}{{token, store.RevokeToken}, {plugin, store.RevokePlugin}, {publisher, store.RevokePublisher}, {key, store.RevokeKey}, {grant, "grant"}} {
				if c.v != "" {
					n++
					kind, value = c.k, c.v
				}
			}
			if n != 1 {
				return usageErr(errors.New("revoke takes exactly one of --token, --plugin, --publisher, --key, --grant"), "run 'warden revoke --help'")
			}
			st, err := a.homeStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			if kind == "grant" {
				id, err := strconv.ParseInt(value, 10, 64)
				if err != nil {
					return usageErr(fmt.Errorf("--grant %q is not a grant id", value), "'warden grants' lists grant ids")
				}
				if err := st.DeleteGrant(ctx, id); err != nil {
					if errors.Is(err, store.ErrNotFound) {
						return withHint(err, "'warden grants' lists grant ids")
					}
					return err
				}
				if a.json {
					return a.printJSON(map[string]any{"deleted_grant": id})
				}
				fmt.Fprintf(a.out, "grant %d deleted\n", id)
				return nil
			}
			r, err := st.Revoke(ctx, kind, value, reason)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(r)
			}
			switch kind {
			case store.RevokePlugin, store.RevokePublisher:
				fmt.Fprintf(a.out, "revoked every token issued to %s %s before %s\n", kind, value, r.RevokedBefore.Format(time.RFC3339Nano))
			default:
				fmt.Fprintf(a.out, "revoked %s %s\n", kind, value)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&token, "token", "", "token id (jti)")
	f.StringVar(&plugin, "plugin", "", "plugin id")
	f.StringVar(&publisher, "publisher", "", "publisher name or key id")
	f.StringVar(&key, "key", "", "key id")
	f.StringVar(&grant, "grant", "", "grant id to delete")
	f.StringVar(&reason, "reason", "", "why, kept with the revocation")
	return cmd
}
