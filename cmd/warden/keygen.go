package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/wardenproject/warden/hostkey"
	"github.com/wardenproject/warden/internal/adminaudit"
	"github.com/wardenproject/warden/internal/home"
	"github.com/wardenproject/warden/internal/keyid"
	"github.com/wardenproject/warden/keyfile"
)

// passphraseEnv lets scripts give `warden keygen --publisher --passphrase` its
// passphrase without a terminal.
const passphraseEnv = "WARDEN_PASSPHRASE"

// hostNoteName is the signed-note name under which the host signs audit
// checkpoints; keygen prints the matching verifier key.
const hostNoteName = "warden-host"

func init() {
	register(func(a *app) *cobra.Command {
		var rotate, encrypt bool
		var publisher, outDir string
		cmd := &cobra.Command{
			Use:   "keygen",
			Short: "Create or show the host key, or create a publisher signing key",
			Long: `keygen shows the host key under --home, creating it on first use; it signs
capability tokens and audit checkpoints. --rotate makes a new current key; the
previous one still verifies tokens it signed.

With --publisher NAME it instead writes a plugin publisher's signing key pair,
NAME.key (PKCS#8 PEM, mode 0600) and NAME.pub (PEM, 0644), into --out, by
default a private directory under the user config directory
(warden-publisher-keys), never the plugin's source tree. With
--passphrase the private key is encrypted with age; the passphrase is read
from the terminal, or from $` + passphraseEnv + ` in scripts. Existing files are
never overwritten.`,
			Example: `  warden keygen
  warden keygen --rotate
  warden keygen --publisher acme --out ~/keys --passphrase`,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if publisher != "" {
					if rotate {
						return usageErr(errors.New("--rotate applies to the host key, not to --publisher"), "run the two separately")
					}
					return a.publisherKeygen(publisher, outDir, encrypt)
				}
				if encrypt || outDir != "" {
					return usageErr(errors.New("--passphrase and --out need --publisher NAME"), "the host key lives under --home and is used unattended")
				}
				return a.hostKeygen(rotate)
			},
		}
		f := cmd.Flags()
		f.BoolVar(&rotate, "rotate", false, "replace the current host key with a new one")
		f.StringVar(&publisher, "publisher", "", "write a publisher key pair NAME.key and NAME.pub instead")
		f.StringVar(&outDir, "out", "", "directory for --publisher files (default: the user config directory, warden-publisher-keys)")
		f.BoolVar(&encrypt, "passphrase", false, "encrypt the --publisher private key with a passphrase")
		return cmd
	})
}

// openHostKeys opens the host keyring under <home>/keys.
func (a *app) openHostKeys() (*hostkey.Ring, error) {
	dir, err := a.home()
	if err != nil {
		return nil, err
	}
	r, err := hostkey.Open(filepath.Join(dir, "keys"))
	if err != nil {
		return nil, withHint(err, "the keys directory and key files must be yours and private (chmod 700 DIR, chmod 600 FILE)")
	}
	return r, nil
}

func (a *app) hostKeygen(rotate bool) error {
	r, err := a.openHostKeys()
	if err != nil {
		return err
	}
	if rotate {
		if _, err := r.Rotate(); err != nil {
			return withHint(err, "the old key is still current; check the keys directory and retry")
		}
	}
	s := r.Signer()
	keys := r.Keys()
	cur := keys[len(keys)-1]
	vkey := r.NoteVerifierKey(hostNoteName)
	a.logHostKeys(keys)
	if a.json {
		return a.printJSON(map[string]any{
			"key_id": s.KeyID(), "public": []byte(s.Public()), "note_verifier_key": vkey,
			"created": cur.Created, "rotated": rotate, "dir": r.Dir(), "keys": keys,
		})
	}
	verb := "host key"
	if rotate {
		verb = "new host key"
	}
	fmt.Fprintf(a.out, "%s %s (created %s)\n", verb, s.KeyID(), cur.Created.Local().Format(time.RFC3339))
	fmt.Fprintf(a.out, "note verifier key: %s\n", vkey)
	if len(keys) > 1 {
		prev := keys[len(keys)-2]
		fmt.Fprintf(a.out, "previous key %s (retired %s) still verifies\n", prev.ID, prev.Retired.Local().Format(time.RFC3339))
	}
	return nil
}

// logHostKeys logs a new or rotated host key in the audit ledger. When a
// running host holds the ledger it is left to that host, which reconciles the
// keyring with the store at its next start; the notice says so.
func (a *app) logHostKeys(keys []hostkey.KeyInfo) {
	dir, err := a.home()
	if err != nil {
		return
	}
	ctx := context.Background()
	st, err := openStateStore(ctx, a, dir)
	if err != nil {
		fmt.Fprintf(a.errOut, "notice: the key change is not in the audit ledger yet (%v); the next host start logs it\n", err)
		return
	}
	defer st.Close()
	if !adminaudit.KeysPending(ctx, keys, st) {
		return
	}
	l, _, err := openWritableLedger(dir)
	if err != nil {
		fmt.Fprintf(a.errOut, "notice: the key change is not in the audit ledger yet (%v); the next host start logs it\n", err)
		return
	}
	defer l.Close()
	if err := adminaudit.ReconcileKeys(ctx, keys, st, l); err != nil {
		fmt.Fprintf(a.errOut, "notice: %v; the next host start logs the key change\n", err)
	}
}

// publisherKeyDir is where publisher keys go by default: a private
// directory of its own under the user config directory, created 0700. It
// is not inside warden's home: publisher keys belong to the author, not to
// a host, and survive a host's home being moved or removed.
func publisherKeyDir() (string, error) {
	cfg, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the user config directory for publisher keys: %w", err)
	}
	dir := filepath.Join(cfg, "warden-publisher-keys")
	if err := home.Ensure(dir); err != nil {
		return "", err
	}
	return dir, nil
}

var publisherName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func (a *app) publisherKeygen(name, outDir string, encrypt bool) error {
	if !publisherName.MatchString(name) {
		return usageErr(fmt.Errorf("publisher name %q cannot be a file name", name), "use letters, digits, '.', '_' and '-' (at most 64)")
	}
	if outDir == "" {
		// Never the current directory, which is usually the plugin's
		// source tree: a signing key there ends up in a commit or a bundle.
		dir, err := publisherKeyDir()
		if err != nil {
			return withHint(err, "pass --out DIR, a private directory outside the plugin's source tree")
		}
		outDir = dir
	}
	keyPath := filepath.Join(outDir, name+".key")
	pubPath := filepath.Join(outDir, name+".pub")
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return withHint(fmt.Errorf("keygen: will not overwrite %s: %w", p, fs.ErrExist), "keygen never overwrites a key; choose another --out or NAME")
		}
	}
	var pass []byte
	if encrypt {
		var err error
		if pass, err = a.newPassphrase(); err != nil {
			return err
		}
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	if err := keyfile.WritePrivate(keyPath, priv, pass); err != nil {
		return withHint(err, "check that --out exists and is writable")
	}
	if err := keyfile.WritePublic(pubPath, pub); err != nil {
		os.Remove(keyPath) // ours, just written: leave no half pair
		return withHint(err, "check that --out exists and is writable")
	}
	id := keyid.Of(pub)
	if a.json {
		return a.printJSON(map[string]any{
			"name": name, "key_id": id, "public": []byte(pub),
			"private_key_file": keyPath, "public_key_file": pubPath, "encrypted": encrypt,
		})
	}
	fmt.Fprintf(a.out, "publisher key %s\n", id)
	fmt.Fprintf(a.out, "private key: %s (keep it secret%s)\n", keyPath, map[bool]string{true: ", encrypted", false: ""}[encrypt])
	fmt.Fprintf(a.out, "public key:  %s\n", pubPath)
	return nil
}

// newPassphrase reads a new passphrase twice from the terminal, or once from
// $WARDEN_PASSPHRASE.
func (a *app) newPassphrase() ([]byte, error) {
	if p, ok := os.LookupEnv(passphraseEnv); ok {
		if p == "" {
			return nil, usageErr(fmt.Errorf("$%s is set but empty", passphraseEnv), "set it to the passphrase, or unset it to be asked")
		}
		return []byte(p), nil
	}
	f, ok := a.in.(*os.File)
	if !ok || !isTerminal(f) {
		return nil, usageErr(errors.New("--passphrase needs a terminal to ask for the passphrase"), "run it in a terminal, or set $"+passphraseEnv+" in scripts")
	}
	fmt.Fprint(a.errOut, "passphrase: ")
	p1, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.errOut)
	if err != nil {
		return nil, fmt.Errorf("read passphrase: %w", err)
	}
	if len(p1) == 0 {
		return nil, usageErr(errors.New("empty passphrase"), "type a passphrase, or leave out --passphrase for an unencrypted key")
	}
	fmt.Fprint(a.errOut, "again: ")
	p2, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.errOut)
	if err != nil {
		return nil, fmt.Errorf("read passphrase: %w", err)
	}
	if !bytes.Equal(p1, p2) {
		return nil, usageErr(errors.New("the two passphrases differ"), "run keygen again")
	}
	return p1, nil
}
