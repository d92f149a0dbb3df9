package bundle

// Attack tests added by the independent security review (docs/threat-model.md).

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/wardenproject/warden/internal/dssekey"
)

// TestReviewEnvelopeTransplant: a genuine signature envelope is moved from the
// bundle it was made for into another bundle of the same trusted publisher
// (another plugin, or the same plugin at another version). The envelope
// verifies on its own, so only its subjects tie it to its bundle: each
// transplant must be a digest mismatch, never valid-trusted.
func TestReviewEnvelopeTransplant(t *testing.T) {
	acme := newPublisher(t, "Acme")
	o := VerifyOptions{Keys: trust(acme.key(time.Time{}))}
	alpha := packSigned(t, writePlugin(t, acme, "alpha", "1.0.0", tinyWasm), acme)
	beta := packSigned(t, writePlugin(t, acme, "beta", "2.0.0", tinyWasm), acme)
	alphaNext := packSigned(t, writePlugin(t, acme, "alpha", "1.0.1", tinyWasm), acme)
	for _, b := range []*Bundle{alpha, beta, alphaNext} {
		if r := Verify(ctx, b, o); r.State != ValidTrusted {
			t.Fatalf("baseline %s: %s %s", r.Plugin, r.State, r.Reason)
		}
	}
	for _, tc := range []struct {
		name     string
		from, to *Bundle
	}{
		{"alpha's envelope in beta", alpha, beta},
		{"beta's envelope in alpha", beta, alpha},
		{"1.0.0's envelope in 1.0.1", alpha, alphaNext},
		{"1.0.1's envelope in 1.0.0", alphaNext, alpha},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, _ := tc.from.File(SignatureFile)
			r := Verify(ctx, withFile(t, tc.to.Unsigned(), SignatureFile, env), o)
			if r.State != DigestMismatch || r.OK() || r.File == "" {
				t.Fatalf("transplanted envelope: %s file %q (%s), want digest-mismatch naming a file", r.State, r.File, r.Reason)
			}
		})
	}
}

// TestReviewEnvelopeSignatureTricks: a second signature added next to the
// publisher's (by anyone), and the publisher's signature relabelled with
// another key id, are refused as invalid signatures.
func TestReviewEnvelopeSignatureTricks(t *testing.T) {
	acme := newPublisher(t, "Acme")
	eve := newPublisher(t, "Eve")
	o := VerifyOptions{Keys: trust(acme.key(time.Time{}), eve.key(time.Time{}))}
	good := packSigned(t, writePlugin(t, acme, "demo", "1.0.0", tinyWasm), acme)
	raw, _ := good.File(SignatureFile)
	var env dsse.Envelope
	must(t, json.Unmarshal(raw, &env))

	// Eve's own signature over the same payload (what DSSE signs).
	evs, err := dsse.NewEnvelopeSigner(dssekey.Signer(eve.priv))
	must(t, err)
	payload, err := env.DecodeB64Payload()
	must(t, err)
	eveEnv, err := evs.SignPayload(ctx, env.PayloadType, payload)
	must(t, err)

	twoSigs := env
	twoSigs.Signatures = append([]dsse.Signature{eveEnv.Signatures[0]}, env.Signatures...)
	relabelled := env
	relabelled.Signatures = []dsse.Signature{{KeyID: eve.id, Sig: env.Signatures[0].Sig}}
	eveOnly := env
	eveOnly.Signatures = eveEnv.Signatures

	for _, tc := range []struct {
		name string
		env  dsse.Envelope
	}{
		{"second signature by another trusted key", twoSigs},
		{"publisher's signature relabelled with another key id", relabelled},
		{"another trusted key signs the publisher's statement", eveOnly},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Verify(ctx, withFile(t, good.Unsigned(), SignatureFile, encodeEnvelope(&tc.env)), o)
			if r.State != InvalidSignature || r.OK() {
				t.Fatalf("%s (%s), want invalid-signature", r.State, r.Reason)
			}
		})
	}
}
