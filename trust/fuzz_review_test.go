package trust

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/wardenproject/warden/internal/dssekey"
	"github.com/wardenproject/warden/internal/keyid"
	"github.com/wardenproject/warden/keyfile"
)

// fixedKey is a deterministic key so that fuzz seeds stay valid across runs.
func fixedKey(seed byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	return priv.Public().(ed25519.PublicKey), priv
}

// signRaw signs payload as-is, so the fuzzer reaches the payload decoder
// behind the signature check (a mutated envelope almost never verifies).
func signRaw(t testing.TB, payloadType string, payload []byte, priv ed25519.PrivateKey) []byte {
	t.Helper()
	s, err := dsse.NewEnvelopeSigner(dssekey.Signer(priv))
	must(t, err)
	env, err := s.SignPayload(ctx, payloadType, payload)
	must(t, err)
	data, err := json.Marshal(env)
	must(t, err)
	return data
}

// FuzzSignedPayload fuzzes the payload of a correctly signed registry or
// revocation list: a root key holder's tooling bug (or a compromised
// pipeline) must still never make warden panic, and an accepted document must
// satisfy every invariant the registry relies on later.
func FuzzSignedPayload(f *testing.F) {
	pub, _ := fixedKey(7)
	id := keyid.Of(pub)
	b64 := base64.StdEncoding.EncodeToString(pub)
	for _, s := range []string{
		`{"version":1,"issued":"2024-01-01T00:00:00Z","keys":[{"key_id":"` + id + `","publisher":"Corp","public_key":"` + b64 + `"}]}`,
		`{"version":1,"keys":[{"key_id":"` + id + `","publisher":"Corp","public_key":"` + b64 + `"},{"key_id":"` + id + `","publisher":"Corp","public_key":"` + b64 + `"}]}`,
		`{"version":1,"keys":[{"key_id":"x","publisher":"Corp","public_key":"` + b64 + `"}]}`,
		`{"version":1,"keys":[{"key_id":"` + id + `","publisher":" ","public_key":"` + b64 + `"}]}`,
		`{"version":1,"keys":[{"key_id":"` + id + `","publisher":"C","public_key":"` + b64[:len(b64)-1] + `"}]}`,
		`{"version":0}`, `{"version":-1}`, `{"version":1e30}`, `{"version":18446744073709551615}`,
		`{"version":1,"unknown":1}`, `{"version":1} trailing`, `null`, `[]`, ``,
		`{"version":1,"issued":"not a time"}`,
		`{"version":2,"keys":[{"key_id":"` + id + `","reason":"r"}],"bundles":[{"digest":"sha256:` + strings.Repeat("a", 64) + `"}],"plugins":[{"name":"p","versions":">=1.0.0 <2.0.0 || 3.0.0"}],"tokens":[{"id":"j"}]}`,
		`{"version":1,"plugins":[{"name":"","versions":"*"}]}`,
		`{"version":1,"plugins":[{"name":"p","versions":">>1"}]}`,
		`{"version":1,"bundles":[{"digest":"sha256:zz"}]}`,
		`{"version":1,"tokens":[{"id":""}]}`,
	} {
		f.Add(false, []byte(s))
		f.Add(true, []byte(s))
	}
	rootPub, rootPriv := fixedKey(1)
	f.Fuzz(func(t *testing.T, revocations bool, payload []byte) {
		r := &Registry{dir: t.TempDir(), root: rootPub, revoked: &RevocationList{}}
		if revocations {
			l, err := r.openRevocations(signRaw(t, RevocationsPayloadType, payload, rootPriv))
			if err != nil {
				if !errors.Is(err, ErrFormat) {
					t.Fatalf("error is not ErrFormat: %v", err)
				}
				return
			}
			if l.Version() == 0 || !json.Valid(payload) {
				t.Fatalf("accepted version %d or a payload that is not one JSON value: %q", l.Version(), payload)
			}
			for _, k := range l.doc.Keys {
				if _, ok := l.RevokedKey(k.ID); !ok {
					t.Fatalf("listed key %q is not revoked", k.ID)
				}
			}
			for _, p := range l.doc.Plugins {
				_, _ = l.RevokedVersion(p.Name, "1.0.0")
			}
			if _, err := SignRevocations(ctx, l.Doc(), rootPriv); err != nil {
				t.Fatalf("an accepted list cannot be signed again: %v", err)
			}
			return
		}
		doc, err := r.openRegistry(signRaw(t, RegistryPayloadType, payload, rootPriv))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error is not ErrFormat: %v", err)
			}
			return
		}
		if doc.doc.Version == 0 || !json.Valid(payload) {
			t.Fatalf("accepted version %d or a payload that is not one JSON value: %q", doc.doc.Version, payload)
		}
		seen := map[string]bool{}
		for _, k := range doc.keys {
			if keyid.Of(k.Public) != k.ID || seen[k.ID] || strings.TrimSpace(k.Publisher) == "" {
				t.Fatalf("accepted bad key %+v", k)
			}
			seen[k.ID] = true
		}
	})
}

// FuzzOpenStored fuzzes the unsigned files under <home>/trust that Open
// reads: keys.json, state.json and root.pub. Bad content must fail Open with
// an error naming the file, never panic, and a failed Open must not change
// any file.
func FuzzOpenStored(f *testing.F) {
	pub, _ := fixedKey(7)
	id := keyid.Of(pub)
	b64 := base64.StdEncoding.EncodeToString(pub)
	pemPub, err := keyfile.MarshalPublic(pub)
	must(f, err)
	good := `{"keys":[{"key_id":"` + id + `","publisher":"P","public_key":"` + b64 + `"}]}`
	for _, s := range []struct{ keys, state, root string }{
		{good, `{"registry_version":0,"revocations_version":0}`, string(pemPub)},
		{`{"keys":[{"key_id":"x","publisher":"P","public_key":"` + b64 + `"}]}`, ``, ``},
		{`{"keys":[{}]}`, `{}`, `garbage`},
		{`{"keys":null}`, `{"registry_version":1}`, ``},
		{`[]`, `{"revocations_version":3,"revocations_sha256":"sha256:00"}`, ``},
		{`{"keys":[` + strings.Repeat(`{"key_id":"`+id+`"},`, 3) + `{}]}`, `{"registry_version":-1}`, b64},
		{`{`, `{"registry_version":1e30}`, "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"},
		{"\xef\xbb\xbf" + good, `null`, "x+1+AQ=="},
	} {
		f.Add([]byte(s.keys), []byte(s.state), []byte(s.root))
	}
	f.Fuzz(func(t *testing.T, keys, state, root []byte) {
		home := t.TempDir()
		dir := filepath.Join(home, dirName)
		must(t, os.MkdirAll(dir, 0o700))
		files := map[string][]byte{keysFile: keys, stateFile: state, rootFile: root}
		for name, data := range files {
			if len(data) > 0 {
				must(t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
			}
		}
		r, err := Open(home)
		if err == nil {
			for _, k := range r.Keys() {
				if keyid.Of(k.Public) != k.ID {
					t.Fatalf("Open accepted key %q whose id is not its key's", k.ID)
				}
			}
			return
		}
		named := false
		for name := range files {
			named = named || strings.Contains(err.Error(), name)
		}
		if !named {
			t.Fatalf("Open error names no file: %v", err)
		}
		for name, data := range files {
			got, rerr := os.ReadFile(filepath.Join(dir, name))
			if len(data) == 0 {
				if rerr == nil {
					t.Fatalf("failed Open created %s", name)
				}
				continue
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("failed Open changed %s", name)
			}
		}
	})
}

// TestReviewTrailingDataRefused: a signed document, or its payload, followed
// by more bytes was accepted as if they were not there.
func TestReviewTrailingDataRefused(t *testing.T) {
	rootPub, rootPriv := fixedKey(1)
	r := &Registry{dir: t.TempDir(), root: rootPub, revoked: &RevocationList{}}
	good := signRaw(t, RegistryPayloadType, []byte(`{"version":1,"keys":[]}`), rootPriv)
	if _, err := r.openRegistry(append(good, '\n', ' ')); err != nil {
		t.Fatalf("trailing white space refused: %v", err)
	}
	for name, data := range map[string][]byte{
		"after the payload":  signRaw(t, RegistryPayloadType, []byte(`{"version":1,"keys":[]} {"version":2}`), rootPriv),
		"after the envelope": append(bytes.Clone(good), "garbage{"...),
		"a second envelope":  append(bytes.Clone(good), good...),
	} {
		_, err := r.openRegistry(data)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "data after the JSON value") {
			t.Errorf("%s: %v, want ErrFormat naming the trailing data", name, err)
		}
	}
}
