package hostkey

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/wardenproject/warden/internal/home"
	"github.com/wardenproject/warden/keyfile"
)

func TestOpenCreatesPrivateKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("keys dir mode %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	s := r.Signer()
	kf := filepath.Join(dir, "host-"+strings.TrimPrefix(s.KeyID(), "ed25519:")+".key")
	fi, err = os.Stat(kf)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v", err)
	}
	msg := []byte("hello")
	sig, err := s.Sign(msg)
	if err != nil || !ed25519.Verify(s.Public(), msg, sig) {
		t.Fatalf("Sign is not plain Ed25519: %v", err)
	}
	r2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Signer().KeyID() != s.KeyID() {
		t.Fatal("reopening made a new key")
	}
	if pub, ok := r2.Lookup(s.KeyID()); !ok || !pub.Equal(s.Public()) {
		t.Fatal("Lookup of the current key failed")
	}
	if _, ok := r2.Lookup("ed25519:0000000000000000"); ok {
		t.Fatal("Lookup of a foreign key id succeeded")
	}
}

func TestRotate(t *testing.T) {
	dir := t.TempDir()
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	first := r.Signer()
	second, err := r.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	if second.KeyID() == first.KeyID() || r.Signer().KeyID() != second.KeyID() {
		t.Fatal("rotate did not change the current key")
	}
	if _, ok := r.Lookup(first.KeyID()); !ok {
		t.Fatal("previous key not accepted after one rotation")
	}
	if _, err := os.Stat(filepath.Join(dir, "host-"+first.KeyID()[8:]+".key")); !os.IsNotExist(err) {
		t.Fatalf("retired private key still on disk: %v", err)
	}
	third, err := r.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Lookup(first.KeyID()); ok {
		t.Fatal("a key retired two rotations ago is still accepted")
	}
	if _, ok := r.Lookup(second.KeyID()); !ok {
		t.Fatal("previous key not accepted")
	}
	keys := r.Keys()
	if len(keys) != 3 || keys[0].ID != first.KeyID() || !keys[2].Current || keys[0].Current || keys[0].Retired.IsZero() {
		t.Fatalf("history wrong: %+v", keys)
	}
	// A second process sees the rotation.
	r2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Signer().KeyID() != third.KeyID() {
		t.Fatal("reopened ring does not use the rotated key")
	}
	// Rotating a stale ring starts from the disk state and keeps history.
	if _, err := r2.Rotate(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Rotate(); err != nil {
		t.Fatal(err)
	}
	if n := len(r.Keys()); n != 5 {
		t.Fatalf("history has %d keys after 4 rotations, want 5", n)
	}
}

// Attack: a key file others can read is not loaded.
func TestRefuseLooseKeyFile(t *testing.T) {
	dir := t.TempDir()
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	kf := filepath.Join(dir, "host-"+r.Signer().KeyID()[8:]+".key")
	os.Chmod(kf, 0o644)
	_, err = Open(dir)
	if !errors.Is(err, home.ErrUnsafe) || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("loose key file: %v", err)
	}
}

func TestRefuseLooseDir(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	if _, err := Open(dir); !errors.Is(err, home.ErrUnsafe) {
		t.Fatalf("world-writable keys dir: %v", err)
	}
}

// Attack: an index that names a different key than the file holds.
func TestRefuseSwappedKeyFile(t *testing.T) {
	dir := t.TempDir()
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	kf := filepath.Join(dir, "host-"+r.Signer().KeyID()[8:]+".key")
	os.Remove(kf)
	_, other, _ := ed25519.GenerateKey(nil)
	if err := keyfile.WritePrivate(kf, other, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("swapped key file: %v, want ErrCorrupt", err)
	}
}

// Two processes opening a fresh home at once must agree on one key.
func TestConcurrentFirstOpen(t *testing.T) {
	if dir := os.Getenv("WARDEN_HOSTKEY_CHILD"); dir != "" {
		r, err := Open(dir)
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println("KEY", r.Signer().KeyID())
		os.Exit(0)
	}
	dir := filepath.Join(t.TempDir(), "keys")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	ids := map[string]int{}
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			cmd := exec.Command(exe, "-test.run=^TestConcurrentFirstOpen$")
			cmd.Env = append(os.Environ(), "WARDEN_HOSTKEY_CHILD="+dir)
			out, err := cmd.Output()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("child: %v\n%s", err, out)
				return
			}
			ids[strings.TrimSpace(strings.TrimPrefix(string(out), "KEY "))]++
		}()
		go func() {
			defer wg.Done()
			r, err := Open(dir)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
			ids[r.Signer().KeyID()]++
		}()
	}
	wg.Wait()
	if len(ids) != 1 {
		t.Fatalf("concurrent first opens made %d different keys: %v", len(ids), ids)
	}
	entries, _ := os.ReadDir(dir)
	var keyFiles int
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".key") {
			keyFiles++
		}
	}
	if keyFiles != 1 {
		t.Fatalf("%d key files, want 1: %v", keyFiles, entries)
	}
}

// The checkpoint signature is a standard signed note: x/mod's note package
// verifies it with the verifier key we print.
func TestNoteCompatibility(t *testing.T) {
	r, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	vkey := r.NoteVerifierKey("warden-host")
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatalf("note rejects our verifier key %q: %v", vkey, err)
	}
	ns, err := NoteSigner("warden-host", r.Signer())
	if err != nil {
		t.Fatal(err)
	}
	if ns.KeyHash() != v.KeyHash() {
		t.Fatalf("key hash %08x, note computes %08x", ns.KeyHash(), v.KeyHash())
	}
	signed, err := note.Sign(&note.Note{Text: "warden checkpoint\n1\nabc=\n"}, ns)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil || len(n.Sigs) != 1 {
		t.Fatalf("note.Open: %v", err)
	}
	pub, err := keyfile.ParsePublic([]byte(vkey))
	if err != nil || !pub.Equal(r.Signer().Public()) {
		t.Fatalf("keyfile cannot read the verifier key back: %v", err)
	}
	if r.NoteVerifierKey("bad name") != "" {
		t.Fatal("invalid note name accepted")
	}
}
