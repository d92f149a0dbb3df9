package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/internal/keyid"
	"github.com/wardenproject/warden/keyfile"
	"github.com/wardenproject/warden/trust"
)

func init() { register(trustCmd) }

func trustCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trust",
		Short: "Manage trusted publisher keys, the enterprise root and revocation lists",
		Long: `trust manages the trust registry under --home (docs/trust.md): publisher keys
you trust, the enterprise root key, the registry and revocation list the root
signs. Versions of signed documents only grow: an older one is refused.`,
	}
	cmd.AddCommand(trustAddCmd(a), trustListCmd(a), trustRemoveCmd(a), trustRootCmd(a),
		trustDocCmd(a, "registry"), trustDocCmd(a, "revocations"))
	return cmd
}

// readPublicArg reads a public key from a file, or parses the argument itself
// (base64 or a note verifier key).
func readPublicArg(arg string) (ed25519.PublicKey, error) {
	pub, err := keyfile.ReadPublic(arg)
	if err == nil {
		return pub, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		if p, perr := keyfile.ParsePublic([]byte(arg)); perr == nil {
			return p, nil
		}
	}
	return nil, err
}

func (a *app) openTrust(opts ...trust.OpenOption) (*trust.Registry, string, error) {
	homeDir, err := a.home()
	if err != nil {
		return nil, "", err
	}
	r, err := trust.Open(homeDir, opts...)
	if err != nil {
		return nil, "", withHint(err, trustOpenHint(err, homeDir))
	}
	return r, homeDir, nil
}

// trustOpenHint says what to do when the stored trust state does not open.
func trustOpenHint(err error, homeDir string) string {
	if errors.Is(err, trust.ErrRollback) || errors.Is(err, trust.ErrMissing) {
		return "a stored enterprise document was replaced by an older one or deleted; load the current one again " +
			"('warden trust revocations load FILE|URL' or 'warden trust registry load FILE|URL'), which works even now"
	}
	return "inspect the damaged file under " + homeDir + "/trust; if it is an enterprise document, remove it and load the current one again"
}

func trustAddCmd(a *app) *cobra.Command {
	var publisher, expires string
	cmd := &cobra.Command{
		Use:     "add PUBKEY --publisher NAME [--expires 2027-01-01]",
		Short:   "Trust a publisher's public key",
		Example: `  warden trust add acme.pub --publisher "Acme AI" --expires 2027-01-01`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if publisher == "" {
				return usageErr(errors.New("trust add needs --publisher NAME"), "use the publisher name the plugin manifests carry")
			}
			var exp time.Time
			if expires != "" {
				t, err := time.Parse(time.DateOnly, expires)
				if err != nil {
					return usageErr(fmt.Errorf("--expires %q is not a date like 2027-01-01", expires), "give the last day in YYYY-MM-DD form")
				}
				exp = t.UTC()
			}
			pub, err := readPublicArg(args[0])
			if err != nil {
				return withHint(err, "pass the NAME.pub file written by 'warden keygen --publisher NAME'")
			}
			r, _, err := a.openTrust()
			if err != nil {
				return err
			}
			k, err := r.Add(pub, publisher, exp)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(k)
			}
			fmt.Fprintf(a.out, "trusted %s for %q", k.ID, k.Publisher)
			if !exp.IsZero() {
				fmt.Fprintf(a.out, " until %s", exp.Format(time.DateOnly))
			}
			fmt.Fprintln(a.out)
			return nil
		},
	}
	cmd.Flags().StringVar(&publisher, "publisher", "", "publisher name as written in manifests")
	cmd.Flags().StringVar(&expires, "expires", "", "date (YYYY-MM-DD, UTC) from which the key is no longer trusted")
	return cmd
}

func trustListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List trusted publisher keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, _, err := a.openTrust()
			if err != nil {
				return err
			}
			keys := r.Keys()
			type row struct {
				trust.Key
				State string `json:"state"`
			}
			rows := []row{}
			for _, k := range keys {
				rows = append(rows, row{k, r.State(k.ID)})
			}
			regV, revV := r.Versions()
			if a.json {
				root := ""
				if pub, ok := r.Root(); ok {
					root = keyid.Of(pub)
				}
				return a.printJSON(map[string]any{"keys": rows, "root": root, "registry_version": regV, "revocations_version": revV})
			}
			if len(rows) == 0 {
				fmt.Fprintln(a.out, "no trusted publisher keys; add one with 'warden trust add PUBKEY --publisher NAME'")
			} else {
				tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "KEY ID\tPUBLISHER\tSOURCE\tEXPIRES\tSTATE")
				for _, k := range rows {
					exp := "never"
					if !k.Expires.IsZero() {
						exp = k.Expires.Format(time.DateOnly)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Publisher, k.Source, exp, k.State)
				}
				tw.Flush()
			}
			if pub, ok := r.Root(); ok {
				fmt.Fprintf(a.out, "enterprise root %s (registry v%d, revocations v%d)\n", keyid.Of(pub), regV, revV)
			}
			return nil
		},
	}
}

func trustRemoveCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "remove KEYID",
		Short: "Stop trusting a publisher key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, _, err := a.openTrust()
			if err != nil {
				return err
			}
			if err := r.Remove(args[0]); err != nil {
				if errors.Is(err, trust.ErrNotFound) {
					return withHint(err, "run 'warden trust list' for the key ids")
				}
				return err
			}
			if a.json {
				return a.printJSON(map[string]string{"removed": args[0]})
			}
			fmt.Fprintf(a.out, "no longer trusting %s\n", args[0])
			return nil
		},
	}
}

func trustRootCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "root", Short: "Set or show the enterprise root key"}
	cmd.AddCommand(&cobra.Command{
		Use:   "set PUBKEY",
		Short: "Make PUBKEY the enterprise root key that signs registries and revocation lists",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pub, err := readPublicArg(args[0])
			if err != nil {
				return withHint(err, "pass the enterprise root's public key file")
			}
			r, _, err := a.openTrust()
			if err != nil {
				return err
			}
			if err := r.SetRoot(pub); err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]string{"root": keyid.Of(pub)})
			}
			fmt.Fprintf(a.out, "enterprise root key is %s\n", keyid.Of(pub))
			return nil
		},
	}, &cobra.Command{
		Use:   "show",
		Short: "Show the enterprise root key id",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, _, err := a.openTrust()
			if err != nil {
				return err
			}
			pub, ok := r.Root()
			if !ok {
				return withHint(errors.New("no enterprise root key is set"), "run 'warden trust root set PUBKEY'")
			}
			if a.json {
				return a.printJSON(map[string]string{"root": keyid.Of(pub)})
			}
			fmt.Fprintln(a.out, keyid.Of(pub))
			return nil
		},
	})
	return cmd
}

// trustDocCmd builds "trust registry" or "trust revocations": load a signed
// document (file or URL), or sign one with the root key.
func trustDocCmd(a *app, kind string) *cobra.Command {
	cmd := &cobra.Command{Use: kind}
	if kind == "registry" {
		cmd.Short = "Load or sign the enterprise registry of publisher keys"
	} else {
		cmd.Short = "Load or sign a revocation list"
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "load FILE|URL",
		Short: "Verify and apply a signed " + kind + " document",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// ForReload: this is the way back from a stored document that was
			// rolled back or deleted; the floors still apply to what is loaded.
			r, homeDir, err := a.openTrust(trust.ForReload())
			if err != nil {
				return err
			}
			data, err := trust.Fetch(ctxOf(cmd), args[0], nil)
			if err != nil {
				return err
			}
			hint := func(err error) error {
				switch {
				case errors.Is(err, trust.ErrNoRoot):
					return withHint(err, "run 'warden trust root set ROOT.pub' first")
				case errors.Is(err, trust.ErrRollback):
					return withHint(err, "this is an older document than one already accepted; get the current one from your administrator")
				}
				return withHint(err, "the document must be signed by the enterprise root key (docs/trust.md)")
			}
			if kind == "registry" {
				v, err := r.LoadRegistry(data)
				if err != nil {
					return hint(err)
				}
				if a.json {
					return a.printJSON(map[string]any{"registry_version": v})
				}
				fmt.Fprintf(a.out, "enterprise registry version %d in force\n", v)
				return nil
			}
			l, err := r.LoadRevocations(data)
			if err != nil {
				return hint(err)
			}
			st, err := openStateStore(ctxOf(cmd), a, homeDir)
			if err != nil {
				return err
			}
			defer st.Close()
			applied, err := trust.Apply(ctxOf(cmd), st, l)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(map[string]any{"revocations_version": l.Version(), "applied": applied})
			}
			fmt.Fprintf(a.out, "revocation list version %d in force: %d plugin(s) quarantined, %d key(s) and %d token(s) revoked\n",
				l.Version(), len(applied.Quarantined), applied.Keys, applied.Tokens)
			for _, p := range applied.Quarantined {
				fmt.Fprintf(a.out, "  quarantined %s\n", p)
			}
			return nil
		},
	})
	var keyPath, out string
	sign := &cobra.Command{
		Use:   "sign DOC.json --key ROOT.key [-o FILE]",
		Short: "Sign a " + kind + " document with the enterprise root key (docs/trust.md)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyPath == "" {
				return usageErr(errors.New("sign needs --key ROOT.key"), "pass the enterprise root private key")
			}
			priv, err := keyfile.ReadPrivate(keyPath, a.signingPassphrase)
			if err != nil {
				return withHint(err, "pass the root key's PKCS#8 PEM file (mode 0600)")
			}
			raw, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			var signed []byte
			if kind == "registry" {
				var doc trust.RegistryDoc
				if err := strictJSON(raw, &doc); err != nil {
					return withHint(fmt.Errorf("%s: %w", args[0], err), "see docs/trust.md for the registry document")
				}
				signed, err = trust.SignRegistry(ctxOf(cmd), doc, priv)
				if err != nil {
					return err
				}
			} else {
				var doc trust.RevocationDoc
				if err := strictJSON(raw, &doc); err != nil {
					return withHint(fmt.Errorf("%s: %w", args[0], err), "see docs/trust.md for the revocation document")
				}
				signed, err = trust.SignRevocations(ctxOf(cmd), doc, priv)
				if err != nil {
					return err
				}
			}
			if out == "" || out == "-" {
				_, err := a.out.Write(signed)
				return err
			}
			return os.WriteFile(out, signed, 0o644)
		},
	}
	sign.Flags().StringVar(&keyPath, "key", "", "enterprise root private key")
	sign.Flags().StringVarP(&out, "output", "o", "", "file to write (default: standard output)")
	cmd.AddCommand(sign)
	return cmd
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
