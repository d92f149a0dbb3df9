package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	ctx      = context.Background()
	zeroTime time.Time
)

func TestPackIsReproducible(t *testing.T) {
	p := newPublisher(t, "Acme")
	dir := writePlugin(t, p, "demo", "1.0.0", fakeGoWasm())
	opts := PackOptions{Include: []string{"assets/readme.txt"}, ToolVersion: "test"}
	b1, err := Pack(ctx, dir, opts)
	must(t, err)
	b2, err := Pack(ctx, dir, opts)
	must(t, err)
	first := encode(t, b1)
	if !bytes.Equal(first, encode(t, b2)) {
		t.Fatal("packing the same directory twice gave different bytes")
	}

	// A copy with other modification times, modes and directory name.
	cp := filepath.Join(t.TempDir(), "elsewhere")
	must(t, os.CopyFS(cp, os.DirFS(dir)))
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	must(t, filepath.WalkDir(cp, func(p string, d fs.DirEntry, err error) error {
		must(t, err)
		if !d.IsDir() {
			must(t, os.Chmod(p, 0o755))
		}
		return os.Chtimes(p, old, old)
	}))
	b3, err := Pack(ctx, cp, opts)
	must(t, err)
	if !bytes.Equal(first, encode(t, b3)) {
		t.Fatal("packing a copy with other mtimes and modes gave different bytes")
	}

	// And the signature, over the same content with the same key, is
	// deterministic too (Ed25519 is).
	s1, err := Sign(ctx, b1, p.priv)
	must(t, err)
	s3, err := Sign(ctx, b3, p.priv)
	must(t, err)
	if !bytes.Equal(encode(t, s1), encode(t, s3)) {
		t.Fatal("signing equal bundles gave different bytes")
	}
}

func TestRoundTripAndDigest(t *testing.T) {
	p := newPublisher(t, "Acme")
	b := packSigned(t, writePlugin(t, p, "demo", "1.0.0", tinyWasm), p)
	want := []string{"assets/readme.txt", ManifestFile, "plugin.wasm", ProvenanceFile, SBOMFile, SignatureFile}
	if got := b.Names(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("names %v, want %v", got, want)
	}
	back, err := Read(bytes.NewReader(encode(t, b)), Limits{})
	must(t, err)
	for _, n := range b.Names() {
		x, _ := b.File(n)
		y, ok := back.File(n)
		if !ok || !bytes.Equal(x, y) {
			t.Fatalf("%s differs after a round trip", n)
		}
	}
	if b.Digest() != back.Digest() || b.Digest() != b.Unsigned().Digest() {
		t.Fatal("digest changed by encoding or by the signature")
	}
	if !strings.HasPrefix(b.Digest(), "sha256:") || len(b.Digest()) != 71 {
		t.Fatalf("digest %q", b.Digest())
	}
}

// TestDigestVector pins the bundle digest algorithm of docs/bundle-format.md.
func TestDigestVector(t *testing.T) {
	files := []File{
		{Name: "plugin.wasm", Data: tinyWasm},
		{Name: SignatureFile, Data: []byte("ignored")},
		{Name: ManifestFile, Data: []byte(`{"name":"demo","version":"1.0.0","description":"d","entry":"plugin.wasm","runtime":"wasm"}`)},
	}
	b, err := New(files)
	must(t, err)
	// docs/bundle-format.md quotes this vector.
	const want = "sha256:3dfb2ab06f63239011825f0098548ee14fdf6543f476b98df44d823c0756d76e"
	if got := b.Digest(); got != want {
		t.Fatalf("digest %s, want %s", got, want)
	}
	// The vector is the document's: sha256sum's lines of the sorted files,
	// hashed, computed here from the files and not by the package.
	covered := slices.DeleteFunc(slices.Clone(files), func(f File) bool { return f.Name == SignatureFile })
	slices.SortFunc(covered, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	var lines []byte
	for _, f := range covered {
		lines = fmt.Appendf(lines, "%x  %s\n", sha256.Sum256(f.Data), f.Name)
	}
	if got := fmt.Sprintf("sha256:%x", sha256.Sum256(lines)); got != want {
		t.Fatalf("the document's listing of the files hashes to %s, the vector is %s", got, want)
	}
	// And coreutils' sha256sum, the tool the document names, agrees.
	sum, err := exec.LookPath("sha256sum")
	if err != nil {
		t.Log("sha256sum not found: the listing was checked with crypto/sha256 only")
		return
	}
	dir := t.TempDir()
	var names []string
	for _, f := range covered {
		must(t, os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644))
		names = append(names, f.Name)
	}
	cmd := exec.Command(sum, names...)
	cmd.Dir = dir
	listing, err := cmd.Output()
	must(t, err)
	cmd = exec.Command(sum)
	cmd.Stdin = bytes.NewReader(listing)
	out, err := cmd.Output()
	must(t, err)
	if got := "sha256:" + strings.Fields(string(out))[0]; got != want {
		t.Fatalf("sha256sum $(files) | sha256sum gives %s, the vector is %s", got, want)
	}
}

func TestVerifyStates(t *testing.T) {
	acme := newPublisher(t, "Acme")
	eve := newPublisher(t, "Eve")
	dir := writePlugin(t, acme, "demo", "1.0.0", tinyWasm)
	good := packSigned(t, dir, acme)
	year := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

	// Eve edits the manifest to name her own key and signs: a valid signature
	// by a key nobody trusts.
	eveDir := writePlugin(t, eve, "demo", "1.0.0", tinyWasm)
	eveBundle := packSigned(t, eveDir, eve)

	// Eve signs Acme's bundle unchanged, which Sign refuses; forge it.
	forged, err := signStatement(ctx, good.Unsigned(), eve.priv, statement(good.Unsigned(), eve.pub))
	must(t, err)

	cases := []struct {
		name  string
		b     *Bundle
		o     VerifyOptions
		want  State
		check func(t *testing.T, r Result)
	}{
		{"trusted", good, VerifyOptions{Keys: trust(acme.key(year)), Now: now}, ValidTrusted, nil},
		{"no registry", good, VerifyOptions{Now: now}, ValidUntrustedKey, nil},
		{"resigned by untrusted key", eveBundle, VerifyOptions{Keys: trust(acme.key(year)), Now: now}, ValidUntrustedKey, func(t *testing.T, r Result) {
			if r.KeyID != eve.id {
				t.Errorf("key id %s, want eve's %s", r.KeyID, eve.id)
			}
		}},
		{"unsigned", good.Unsigned(), VerifyOptions{Keys: trust(acme.key(year)), Now: now}, Unsigned, nil},
		{"expired key", good, VerifyOptions{Keys: trust(acme.key(now.Add(-time.Hour))), Now: now}, ExpiredKey, nil},
		{"revoked key", good, VerifyOptions{Keys: trust(acme.key(year)), Now: now, Revocations: revList{keys: map[string]bool{acme.id: true}}}, Revoked, func(t *testing.T, r Result) {
			if r.Revoked != "key" {
				t.Errorf("revoked %q, want key", r.Revoked)
			}
		}},
		{"revoked bundle", good, VerifyOptions{Keys: trust(acme.key(year)), Now: now, Revocations: revList{bundles: map[string]bool{good.Digest(): true}}}, Revoked, func(t *testing.T, r Result) {
			if r.Revoked != "bundle" {
				t.Errorf("revoked %q, want bundle", r.Revoked)
			}
		}},
		{"revoked version", good, VerifyOptions{Keys: trust(acme.key(year)), Now: now, Revocations: revList{versions: map[string]bool{"demo@1.0.0": true}}}, Revoked, func(t *testing.T, r Result) {
			if r.Revoked != "version" {
				t.Errorf("revoked %q, want version", r.Revoked)
			}
		}},
		{"revoked key even if untrusted", eveBundle, VerifyOptions{Now: now, Revocations: revList{keys: map[string]bool{eve.id: true}}}, Revoked, nil},
		{"manifest names another key", forged, VerifyOptions{Keys: trust(acme.key(year), eve.key(year)), Now: now}, PublisherMismatch, nil},
		{"key trusted for another publisher", good, VerifyOptions{Keys: trust(Key{ID: acme.id, Publisher: "Not Acme", Public: acme.pub}), Now: now}, PublisherMismatch, nil},
		{"trusted id, other key", good, VerifyOptions{Keys: trust(Key{ID: acme.id, Publisher: "Acme", Public: eve.pub}), Now: now}, InvalidSignature, nil},
	}
	seen := map[int]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Verify(ctx, c.b, c.o)
			if r.State != c.want {
				t.Fatalf("state %s (%s), want %s", r.State, r.Reason, c.want)
			}
			if r.ExitCode != c.want.ExitCode() || r.Reason == "" {
				t.Fatalf("result %+v lacks exit code or reason", r)
			}
			if c.check != nil {
				c.check(t, r)
			}
			seen[r.ExitCode] = true
		})
	}
	codes := map[int]State{}
	for _, s := range States() {
		if prev, dup := codes[s.ExitCode()]; dup {
			t.Fatalf("%s and %s share exit code %d", s, prev, s.ExitCode())
		}
		codes[s.ExitCode()] = s
	}
}

// TestTamperEachFile changes bytes of every file in turn: each change of a
// covered file is a digest mismatch naming that file; each change of any byte
// of the envelope is an invalid signature.
func TestTamperEachFile(t *testing.T) {
	acme := newPublisher(t, "Acme")
	good := packSigned(t, writePlugin(t, acme, "demo", "1.0.0", fakeGoWasm()), acme)
	o := VerifyOptions{Keys: trust(acme.key(time.Time{}))}
	if r := Verify(ctx, good, o); r.State != ValidTrusted {
		t.Fatalf("baseline: %s %s", r.State, r.Reason)
	}
	for _, name := range good.Names() {
		data, _ := good.File(name)
		if name == SignatureFile {
			for i := range data {
				bad := bytes.Clone(data)
				bad[i] ^= 0x01
				r := Verify(ctx, withFile(t, good, name, bad), o)
				if r.State != InvalidSignature {
					t.Fatalf("envelope byte %d (%q→%q): %s, want invalid-signature", i, data[i], bad[i], r.State)
				}
			}
			continue
		}
		for _, i := range []int{0, len(data) / 2, len(data) - 1} {
			bad := bytes.Clone(data)
			bad[i] ^= 0x20
			if name == ManifestFile {
				// Keep the manifest parseable: change a letter of the description.
				k := bytes.Index(bad, []byte("A test plugin."))
				bad = bytes.Clone(data)
				bad[k+2+i%8] ^= 0x20
			}
			b := withFile(t, good, name, bad)
			r := Verify(ctx, b, o)
			if r.State != DigestMismatch || r.File != name {
				t.Fatalf("%s byte %d changed: %s file %q (%s), want digest-mismatch naming it", name, i, r.State, r.File, r.Reason)
			}
		}
	}
	// An added file and a removed file are mismatches too.
	r := Verify(ctx, withFile(t, good, "extra.txt", []byte("x")), o)
	if r.State != DigestMismatch || r.File != "extra.txt" {
		t.Fatalf("added file: %s %q", r.State, r.File)
	}
	var files []File
	for _, n := range good.Names() {
		if n != "assets/readme.txt" {
			d, _ := good.File(n)
			files = append(files, File{n, d})
		}
	}
	fewer, err := New(files)
	must(t, err)
	if r := Verify(ctx, fewer, o); r.State != DigestMismatch || r.File != "assets/readme.txt" {
		t.Fatalf("removed file: %s %q", r.State, r.File)
	}
}

func TestSwapManifests(t *testing.T) {
	acme := newPublisher(t, "Acme")
	a := packSigned(t, writePlugin(t, acme, "alpha", "1.0.0", tinyWasm), acme)
	b := packSigned(t, writePlugin(t, acme, "beta", "2.0.0", tinyWasm), acme)
	ma, _ := a.File(ManifestFile)
	mb, _ := b.File(ManifestFile)
	o := VerifyOptions{Keys: trust(acme.key(time.Time{}))}
	for _, c := range []struct {
		b    *Bundle
		with []byte
	}{{a, mb}, {b, ma}} {
		r := Verify(ctx, withFile(t, c.b, ManifestFile, c.with), o)
		if r.State != DigestMismatch || r.File != ManifestFile {
			t.Fatalf("swapped manifest: %s %q", r.State, r.File)
		}
	}
}

func TestSignRefusesOtherPublisher(t *testing.T) {
	acme := newPublisher(t, "Acme")
	eve := newPublisher(t, "Eve")
	b, err := Pack(ctx, writePlugin(t, acme, "demo", "1.0.0", tinyWasm), PackOptions{})
	must(t, err)
	if _, err := Sign(ctx, b, eve.priv); !errors.Is(err, ErrPublisherMismatch) {
		t.Fatalf("sign with another key: %v, want ErrPublisherMismatch", err)
	}
}

func TestPackRefusals(t *testing.T) {
	acme := newPublisher(t, "Acme")
	t.Run("symlink payload", func(t *testing.T) {
		dir := writePlugin(t, acme, "demo", "1.0.0", tinyWasm)
		must(t, os.Symlink("/etc/passwd", filepath.Join(dir, "leak.txt")))
		if _, err := Pack(ctx, dir, PackOptions{Include: []string{"leak.txt"}}); err == nil {
			t.Fatal("packed a symbolic link")
		}
	})
	t.Run("climbing include", func(t *testing.T) {
		dir := writePlugin(t, acme, "demo", "1.0.0", tinyWasm)
		if _, err := Pack(ctx, dir, PackOptions{Include: []string{"../x"}}); err == nil {
			t.Fatal("packed ../x")
		}
	})
	t.Run("reserved name", func(t *testing.T) {
		dir := writePlugin(t, acme, "demo", "1.0.0", tinyWasm)
		must(t, os.WriteFile(filepath.Join(dir, SBOMFile), []byte("{}"), 0o644))
		if _, err := Pack(ctx, dir, PackOptions{Include: []string{SBOMFile}}); err == nil {
			t.Fatal("packed a payload file named like the SBOM")
		}
	})
	t.Run("unbuilt Go source", func(t *testing.T) {
		dir := writePlugin(t, acme, "demo", "1.0.0", tinyWasm)
		must(t, os.Remove(filepath.Join(dir, "plugin.wasm")))
		must(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/demo\n\ngo 1.26\n"), 0o644))
		if _, err := Pack(ctx, dir, PackOptions{}); !errors.Is(err, ErrNotBuilt) {
			t.Fatalf("pack unbuilt: %v, want ErrNotBuilt", err)
		}
	})
}

func TestExtract(t *testing.T) {
	acme := newPublisher(t, "Acme")
	b := packSigned(t, writePlugin(t, acme, "demo", "1.0.0", tinyWasm), acme)
	dest := filepath.Join(t.TempDir(), "plugins", "demo", "1.0.0")
	must(t, Extract(b, dest))
	for _, n := range b.Names() {
		got, err := os.ReadFile(filepath.Join(dest, filepath.FromSlash(n)))
		must(t, err)
		want, _ := b.File(n)
		if !bytes.Equal(got, want) {
			t.Fatalf("%s differs on disk", n)
		}
		fi, err := os.Stat(filepath.Join(dest, filepath.FromSlash(n)))
		must(t, err)
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %v, want 0600", n, fi.Mode().Perm())
		}
	}
	fi, err := os.Stat(dest)
	must(t, err)
	if fi.Mode().Perm() != 0o700 {
		t.Fatalf("dest mode %v, want 0700", fi.Mode().Perm())
	}
	if err := Extract(b, dest); !errors.Is(err, ErrExists) {
		t.Fatalf("second extract: %v, want ErrExists", err)
	}
	left, _ := os.ReadDir(filepath.Dir(dest))
	if len(left) != 1 {
		t.Fatalf("temporary directories left behind: %v", left)
	}
}
