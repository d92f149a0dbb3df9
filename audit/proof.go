package audit

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// ProofFormat names the inclusion proof JSON format (docs/audit-format.md).
const ProofFormat = "warden-audit-proof/v1"

// Proof shows that one event is the leaf at Index of the tree a signed
// checkpoint commits to. It carries everything a verifier needs besides the
// host's verifier key.
type Proof struct {
	Format     string          `json:"format"`
	Index      uint64          `json:"index"`
	TreeSize   uint64          `json:"tree_size"`
	LeafHash   string          `json:"leaf_hash"`
	Hashes     []string        `json:"proof"`
	Checkpoint string          `json:"checkpoint"`
	Canonical  string          `json:"event_canonical"`
	Event      json.RawMessage `json:"event,omitempty"`
}

// ErrBadProof is returned (wrapped) by VerifyProof for a proof that does not
// show what it claims.
var ErrBadProof = errors.New("inclusion proof does not verify")

// ProveInclusion returns a proof that event index is in the tree of the latest
// checkpoint. The proof is checked before it is returned, so damaged stored
// hashes give an error, never a wrong proof.
func (l *Ledger) ProveInclusion(index uint64) (*Proof, error) {
	c, ok := l.Latest()
	if !ok || index >= c.Size {
		return nil, fmt.Errorf("prove audit event %d: %w (latest checkpoint covers %d events)", index, ErrNotCheckpointed, c.Size)
	}
	if l.hashF == nil {
		return nil, fmt.Errorf("prove audit event %d: the stored hash file is missing; open the ledger for writing once to rebuild it", index)
	}
	raw, err := l.raw(index)
	if err != nil {
		return nil, err
	}
	p, err := tlog.ProveRecord(int64(c.Size), int64(index), l.fileHashes())
	if err != nil {
		return nil, fmt.Errorf("prove audit event %d: %w", index, err)
	}
	leaf := tlog.RecordHash(raw)
	if err := tlog.CheckRecord(p, int64(c.Size), c.Root, int64(index), leaf); err != nil {
		return nil, integrity(ErrHashCache, int64(index), -1, hashFile, -1,
			"the proof built from stored hashes does not reach the checkpoint root (%v); run 'warden audit verify'", err)
	}
	pr := &Proof{Format: ProofFormat, Index: index, TreeSize: c.Size, LeafHash: b64(leaf),
		Checkpoint: string(c.Note), Canonical: string(raw), Event: json.RawMessage(raw)}
	for _, h := range p {
		pr.Hashes = append(pr.Hashes, b64(h))
	}
	return pr, nil
}

func b64(h tlog.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }

func unb64(s string) (tlog.Hash, error) {
	var h tlog.Hash
	raw, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(raw) != tlog.HashSize {
		return h, fmt.Errorf("%q is not base64 of 32 bytes", s)
	}
	copy(h[:], raw)
	return h, nil
}

// VerifyProof checks a proof document with nothing but the host's verifier
// keys: the checkpoint's signature, that the event's canonical bytes hash to
// the leaf, that the leaf and proof reach the signed root, and that the
// readable "event" copy says the same as the hashed bytes.
func VerifyProof(data []byte, verifiers note.Verifiers) (*Event, Checkpoint, error) {
	var p Proof
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, Checkpoint{}, fmt.Errorf("%w: not a proof document: %v", ErrBadProof, err)
	}
	if p.Format != ProofFormat {
		return nil, Checkpoint{}, fmt.Errorf("%w: format %q, want %q", ErrBadProof, p.Format, ProofFormat)
	}
	c, err := ParseCheckpoint([]byte(p.Checkpoint), verifiers)
	if err != nil {
		return nil, Checkpoint{}, err
	}
	if c.Size != p.TreeSize {
		return nil, c, fmt.Errorf("%w: tree_size %d but the checkpoint covers %d", ErrBadProof, p.TreeSize, c.Size)
	}
	if p.Index >= c.Size {
		return nil, c, fmt.Errorf("%w: index %d is outside a tree of %d", ErrBadProof, p.Index, c.Size)
	}
	leaf := tlog.RecordHash([]byte(p.Canonical))
	if p.LeafHash != b64(leaf) {
		return nil, c, fmt.Errorf("%w: event_canonical hashes to %s, not the leaf_hash %s", ErrBadProof, b64(leaf), p.LeafHash)
	}
	rp := make(tlog.RecordProof, len(p.Hashes))
	for i, s := range p.Hashes {
		if rp[i], err = unb64(s); err != nil {
			return nil, c, fmt.Errorf("%w: proof[%d]: %v", ErrBadProof, i, err)
		}
	}
	if err := tlog.CheckRecord(rp, int64(c.Size), c.Root, int64(p.Index), leaf); err != nil {
		return nil, c, fmt.Errorf("%w: %v", ErrBadProof, err)
	}
	ev, err := ParseEvent([]byte(p.Canonical))
	if err != nil {
		return nil, c, fmt.Errorf("%w: %v", ErrBadProof, err)
	}
	if len(p.Event) > 0 {
		var a, b any
		if json.Unmarshal(p.Event, &a) != nil || json.Unmarshal([]byte(p.Canonical), &b) != nil || !reflect.DeepEqual(a, b) {
			return nil, c, fmt.Errorf("%w: the readable event differs from event_canonical, which is what was hashed", ErrBadProof)
		}
	}
	return ev, c, nil
}
