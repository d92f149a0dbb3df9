package bundle

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/wardenproject/warden/internal/dssekey"
	"github.com/wardenproject/warden/internal/keyid"
)

// FuzzParseEnvelope: the signature file parser accepts exactly one spelling
// of each envelope.
func FuzzParseEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"payloadType":"t","payload":"AA==","signatures":[{"keyid":"k","sig":"AA=="}]}` + "\n",
		`{"payloadType":"t","payload":"AA==","signatures":[{"keyid":"k","sig":"AA=="}]}`,
		`{"payloadType":"t","payload":"AB==","signatures":[]}` + "\n",
		`{"payloadType":"t","payload":"AA","signatures":null}` + "\n",
		`{"payload":"AA==","payloadType":"t","signatures":[]}` + "\n",
		`{"payloadType":"t","payload":"AA==","signatures":[],"x":1}` + "\n",
		`{"payloadType":"t","payload":"AA==","signatures":[]}` + "\n{}\n",
		`{"payloadType":"\u0074","payload":"AA==","signatures":[]}` + "\n",
		`null` + "\n", ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := parseEnvelope(data)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeEnvelope(env), data) {
			t.Fatalf("accepted a second spelling %q", data)
		}
	})
}

// FuzzSignedStatement signs a fuzzed statement with a real publisher key and
// verifies the bundle: this reaches the statement decoder and every check
// after the signature, which a mutated envelope never gets past. Whatever
// the statement says, a bundle judged valid must have its files exactly as
// signed.
func FuzzSignedStatement(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, ed25519.SeedSize))
	pub := priv.Public().(ed25519.PublicKey)
	p := publisher{name: "Acme", priv: priv, pub: pub, id: keyid.Of(pub)}
	signed := packSigned(f, writePlugin(f, p, "fuzzed", "1.0.0", tinyWasm), p)
	unsigned := signed.Unsigned()
	good, err := json.Marshal(statement(unsigned, pub))
	must(f, err)
	f.Add(good)
	var st Statement
	must(f, json.Unmarshal(good, &st))
	for _, mut := range []func(*Statement){
		func(s *Statement) { s.Subject = s.Subject[:len(s.Subject)-1] },
		func(s *Statement) { s.Subject = append(s.Subject, s.Subject[0]) },
		func(s *Statement) { s.Subject[0].Digest = map[string]string{"sha512": "00"} },
		func(s *Statement) { s.Subject[0].Digest = nil },
		func(s *Statement) { s.Subject[0].Name = "../" + s.Subject[0].Name },
		func(s *Statement) { s.Predicate.BundleDigest = "sha256:" + strings.Repeat("0", 64) },
		func(s *Statement) { s.Predicate.Publisher.Name = "Other" },
		func(s *Statement) { s.Predicate.Publisher.PublicKey = "" },
		func(s *Statement) { s.Type = "" },
	} {
		c := st
		c.Subject = append([]subject(nil), st.Subject...)
		mut(&c)
		b, err := json.Marshal(c)
		must(f, err)
		f.Add(b)
	}
	f.Add(append(good, ' '))
	f.Add([]byte(`{}`))
	signer, err := dsse.NewEnvelopeSigner(dssekey.Signer(priv))
	must(f, err)
	opts := VerifyOptions{Keys: trust(p.key(time.Time{}))}
	f.Fuzz(func(t *testing.T, payload []byte) {
		env, err := signer.SignPayload(context.Background(), PayloadType, payload)
		must(t, err)
		env.Signatures[0].KeyID = p.id
		b := unsigned.with(SignatureFile, encodeEnvelope(env))
		r := Verify(context.Background(), b, opts)
		if bytes.Equal(payload, good) && r.State != ValidTrusted {
			t.Fatalf("the genuine statement is judged %s: %s", r.State, r.Reason)
		}
		if r.State != ValidTrusted && r.State != ValidUntrustedKey {
			return
		}
		// docs/bundle-format.md §4 binds the files (subjects, bundle_digest)
		// and the publisher; predicate name and version are not compared.
		var got Statement
		if err := json.Unmarshal(payload, &got); err != nil {
			t.Fatalf("judged %s with a statement that does not decode: %q", r.State, payload)
		}
		g, w := got, st
		g.Predicate.Name, g.Predicate.Version = w.Predicate.Name, w.Predicate.Version
		if a, b := mustJSON(t, g), mustJSON(t, w); !bytes.Equal(a, b) {
			t.Fatalf("judged %s with a statement whose files or publisher differ from the genuine one: %q", r.State, payload)
		}
	})
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	return b
}

// TestReviewEmptySubjectNameIsNotASkip: a signed statement listing a subject
// named "" once made compareSubjects report its mismatch under the name "",
// which Verify read as "no mismatch" — skipping the per-file digest check
// for every file. Found by FuzzSignedStatement.
func TestReviewEmptySubjectNameIsNotASkip(t *testing.T) {
	p := newPublisher(t, "Acme")
	b := packSigned(t, writePlugin(t, p, "x", "1.0.0", tinyWasm), p).Unsigned()
	for name, mut := range map[string]func(*Statement){
		"only an empty name": func(s *Statement) { s.Subject = []subject{{Name: "", Digest: map[string]string{}}} },
		"empty name and a wrong digest": func(s *Statement) {
			s.Subject[0].Digest = map[string]string{"sha256": strings.Repeat("0", 64)}
			s.Subject = append(s.Subject, subject{Name: "", Digest: map[string]string{"sha256": strings.Repeat("1", 64)}})
		},
	} {
		st := statement(b, p.pub)
		mut(&st)
		signed, err := signStatement(context.Background(), b, p.priv, st)
		must(t, err)
		r := Verify(context.Background(), signed, VerifyOptions{Keys: trust(p.key(time.Time{}))})
		if r.State != DigestMismatch || r.OK() || r.Reason == "" {
			t.Errorf("%s: judged %s (%s), want %s", name, r.State, r.Reason, DigestMismatch)
		}
	}
}
