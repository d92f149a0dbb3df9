package hostapi

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/wardenproject/warden/audit"

	"github.com/wardenproject/warden/hostapi/internal/fsprov"
	"github.com/wardenproject/warden/resource"
)

// BenchmarkGateCall measures a host call through the whole gate — params
// decoded and validated, the cached token check, the policy, the provider and
// the audit enqueue — beside the provider alone, so that the difference is
// what the gate adds (BENCHMARKS.md P1: at most 2 µs).
func BenchmarkGateCall(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	p := filepath.Join(e.data, "a.csv")
	statParams := []byte(`{"path":"` + p + `"}`)
	logParams := []byte(`{"level":"debug","message":"tick"}`)
	// Keep the ledger's writer from falling behind by more than a batch.
	sync := func(i int) {
		if i%4096 == 0 {
			_ = e.gate.Flush(ctx)
		}
	}
	b.Run("fs.stat", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := e.gate.Call(ctx, e.caller, "fs.stat", "", statParams); err != nil {
				b.Fatal(err)
			}
			i++
			sync(i)
		}
	})
	b.Run("fs.stat/provider-only", func(b *testing.B) {
		b.ReportAllocs()
		pat := resource.MustParse("filesystem:" + e.data + "/**")
		g := fsprov.Grant{Base: pat.Base(), Match: pat.MatchPath}
		for b.Loop() {
			if _, err := fsprov.Stat(g, p); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The provider with warden's state protected by identity: one more
	// stat (the root) and a map lookup per component.
	b.Run("fs.stat/provider-only-protected", func(b *testing.B) {
		b.ReportAllocs()
		pat := resource.MustParse("filesystem:" + e.data + "/**")
		g := fsprov.Grant{Base: pat.Base(), Match: pat.MatchPath, Protect: fsprov.NewProtection([]string{filepath.Join(e.dir, "home")})}
		for b.Loop() {
			if _, err := fsprov.Stat(g, p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("log.write", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := e.gate.Call(ctx, e.caller, "log.write", "", logParams); err != nil {
				b.Fatal(err)
			}
			i++
			sync(i)
		}
	})
	b.Run("kv.get-denied", func(b *testing.B) {
		b.ReportAllocs()
		params := []byte(`{"key":"secrets/x"}`)
		i := 0
		for b.Loop() {
			if _, err := e.gate.Call(ctx, e.caller, "kv.get", "", params); err == nil {
				b.Fatal("allowed")
			}
			i++
			sync(i)
		}
	})
	// The same calls with an auditor that only encodes nothing and counts:
	// what the gate itself costs, without the ledger's write and hashing.
	cfg := e.gate.cfg
	cfg.Audit = nullAuditor{}
	ng, err := NewGate(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("log.write/null-ledger", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ng.Call(ctx, e.caller, "log.write", "", logParams); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fs.stat/null-ledger", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ng.Call(ctx, e.caller, "fs.stat", "", statParams); err != nil {
				b.Fatal(err)
			}
		}
	})
	// As the host runs it: warden's home protected (Config.Protected), so
	// every filesystem call also pays the protected-path checks.
	cfg.Protected = []string{filepath.Join(e.dir, "home")}
	pg, err := NewGate(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("fs.stat/null-ledger-protected", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := pg.Call(ctx, e.caller, "fs.stat", "", statParams); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The capability filesystem's open (gated and audited once) and close,
	// with and without the protected paths.
	for _, gc := range []struct {
		name string
		g    *Gate
	}{{"OpenFile/null-ledger", ng}, {"OpenFile/null-ledger-protected", pg}} {
		b.Run(gc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f, err := gc.g.OpenFile(ctx, e.caller, "", p, os.O_RDONLY, 0)
				if err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
	}
	b.Run("decode-only", func(b *testing.B) {
		b.ReportAllocs()
		m := e.gate.methods["fs.stat"]
		var a args
		for b.Loop() {
			if decodeParams(statParams, &a) != nil || m.params.validate(&a) != nil {
				b.Fatal("invalid")
			}
		}
	})
}

type nullAuditor struct{}

func (nullAuditor) Enqueue(*audit.Event) (uint64, error)                 { return 0, nil }
func (nullAuditor) Append(context.Context, *audit.Event) (uint64, error) { return 0, nil }
func (nullAuditor) Sync(context.Context) error                           { return nil }

// BenchmarkFileRead measures one small read of a file opened through the
// gate (ReadAt of 4 KiB, from the page cache), beside the same read on the
// host file: the difference is what each read of an open file pays for its
// re-check (fileAuth: three atomic loads and a clock read while nothing was
// revoked). "revoking" revokes an unrelated token before every read, so
// each read runs the full re-check: the cost after a revocation.
func BenchmarkFileRead(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	p := filepath.Join(e.data, "big.bin")
	if err := os.WriteFile(p, make([]byte, 64<<10), 0o644); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 4<<10)
	b.Run("host-file", func(b *testing.B) {
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		for b.Loop() {
			if _, err := f.ReadAt(buf, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gate-file", func(b *testing.B) {
		f, err := e.gate.OpenFile(ctx, e.caller, "", p, os.O_RDONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.ReadAt(buf, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The re-check alone, without the read: what every read and write of an
	// open file pays while nothing was revoked.
	b.Run("recheck", func(b *testing.B) {
		f, err := e.gate.OpenFile(ctx, e.caller, "", p, os.O_RDONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		gf := f.(*gateFile)
		b.ReportAllocs()
		for b.Loop() {
			if err := gf.auth.check(gf, "read"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gate-file/revoking", func(b *testing.B) {
		f, err := e.gate.OpenFile(ctx, e.caller, "", p, os.O_RDONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			e.revoked.Revoke("unrelated-" + strconv.Itoa(i))
			if _, err := f.ReadAt(buf, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}
