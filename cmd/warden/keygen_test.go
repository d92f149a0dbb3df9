package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/keyid"
	"github.com/wardenproject/warden/keyfile"
)

func TestKeygenHost(t *testing.T) {
	home := t.TempDir()
	code, out, errOut := runCLI(t, home, "keygen")
	if code != 0 || !strings.Contains(out, "host key ed25519:") || !strings.Contains(out, "warden-host+") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	var first struct {
		KeyID string `json:"key_id"`
		VKey  string `json:"note_verifier_key"`
		Keys  []struct {
			ID      string `json:"id"`
			Current bool   `json:"current"`
		} `json:"keys"`
	}
	code, out, _ = runCLI(t, home, "keygen", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &first) != nil || !keyid.Valid(first.KeyID) || len(first.Keys) != 1 {
		t.Fatalf("keygen --json: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, first.KeyID) || !strings.HasPrefix(first.VKey, "warden-host+") {
		t.Fatalf("second keygen changed the key or lacks the vkey:\n%s", out)
	}
	code, out, _ = runCLI(t, home, "keygen", "--rotate", "--json")
	var rotated struct {
		KeyID string `json:"key_id"`
		Keys  []any  `json:"keys"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rotated) != nil || rotated.KeyID == first.KeyID || len(rotated.Keys) != 2 {
		t.Fatalf("keygen --rotate: exit %d\n%s", code, out)
	}
	if code, _, _ := runCLI(t, home, "keygen", "--passphrase"); code != 2 {
		t.Fatalf("--passphrase without --publisher: exit %d, want 2", code)
	}
}

func TestKeygenPublisher(t *testing.T) {
	home, out := t.TempDir(), t.TempDir()
	code, stdout, errOut := runCLI(t, home, "keygen", "--publisher", "acme", "--out", out, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res struct {
		KeyID string `json:"key_id"`
	}
	json.Unmarshal([]byte(stdout), &res)
	keyPath, pubPath := filepath.Join(out, "acme.key"), filepath.Join(out, "acme.pub")
	fi, err := os.Stat(keyPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key file: %v %v", fi, err)
	}
	priv, err := keyfile.ReadPrivate(keyPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := keyfile.ReadPublic(pubPath)
	if err != nil || !pub.Equal(priv.Public()) || keyid.Of(pub) != res.KeyID {
		t.Fatalf("public key file or printed id wrong: %v", err)
	}
	before, _ := os.ReadFile(keyPath)
	code, _, errOut = runCLI(t, home, "keygen", "--publisher", "acme", "--out", out)
	if code == 0 || !strings.Contains(errOut, "already exists") {
		t.Fatalf("overwrite: exit %d, %s", code, errOut)
	}
	after, _ := os.ReadFile(keyPath)
	if string(before) != string(after) {
		t.Fatal("existing key overwritten")
	}
	for _, bad := range []string{"../x", ".hidden", "a/b", ""} {
		if bad == "" {
			continue
		}
		if code, _, _ := runCLI(t, home, "keygen", "--publisher", bad, "--out", out); code != 2 {
			t.Errorf("publisher name %q: exit %d, want 2", bad, code)
		}
	}
}

func TestKeygenPublisherPassphrase(t *testing.T) {
	home, out := t.TempDir(), t.TempDir()
	// No terminal and no environment variable: refuse, write nothing.
	t.Setenv(passphraseEnv, "")
	os.Unsetenv(passphraseEnv)
	code, _, errOut := runCLI(t, home, "keygen", "--publisher", "p", "--out", out, "--passphrase")
	if code != 2 || !strings.Contains(errOut, passphraseEnv) {
		t.Fatalf("no terminal: exit %d, %s", code, errOut)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Fatalf("files written without a passphrase: %v", entries)
	}
	t.Setenv(passphraseEnv, "s3cret pass")
	code, _, errOut = runCLI(t, home, "keygen", "--publisher", "p", "--out", out, "--passphrase")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	keyPath := filepath.Join(out, "p.key")
	data, _ := os.ReadFile(keyPath)
	if !strings.HasPrefix(string(data), "-----BEGIN AGE ENCRYPTED FILE-----") {
		t.Fatalf("not encrypted:\n%s", data)
	}
	if _, err := keyfile.ReadPrivate(keyPath, func() ([]byte, error) { return []byte("s3cret pass"), nil }); err != nil {
		t.Fatal(err)
	}
}

// TestPublisherKeygenDefaultDir: without --out the key pair goes to a
// private directory under the user config directory, never the current
// directory (a plugin's source tree, where a key ends up in a commit); the
// private key is 0600 and the public one 0644.
func TestPublisherKeygenDefaultDir(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	t.Setenv("HOME", t.TempDir())
	t.Chdir(t.TempDir())
	code, _, errOut := runCLI(t, t.TempDir(), "keygen", "--publisher", "acme")
	if code != 0 {
		t.Fatalf("keygen: exit %d %s", code, errOut)
	}
	dir := filepath.Join(cfg, "warden-publisher-keys")
	for name, want := range map[string]os.FileMode{"acme.key": 0o600, "acme.pub": 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, mode %v, want %v", name, err, fi, want)
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("key directory %s: %v %v", dir, err, fi)
	}
	if ents, _ := os.ReadDir("."); len(ents) != 0 {
		t.Errorf("keygen wrote into the current directory: %v", ents)
	}
}
