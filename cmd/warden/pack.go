package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/wardenproject/warden/bundle"
	"github.com/wardenproject/warden/keyfile"
	"github.com/wardenproject/warden/trust"
)

// This file holds the bundle commands: pack, sign and verify.

func init() {
	register(packCmd)
	register(signCmd)
	register(verifyCmd)
}

// progressThreshold is the payload size above which pack and sign show
// progress on a terminal.
const progressThreshold = 8 << 20

func packCmd(a *app) *cobra.Command {
	var out string
	var include []string
	var build bool
	cmd := &cobra.Command{
		Use:   "pack DIR [-o FILE]",
		Short: "Pack a plugin directory into an unsigned bundle",
		Long: `pack reads DIR/manifest.json, the entry file and every --include file, writes
an SBOM (CycloneDX 1.6) and build provenance (in-toto, SLSA v1), and writes one
reproducible bundle file (docs/bundle-format.md). Sign it with 'warden sign'.

A Go plugin must be built first; --build runs
  GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared -o ENTRY .
in DIR. $SOURCE_DATE_EPOCH, when set, is recorded as the build time.`,
		Example: `  warden pack ./hello --build -o hello.wdnb`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := bundle.PackOptions{Include: include, Build: build, ToolVersion: toolVersion()}
			if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
				sec, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return usageErr(fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds", s), "unset it or set it to a Unix time")
				}
				o.Timestamp = time.Unix(sec, 0).UTC()
			}
			b, err := bundle.Pack(ctxOf(cmd), args[0], o)
			if errors.Is(err, bundle.ErrNotBuilt) {
				return withHint(err, "build it first (GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .) or pass --build")
			}
			if err != nil {
				return withHint(err, "fix the plugin directory and run 'warden lint "+filepath.Join(args[0], "manifest.json")+"'")
			}
			if out == "" {
				m := b.Manifest()
				out = m.Name + "-" + m.Version + bundle.Extension
			}
			if err := b.WriteFile(out, a.progress("pack", b.Size())); err != nil {
				return withHint(err, "check that the directory of -o exists and is writable")
			}
			if a.json {
				return a.printJSON(map[string]any{"bundle": out, "digest": b.Digest(), "files": b.Names(), "signed": false})
			}
			fmt.Fprintf(a.out, "packed %s (%s)\n  digest %s\n  sign it: warden sign %s --key PUBLISHER.key\n", out, sizeString(b.Size()), b.Digest(), out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "bundle file to write (default NAME-VERSION"+bundle.Extension+")")
	cmd.Flags().StringArrayVar(&include, "include", nil, "extra payload file, relative to DIR (repeatable)")
	cmd.Flags().BoolVar(&build, "build", false, "build the Go wasm entry first")
	return cmd
}

func signCmd(a *app) *cobra.Command {
	var keyPath string
	cmd := &cobra.Command{
		Use:   "sign BUNDLE --key PUBLISHER.key",
		Short: "Sign a bundle with a publisher key",
		Long: `sign adds a DSSE envelope over an in-toto statement naming every file of the
bundle with its SHA-256, and rewrites BUNDLE atomically. It refuses when the
manifest's publisher.key_id is not the key's id.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyPath == "" {
				return usageErr(errors.New("sign needs --key"), "pass the publisher private key made by 'warden keygen --publisher NAME'")
			}
			priv, err := keyfile.ReadPrivate(keyPath, a.signingPassphrase)
			if err != nil {
				return withHint(err, "pass the NAME.key file written by 'warden keygen --publisher NAME' (mode 0600)")
			}
			b, err := bundle.ReadFile(args[0], bundle.Limits{})
			if err != nil {
				return withHint(err, "pass a bundle made by 'warden pack'")
			}
			s, err := bundle.Sign(ctxOf(cmd), b, priv)
			if errors.Is(err, bundle.ErrPublisherMismatch) {
				return withHint(err, "set publisher.key_id in manifest.json to the key's id and pack again, or sign with the key the manifest names")
			}
			if err != nil {
				return err
			}
			if err := s.WriteFile(args[0], a.progress("sign", s.Size())); err != nil {
				return withHint(err, "sign rewrites the bundle in place: check that its directory is writable")
			}
			r := bundle.Verify(ctxOf(cmd), s, bundle.VerifyOptions{})
			if a.json {
				return a.printJSON(map[string]any{"bundle": args[0], "digest": s.Digest(), "key_id": r.KeyID, "signed": true})
			}
			fmt.Fprintf(a.out, "signed %s with %s\n  digest %s\n", args[0], r.KeyID, s.Digest())
			return nil
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "publisher private key (PKCS#8 PEM)")
	return cmd
}

func verifyCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "verify BUNDLE",
		Short: "Verify a bundle's signature, digests, trust and revocation",
		Long: `verify reports exactly one verdict and exits with its code:

   0  valid-trusted        signature good, key trusted for the manifest's publisher
  10  valid-untrusted-key  signature good, key not in the trust registry
  11  invalid-signature    envelope malformed or signature does not verify
  12  digest-mismatch      a file differs from its signed digest (named)
  13  unsigned             no signature
  14  revoked              key, bundle digest or plugin version revoked
  15  expired-key          the trusted key has expired
  16  publisher-mismatch   the manifest's publisher is not the signing key's
  17  unreadable           not a bundle, or an unsafe archive (refused unread)`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			homeDir, err := a.home()
			if err != nil {
				return err
			}
			reg, err := trust.Open(homeDir)
			if err != nil {
				return withHint(err, "check the files under "+filepath.Join(homeDir, "trust"))
			}
			b, err := bundle.ReadFile(args[0], bundle.Limits{})
			if err != nil {
				if a.json {
					_ = a.printJSON(map[string]any{"state": "unreadable", "reason": err.Error(), "exit_code": bundle.ExitCodeUnreadable})
					return exitCode(bundle.ExitCodeUnreadable)
				}
				hint := "the file is not a bundle warden will open; do not install it"
				if errors.Is(err, fs.ErrNotExist) {
					hint = "check the bundle's path; 'warden pack' writes NAME-VERSION" + bundle.Extension + " by default"
				}
				return &exitError{code: bundle.ExitCodeUnreadable, err: err, hint: hint}
			}
			r := bundle.Verify(ctxOf(cmd), b, reg.VerifyOptions())
			if a.json {
				if err := a.printJSON(r); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(a.out, "%s: %s\n  %s %s, digest %s\n  %s\n", args[0], r.State, r.Plugin, r.Version, r.Digest, r.Reason)
			}
			if r.ExitCode != 0 {
				return exitCode(r.ExitCode)
			}
			return nil
		},
	}
}

// progress returns a progress callback printing to stderr when it is a
// terminal and the payload is large, else nil.
func (a *app) progress(verb string, total int64) func(done, total int64) {
	if total < progressThreshold || !isTerminal(a.errOut) {
		return nil
	}
	last := -1
	return func(done, total int64) {
		pct := int(done * 100 / max(total, 1))
		if pct == last {
			return
		}
		last = pct
		fmt.Fprintf(a.errOut, "\r%s: %3d%% (%s of %s)", verb, pct, sizeString(done), sizeString(total))
		if done >= total {
			fmt.Fprintln(a.errOut)
		}
	}
}

func sizeString(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// signingPassphrase returns the passphrase of an encrypted publisher key:
// $WARDEN_PASSPHRASE, or asked on the terminal.
func (a *app) signingPassphrase() ([]byte, error) {
	if p, ok := os.LookupEnv(passphraseEnv); ok {
		return []byte(p), nil
	}
	f, ok := a.in.(*os.File)
	if !ok || !isTerminal(f) {
		return nil, fmt.Errorf("the key is encrypted and there is no terminal to ask for its passphrase; set $%s", passphraseEnv)
	}
	fmt.Fprint(a.errOut, "passphrase: ")
	p, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.errOut)
	return p, err
}
