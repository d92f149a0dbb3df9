package keyid

import (
	"crypto/ed25519"
	"testing"
)

func TestOfIsStableAndValid(t *testing.T) {
	// RFC 8032 test 1 public key; the id pins the derivation.
	pub := ed25519.PublicKey{0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
		0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a}
	id := Of(pub)
	if !Valid(id) {
		t.Fatalf("Of returned %q, which Valid rejects", id)
	}
	if id != "ed25519:21fe31dfa154a261" {
		t.Fatalf("key id derivation changed: %s", id)
	}
	for _, bad := range []string{"", "ed25519:", "ed25519:21FE31DFA154A261", "rsa:21fe31dfa154a261", "ed25519:21fe31dfa154a2611"} {
		if Valid(bad) {
			t.Errorf("Valid(%q) = true", bad)
		}
	}
}
