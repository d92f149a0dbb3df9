// Package docverify is a second, minimal verifier of warden's audit log,
// written only from docs/audit-format.md with the Go standard library. It
// shares no code with package audit on purpose: its tests prove that the
// document is enough to check a log the ledger wrote, and that the ledger
// writes what the document says (RFC 8785 canonical events, RFC 6962 tree,
// C2SP signed-note checkpoints). Its own tree and canonical form are in turn
// checked against outside implementations (x/mod's tlog, gowebpki/jcs) in
// reference_test.go.
package docverify

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Key is a parsed verifier key "name+hash+base64(0x01||pub)".
type Key struct {
	Name string
	Hash uint32
	Pub  ed25519.PublicKey
}

// ParseKey parses a verifier key (docs §4).
func ParseKey(s string) (Key, error) {
	parts := strings.SplitN(strings.TrimSpace(s), "+", 3)
	if len(parts) != 3 {
		return Key{}, errors.New("verifier key needs name+hash+key")
	}
	h, err := strconv.ParseUint(parts[1], 16, 32)
	if err != nil || len(parts[1]) != 8 {
		return Key{}, errors.New("bad key hash")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 33 || raw[0] != 1 {
		return Key{}, errors.New("bad key")
	}
	k := Key{Name: parts[0], Hash: uint32(h), Pub: ed25519.PublicKey(raw[1:])}
	sum := sha256.Sum256(append([]byte(k.Name+"\n\x01"), k.Pub...))
	if binary.BigEndian.Uint32(sum[:4]) != k.Hash {
		return Key{}, errors.New("key hash does not match key")
	}
	return k, nil
}

// Checkpoint is a verified checkpoint.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   [32]byte
}

// OpenNote checks a signed note's signature by key and parses its checkpoint text.
func OpenNote(msg []byte, key Key) (Checkpoint, error) {
	i := bytes.Index(msg, []byte("\n\n"))
	if i < 0 {
		return Checkpoint{}, errors.New("note: no blank line")
	}
	text, sigs := msg[:i+1], msg[i+2:]
	ok := false
	for _, line := range strings.Split(strings.TrimSuffix(string(sigs), "\n"), "\n") {
		rest, found := strings.CutPrefix(line, "— ")
		if !found {
			return Checkpoint{}, errors.New("note: bad signature line")
		}
		name, b64, _ := strings.Cut(rest, " ")
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(raw) < 4 {
			return Checkpoint{}, errors.New("note: bad signature encoding")
		}
		if name == key.Name && binary.BigEndian.Uint32(raw) == key.Hash {
			if len(raw) != 68 || !ed25519.Verify(key.Pub, text, raw[4:]) {
				return Checkpoint{}, errors.New("note: invalid signature")
			}
			ok = true
		}
	}
	if !ok {
		return Checkpoint{}, errors.New("note: not signed by the key")
	}
	lines := strings.SplitN(string(text), "\n", 4)
	if len(lines) < 4 {
		return Checkpoint{}, errors.New("checkpoint: too few lines")
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return Checkpoint{}, errors.New("checkpoint: bad size")
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		return Checkpoint{}, errors.New("checkpoint: bad root")
	}
	c := Checkpoint{Origin: lines[0], Size: size}
	copy(c.Root[:], root)
	return c, nil
}

func leafHash(d []byte) [32]byte { return sha256.Sum256(append([]byte{0}, d...)) }

func nodeHash(l, r [32]byte) [32]byte {
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

// mth computes the RFC 6962 tree hash of leaves[lo:hi] recursively.
func mth(leaves [][32]byte) [32]byte {
	n := len(leaves)
	if n == 0 {
		return sha256.Sum256(nil)
	}
	if n == 1 {
		return leaves[0]
	}
	k := 1
	for k*2 < n {
		k *= 2
	}
	return nodeHash(mth(leaves[:k]), mth(leaves[k:]))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Events reads every event payload of the log, in order, checking framing.
func Events(dir string) ([][]byte, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".seg") && len(e.Name()) == 24 {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var out [][]byte
	for si, name := range names {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		first, _ := strconv.ParseUint(name[:20], 10, 64)
		if len(b) < 16 || string(b[:8]) != "WAUDSEG1" || binary.BigEndian.Uint64(b[8:]) != first || first != uint64(len(out)) {
			return nil, fmt.Errorf("%s: bad header or gap", name)
		}
		for off := 16; off < len(b); {
			if len(b)-off < 16 {
				if si == len(names)-1 {
					break // torn tail
				}
				return nil, fmt.Errorf("%s: short record", name)
			}
			n := int(binary.BigEndian.Uint32(b[off:]))
			if n == 0 || n > 1<<20 || off+16+n > len(b) {
				if si == len(names)-1 && off+16+n > len(b) {
					break
				}
				return nil, fmt.Errorf("%s@%d: bad length", name, off)
			}
			if crc32.Checksum(b[off+8:off+16+n], castagnoli) != binary.BigEndian.Uint32(b[off+4:]) {
				return nil, fmt.Errorf("%s@%d: bad crc", name, off)
			}
			if binary.BigEndian.Uint64(b[off+8:]) != uint64(len(out)) {
				return nil, fmt.Errorf("%s@%d: wrong index", name, off)
			}
			out = append(out, b[off+16:off+16+n])
			off += 16 + n
		}
	}
	return out, nil
}

// Verify checks the log in dir with key: framing, every checkpoint's
// signature and root, and that every event is in canonical form. It returns
// the number of events.
func Verify(dir string, vkey string) (int, error) {
	key, err := ParseKey(vkey)
	if err != nil {
		return 0, err
	}
	ob, err := os.ReadFile(filepath.Join(dir, "origin"))
	if err != nil {
		return 0, err
	}
	origin := strings.TrimSuffix(string(ob), "\n")
	evs, err := Events(dir)
	if err != nil {
		return 0, err
	}
	leaves := make([][32]byte, len(evs))
	for i, e := range evs {
		leaves[i] = leafHash(e)
		if err := checkCanonical(e); err != nil {
			return 0, fmt.Errorf("event %d: %w", i, err)
		}
	}
	cb, err := os.ReadFile(filepath.Join(dir, "checkpoints"))
	if err != nil {
		return 0, err
	}
	if len(cb) < 8 || string(cb[:8]) != "WAUDCKP1" {
		return 0, errors.New("checkpoints: bad magic")
	}
	var prev uint64
	count := 0
	for off := 8; off+8 <= len(cb); {
		n := int(binary.BigEndian.Uint32(cb[off:]))
		if off+8+n > len(cb) {
			break
		}
		note := cb[off+8 : off+8+n]
		if crc32.Checksum(note, castagnoli) != binary.BigEndian.Uint32(cb[off+4:]) {
			return 0, fmt.Errorf("checkpoint %d: bad crc", count)
		}
		c, err := OpenNote(note, key)
		if err != nil {
			return 0, fmt.Errorf("checkpoint %d: %w", count, err)
		}
		if c.Origin != origin || c.Size < prev || c.Size > uint64(len(leaves)) || mth(leaves[:c.Size]) != c.Root {
			return 0, fmt.Errorf("checkpoint %d (size %d) does not match the log", count, c.Size)
		}
		prev = c.Size
		count++
		off += 8 + n
	}
	if count == 0 {
		return 0, errors.New("no checkpoint")
	}
	return len(evs), nil
}

// checkCanonical re-encodes the event per docs §1 and compares.
func checkCanonical(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	if got := jcs(v); got != string(b) {
		return fmt.Errorf("not canonical:\n%s\n%s", b, got)
	}
	return nil
}

func jcs(v any) string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return lessUTF16(keys[i], keys[j]) })
		var sb strings.Builder
		sb.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(jcsString(k) + ":" + jcs(x[k]))
		}
		return sb.String() + "}"
	case string:
		return jcsString(x)
	case json.Number:
		return x.String()
	}
	return fmt.Sprint(v)
}

func lessUTF16(a, b string) bool {
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	for i := 0; i < len(ua) && i < len(ub); i++ {
		if ua[i] != ub[i] {
			return ua[i] < ub[i]
		}
	}
	return len(ua) < len(ub)
}

func jcsString(s string) string {
	var sb strings.Builder
	sb.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			sb.WriteString(`\"`)
		case r == '\\':
			sb.WriteString(`\\`)
		case r == '\b':
			sb.WriteString(`\b`)
		case r == '\t':
			sb.WriteString(`\t`)
		case r == '\n':
			sb.WriteString(`\n`)
		case r == '\f':
			sb.WriteString(`\f`)
		case r == '\r':
			sb.WriteString(`\r`)
		case r < 0x20:
			fmt.Fprintf(&sb, `\u%04x`, r)
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String() + `"`
}

// VerifyProof checks a proof document (docs §6) with only the verifier key.
func VerifyProof(doc []byte, vkey string) error {
	key, err := ParseKey(vkey)
	if err != nil {
		return err
	}
	var p struct {
		Format     string   `json:"format"`
		Index      uint64   `json:"index"`
		TreeSize   uint64   `json:"tree_size"`
		LeafHash   string   `json:"leaf_hash"`
		Proof      []string `json:"proof"`
		Checkpoint string   `json:"checkpoint"`
		Canonical  string   `json:"event_canonical"`
	}
	if err := json.Unmarshal(doc, &p); err != nil {
		return err
	}
	if p.Format != "warden-audit-proof/v1" {
		return errors.New("unknown format")
	}
	c, err := OpenNote([]byte(p.Checkpoint), key)
	if err != nil {
		return err
	}
	if c.Size != p.TreeSize || p.Index >= c.Size {
		return errors.New("size mismatch")
	}
	r := leafHash([]byte(p.Canonical))
	if base64.StdEncoding.EncodeToString(r[:]) != p.LeafHash {
		return errors.New("leaf hash mismatch")
	}
	// RFC 9162 section 2.1.3.2.
	fn, sn := p.Index, c.Size-1
	for _, s := range p.Proof {
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(raw) != 32 || sn == 0 {
			return errors.New("bad proof element")
		}
		var h [32]byte
		copy(h[:], raw)
		if fn&1 == 1 || fn == sn {
			r = nodeHash(h, r)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = nodeHash(r, h)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 || r != c.Root {
		return errors.New("proof does not reach the signed root")
	}
	return nil
}
