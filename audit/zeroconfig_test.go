package audit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The ledger's options fail closed (docs/architecture.md, "Configuration"):
// Open with no option is refused, naming the one it needs; an option given
// a zero value keeps the default rather than turning something off (the
// witness cannot be switched off, a zero checkpoint period or segment size
// does not mean "never"); and a ledger opened with nothing but its signer
// keeps a witness beside its directory.
func TestZeroOptionsLedger(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit")
	if l, err := Open(dir); err == nil {
		l.Close()
		t.Fatal("Open with no option succeeded")
	} else if !strings.Contains(err.Error(), "audit.WithSigner") {
		t.Fatalf("Open with no option: %v; want an error naming audit.WithSigner", err)
	}
	l := openTest(t, dir, WithWitness(""), WithCheckpointEvery(0), WithCheckpointInterval(0), WithSegmentSize(0))
	def := defaultConfig()
	if l.cfg.every != def.every || l.cfg.interval != def.interval || l.cfg.segSize != def.segSize || l.cfg.witness != DefaultWitnessPath(dir) {
		t.Fatalf("zero options became every %d interval %v segment %d witness %q; want the defaults", l.cfg.every, l.cfg.interval, l.cfg.segSize, l.cfg.witness)
	}
	if _, err := l.Append(context.Background(), testEvent(1)); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(DefaultWitnessPath(dir)); err != nil {
		t.Fatalf("a ledger opened with only a signer kept no witness: %v", err)
	}
}
