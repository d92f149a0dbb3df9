package audit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func FuzzDecodeRecord(f *testing.F) {
	rec := appendRecordHeader(nil)
	rec = append(rec, `{"action":"fs.read","id":"a-0","time":"2025-01-01T00:00:00.000000000Z"}`...)
	finishRecord(rec, 7)
	f.Add(rec)
	f.Add(rec[:10])
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		idx, payload, n, err := decodeRecord(b)
		if err != nil {
			return
		}
		if n > len(b) || len(payload) != n-recHeaderSize {
			t.Fatalf("n=%d payload=%d len=%d", n, len(payload), len(b))
		}
		again := appendRecordHeader(nil)
		again = append(again, payload...)
		finishRecord(again, idx)
		if string(again) != string(b[:n]) {
			t.Fatal("re-encoding a decoded record changed it")
		}
		_, _, _ = scanRecords(append(segHeader(idx), b...), segHeaderSize, idx)
	})
}

func FuzzParseCheckpoint(f *testing.F) {
	k := newTestKey("host")
	s, _ := newNoteSigner(k)
	c, _ := signCheckpoint(s, "warden.audit/0123456789abcdef", 42, [32]byte{1, 2, 3})
	f.Add(c.Note)
	f.Add([]byte("warden.audit/x\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n— warden-host AAAA\n"))
	f.Add([]byte("o\n01\nAA==\n\n"))
	f.Add([]byte("o\n18446744073709551615\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nextension\n\n"))
	v, _ := Verifiers(vkey(f, k))
	f.Fuzz(func(t *testing.T, msg []byte) {
		c, err := ParseCheckpoint(msg, v)
		if err == nil {
			if c.Origin == "" {
				t.Fatal("parsed a checkpoint without origin")
			}
		} else if !errors.Is(err, ErrMalformedCheckpoint) && !errors.Is(err, ErrBadSignature) {
			t.Fatalf("error of no kind: %v", err)
		}
		_, _ = parseUnverifiedCheckpoint(msg)
		_, _, _ = scanCheckpoints(append([]byte(ckptMagic), msg...))
	})
}

func TestTornTailRecovered(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir)
	for i := range 5 {
		if _, err := l.Append(context.Background(), testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	// An append the crash interrupted: a record header promising more bytes
	// than were written.
	rec := appendRecordHeader(nil)
	rec = append(rec, `{"action":"fs.write","id":"x-5"}`...)
	finishRecord(rec, 5)
	p := filepath.Join(dir, segName(0))
	f, _ := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(rec[:len(rec)-4])
	f.Close()

	l = openTest(t, dir)
	defer l.Close()
	e, err := l.Get(5)
	if err != nil {
		t.Fatal(err)
	}
	if e.Event.Action != ActionLedgerRecover || e.Event.Detail["reason"] == "" {
		t.Fatalf("event 5 is %+v, want the ledger.recover event", e.Event)
	}
	t.Log(e.Event.Detail["reason"])
	if err := l.Verify(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

func TestDamageInTheMiddleRefused(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir)
	for i := range 5 {
		if _, err := l.Append(context.Background(), testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	p := filepath.Join(dir, segName(0))
	b, _ := os.ReadFile(p)
	b[segHeaderSize+recHeaderSize+3] ^= 0x40 // inside the first record
	os.WriteFile(p, b, 0o600)
	_, err := Open(dir, WithSigner(newTestKey("host")))
	if !errors.Is(err, ErrCorruptRecord) {
		t.Fatalf("Open: %v, want ErrCorruptRecord", err)
	}
	if after, _ := os.ReadFile(p); len(after) != len(b) {
		t.Fatal("Open changed a damaged segment")
	}
}
