package keyfile

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/testenv"

	"golang.org/x/mod/sumdb/note"
)

func init() { scryptWorkFactor = 10 } // keep tests fast; format is unchanged

func testKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	seed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(seed)
	return priv.Public().(ed25519.PublicKey), priv
}

func pass(s string) func() ([]byte, error) { return func() ([]byte, error) { return []byte(s), nil } }

func TestPrivateRoundTrip(t *testing.T) {
	_, priv := testKey(t)
	for _, tc := range []struct {
		name       string
		passphrase string
	}{{"plain", ""}, {"encrypted", "correct horse"}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "k.key")
			if err := WritePrivate(path, priv, []byte(tc.passphrase)); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
			}
			data, _ := os.ReadFile(path)
			if tc.passphrase == "" && !bytes.HasPrefix(data, []byte("-----BEGIN PRIVATE KEY-----")) {
				t.Fatalf("not PKCS#8 PEM:\n%s", data)
			}
			if tc.passphrase != "" && !bytes.HasPrefix(data, []byte("-----BEGIN AGE ENCRYPTED FILE-----")) {
				t.Fatalf("not armored age:\n%s", data)
			}
			got, err := ReadPrivate(path, pass(tc.passphrase))
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(priv) {
				t.Fatal("key changed in round trip")
			}
			if tc.passphrase != "" {
				if _, err := ReadPrivate(path, nil); !errors.Is(err, ErrEncrypted) {
					t.Fatalf("no passphrase: %v, want ErrEncrypted", err)
				}
				if _, err := ReadPrivate(path, pass("wrong")); !errors.Is(err, ErrPassphrase) {
					t.Fatalf("wrong passphrase: %v, want ErrPassphrase", err)
				}
			}
		})
	}
}

func TestRefuseOverwrite(t *testing.T) {
	pub, priv := testKey(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "k.key")
	if err := WritePrivate(path, priv, nil); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if err := WritePrivate(path, priv, nil); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second write: %v, want fs.ErrExist", err)
	}
	if err := WritePublic(path, pub); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("public over private: %v, want fs.ErrExist", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("existing key file was changed")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

// Attack: a key file others can read must not be loaded.
func TestRefuseLooseMode(t *testing.T) {
	_, priv := testKey(t)
	path := filepath.Join(t.TempDir(), "k.key")
	if err := WritePrivate(path, priv, nil); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []fs.FileMode{0o644, 0o640, 0o604, 0o620, 0o602} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := ReadPrivate(path, nil)
		if !errors.Is(err, ErrUnsafe) {
			t.Fatalf("mode %#o: %v, want ErrUnsafe", mode, err)
		}
		if !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Fatalf("mode %#o: error does not say how to fix it: %v", mode, err)
		}
	}
	os.Chmod(path, 0o400)
	if _, err := ReadPrivate(path, nil); err != nil {
		t.Fatalf("mode 0400 refused: %v", err)
	}
}

// Attack: a symlink to a key (perhaps swapped later) is refused.
func TestRefuseSymlink(t *testing.T) {
	_, priv := testKey(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "k.key")
	if err := WritePrivate(path, priv, nil); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.key")
	if err := os.Symlink(path, link); err != nil {
		testenv.Need(t, "symbolic links", err)
	}
	if _, err := ReadPrivate(link, nil); !errors.Is(err, ErrUnsafe) {
		t.Fatalf("symlink: %v, want ErrUnsafe", err)
	}
}

func TestPublicForms(t *testing.T) {
	pub, _ := testKey(t)
	pemData, err := MarshalPublic(pub)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := note.NewEd25519VerifierKey("warden-host", pub)
	if err != nil {
		t.Fatal(err)
	}
	raw := base64.StdEncoding.EncodeToString(pub)
	// A key whose base64 holds '+' (x/mod's note format splits on '+').
	plusPub := plusKey(t)
	plusV, _ := note.NewEd25519VerifierKey("a", plusPub)
	if got, err := ParsePublic([]byte(plusV)); err != nil || !got.Equal(plusPub) {
		t.Errorf("note key with '+' in its base64: %v", err)
	}
	if got, err := ParsePublic([]byte(base64.StdEncoding.EncodeToString(plusPub))); err != nil || !got.Equal(plusPub) {
		t.Errorf("raw key with '+' in its base64: %v", err)
	}
	for name, in := range map[string]string{
		"pem":        string(pemData),
		"pem-spaced": "\n  " + string(pemData) + "\n",
		"raw":        raw,
		"raw-nl":     raw + "\n",
		"note":       vkey,
	} {
		got, err := ParsePublic([]byte(in))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !got.Equal(pub) {
			t.Errorf("%s: wrong key", name)
		}
	}
	// A note key with a wrong hash must fail, not silently yield a key.
	i := strings.IndexByte(vkey, '+')
	bad := vkey[:i+1] + "00000000" + vkey[i+9:]
	for name, in := range map[string]string{
		"note-bad-hash":  bad,
		"raw-31":         base64.StdEncoding.EncodeToString(pub[:31]),
		"raw-url":        base64.RawURLEncoding.EncodeToString(pub),
		"private-as-pub": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
		"empty":          "",
		"pem-trailing":   string(pemData) + "junk",
		"two-pem":        string(pemData) + string(pemData),
	} {
		if _, err := ParsePublic([]byte(in)); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", name, err)
		}
	}
	path := filepath.Join(t.TempDir(), "k.pub")
	if err := WritePublic(path, pub); err != nil {
		t.Fatal(err)
	}
	got, err := ReadPublic(path)
	if err != nil || !got.Equal(pub) {
		t.Fatalf("ReadPublic: %v", err)
	}
}

// Prove the files are the standard formats: openssl reads ours, we read
// openssl's.
func TestOpenSSLInterop(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	theirs := filepath.Join(dir, "theirs.key")
	if out, err := exec.Command(openssl, "genpkey", "-algorithm", "ed25519", "-out", theirs).CombinedOutput(); err != nil {
		t.Skipf("openssl cannot make ed25519 keys: %v\n%s", err, out)
	}
	os.Chmod(theirs, 0o600)
	priv, err := ReadPrivate(theirs, nil)
	if err != nil {
		t.Fatalf("read openssl key: %v", err)
	}
	pubOut, err := exec.Command(openssl, "pkey", "-in", theirs, "-pubout").Output()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublic(pubOut)
	if err != nil {
		t.Fatalf("parse openssl public key: %v", err)
	}
	if !pub.Equal(priv.Public()) {
		t.Fatal("openssl public key does not match the private key we read")
	}
	ours := filepath.Join(dir, "ours.key")
	_, mine := testKey(t)
	if err := WritePrivate(ours, mine, nil); err != nil {
		t.Fatal(err)
	}
	pubOut, err = exec.Command(openssl, "pkey", "-in", ours, "-pubout").Output()
	if err != nil {
		t.Fatalf("openssl cannot read our key: %v", err)
	}
	pub, err = ParsePublic(pubOut)
	if err != nil || !pub.Equal(mine.Public()) {
		t.Fatalf("openssl derived a different public key: %v", err)
	}
}

func FuzzParsePublic(f *testing.F) {
	pub, _ := testKey(f)
	pemData, _ := MarshalPublic(pub)
	vkey, _ := note.NewEd25519VerifierKey("warden-host", pub)
	f.Add(pemData)
	f.Add([]byte(vkey))
	f.Add([]byte(base64.StdEncoding.EncodeToString(pub)))
	f.Add([]byte("a+00000000+AQ=="))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParsePublic(data)
		if err == nil && len(got) != ed25519.PublicKeySize {
			t.Fatalf("accepted a %d-byte key", len(got))
		}
	})
}

func FuzzParsePrivate(f *testing.F) {
	_, priv := testKey(f)
	plain, _ := MarshalPrivate(priv, nil)
	enc, _ := MarshalPrivate(priv, []byte("pw"))
	f.Add(plain)
	f.Add(enc)
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// No passphrase: the fuzzer must not be able to make us run scrypt
		// at a work factor of its choosing.
		got, err := ParsePrivate(data, nil)
		if err == nil && len(got) != ed25519.PrivateKeySize {
			t.Fatalf("accepted a %d-byte key", len(got))
		}
	})
}

func plusKey(t *testing.T) ed25519.PublicKey {
	for i := byte(0); ; i++ {
		pub := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{i}, 32)).Public().(ed25519.PublicKey)
		if strings.Count(base64.StdEncoding.EncodeToString(append([]byte{1}, pub...)), "+") >= 2 &&
			strings.Contains(base64.StdEncoding.EncodeToString(pub), "+") {
			return pub
		}
	}
}
