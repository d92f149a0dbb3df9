package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/bundle/install"
	"github.com/wardenproject/warden/manifest"
	"github.com/wardenproject/warden/store"
)

func init() { register(showCmd) }

// showView is what `warden show` prints: one installed plugin as a person
// deciding whether to trust it needs to see it.
type showView struct {
	Name        string                `json:"name"`
	Version     string                `json:"version"`
	Description string                `json:"description,omitempty"`
	Publisher   string                `json:"publisher,omitempty"`
	KeyID       string                `json:"key_id,omitempty"`
	Trust       string                `json:"trust"`
	State       string                `json:"state"`
	Risk        int                   `json:"risk"`
	Digest      string                `json:"digest,omitempty"`
	InstalledAt time.Time             `json:"installed_at"`
	Permissions []manifest.Permission `json:"permissions"`
	Grants      []showGrant           `json:"grants"`
	Tools       []showTool            `json:"tools"`
	Revocations []store.Revocation    `json:"revocations"`
	Limits      manifest.Limits       `json:"limits"`
}

type showGrant struct {
	store.Grant
	Status string `json:"status"` // active, expired, pending, not bound
}

type showTool struct {
	Name        string                `json:"name"`
	Description string                `json:"description,omitempty"`
	Annotations *manifest.Annotations `json:"annotations,omitempty"`
}

func showCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "show PLUGIN",
		Short: "Show one installed plugin: permissions and reasons, grants, tools, risk, trust, revocations",
		Long: `show prints what an installed plugin may do and why: each permission its
manifest declares with the publisher's reason, the grants that let it use them
(active, expired, or pending confirmation), its tools and their annotations,
its risk score, whether its publisher key is trusted, and any revocation or
quarantine that stops it.`,
		Args: cobra.ExactArgs(1),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			return a.completePlugins(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := ctxOf(cmd)
			cfg, done, err := a.installConfig(cmd, "")
			if err != nil {
				return err
			}
			defer done()
			name := args[0]
			rec, err := cfg.Store.GetPlugin(ctx, name)
			if errors.Is(err, store.ErrNotFound) {
				return usageErr(fmt.Errorf("no plugin %q is installed", name), "'warden list' shows what is installed")
			}
			if err != nil {
				return err
			}
			var m manifest.Manifest
			if err := json.Unmarshal(rec.Manifest, &m); err != nil {
				return withHint(fmt.Errorf("the stored manifest of %s: %w", name, err), "reinstall the plugin")
			}
			v := showView{Name: rec.ID, Version: rec.Version, Description: m.Description, Publisher: rec.Publisher, KeyID: rec.KeyID,
				State: string(rec.State), Risk: rec.Risk, Digest: rec.Digest, InstalledAt: rec.InstalledAt,
				Permissions: m.Permissions, Limits: m.Limits, Grants: []showGrant{}, Tools: []showTool{}, Revocations: []store.Revocation{}}
			ps, err := install.List(ctx, cfg)
			if err != nil {
				return err
			}
			for _, p := range ps {
				if p.Name == name {
					v.Trust = p.Trust
				}
			}
			gs, err := cfg.Store.ListGrants(ctx, name)
			if err != nil {
				return err
			}
			now := time.Now()
			for _, g := range gs {
				st := "active"
				switch {
				case g.Pending():
					st = "pending (confirm it on the consent screen of an install)"
				case !g.BoundTo(rec):
					st = "not bound to this install (it does not apply)"
				case !g.Active(now):
					st = "expired"
				}
				v.Grants = append(v.Grants, showGrant{Grant: g, Status: st})
			}
			for _, t := range m.Tools {
				v.Tools = append(v.Tools, showTool{Name: t.Name, Description: t.Description, Annotations: t.Annotations})
			}
			rvs, err := revocationsOf(ctx, cfg.Store)
			if err != nil {
				return err
			}
			for _, r := range rvs {
				if r.Kind == store.RevokePlugin && r.Value == name || r.Kind == store.RevokePublisher && r.Value == rec.Publisher ||
					r.Kind == store.RevokeKey && r.Value == rec.KeyID {
					v.Revocations = append(v.Revocations, r)
				}
			}
			if a.json {
				return a.printJSON(v)
			}
			return printShow(a, v)
		},
	}
}

func printShow(a *app, v showView) error {
	w := a.out
	fmt.Fprintf(w, "%s %s", v.Name, v.Version)
	if v.Description != "" {
		fmt.Fprintf(w, " — %s", v.Description)
	}
	fmt.Fprintln(w)
	pub := v.Publisher
	if pub == "" {
		pub = "(none)"
	}
	fmt.Fprintf(w, "publisher   %s, %s, %s\n", pub, orNone(v.KeyID), v.Trust)
	fmt.Fprintf(w, "state       %s, risk %d/100, installed %s\n", v.State, v.Risk, v.InstalledAt.Local().Format(time.RFC3339))
	if v.Digest != "" {
		fmt.Fprintf(w, "digest      %s\n", v.Digest)
	}
	fmt.Fprintf(w, "\npermissions it may ask for (%d):\n", len(v.Permissions))
	for _, p := range v.Permissions {
		fmt.Fprintf(w, "  %s  %s\n      why: %s\n", p.Resource, strings.Join(p.Actions, ","), p.Reason)
	}
	fmt.Fprintf(w, "\ngrants (%d):\n", len(v.Grants))
	if len(v.Grants) == 0 {
		fmt.Fprintln(w, "  none: it can use no permission until you grant one ('warden grant')")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, g := range v.Grants {
		exp := "never expires"
		if !g.Expires.IsZero() {
			exp = "until " + g.Expires.Local().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "  #%d\t%s\t%s\t%s\t%s\n", g.ID, g.Resource, strings.Join(g.Actions, ","), exp, g.Status)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\ntools (%d):\n", len(v.Tools))
	for _, t := range v.Tools {
		fmt.Fprintf(w, "  %s", t.Name)
		if h := hints(t.Annotations); h != "" {
			fmt.Fprintf(w, "  [%s]", h)
		}
		fmt.Fprintln(w)
		if t.Description != "" {
			fmt.Fprintf(w, "      %s\n", t.Description)
		}
	}
	if len(v.Revocations) > 0 {
		fmt.Fprintf(w, "\nrevoked:\n")
		for _, r := range v.Revocations {
			reason := r.Reason
			if reason == "" {
				reason = "no reason given"
			}
			fmt.Fprintf(w, "  %s %s since %s: %s\n", r.Kind, r.Value, r.Created.Local().Format(time.RFC3339), reason)
		}
	}
	return nil
}

// hints renders a tool's annotations as words; annotations are the
// publisher's claims, never a boundary.
func hints(an *manifest.Annotations) string {
	if an == nil {
		return ""
	}
	var out []string
	for _, h := range []struct {
		v    *bool
		word string
	}{{an.ReadOnlyHint, "read-only"}, {an.DestructiveHint, "destructive"}, {an.IdempotentHint, "idempotent"}, {an.OpenWorldHint, "open world"}} {
		if h.v != nil && *h.v {
			out = append(out, h.word)
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "says: " + strings.Join(out, ", ")
}

// revocationsOf lists the local revocations, from a store that keeps them.
func revocationsOf(ctx context.Context, s install.Store) ([]store.Revocation, error) {
	rs, ok := s.(interface {
		Revocations(context.Context) ([]store.Revocation, error)
	})
	if !ok {
		return nil, nil
	}
	return rs.Revocations(ctx)
}
