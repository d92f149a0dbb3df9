package audit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAppendDurable measures Append (returns once fsynced) with 1, 8 and
// 64 concurrent appenders, reporting events/s and per-append p50/p99 latency.
func BenchmarkAppendDurable(b *testing.B) {
	for _, appenders := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("appenders=%d", appenders), func(b *testing.B) {
			b.ReportAllocs()
			l := openTest(b, b.TempDir())
			defer l.Close()
			ev := testEvent(1)
			lat := make([][]time.Duration, appenders)
			var next atomic.Int64
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for g := range appenders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					e := *ev
					for next.Add(1) <= int64(b.N) {
						t0 := time.Now()
						if _, err := l.Append(context.Background(), &e); err != nil {
							b.Error(err)
							return
						}
						lat[g] = append(lat[g], time.Since(t0))
					}
				}()
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			all := slices.Concat(lat...)
			slices.Sort(all)
			if len(all) > 0 {
				b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
				b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
			}
		})
	}
}

// BenchmarkEnqueueSync is the gate's pattern: many events per invocation,
// one shared Sync at the invocation boundary (64 invocations of 16 events).
func BenchmarkEnqueueSync(b *testing.B) {
	b.ReportAllocs()
	l := openTest(b, b.TempDir())
	defer l.Close()
	ev := testEvent(1)
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := *ev
			for {
				k := next.Add(16)
				if k-16 >= int64(b.N) {
					return
				}
				for j := int64(0); j < 16 && k-16+j < int64(b.N); j++ {
					if _, err := l.Enqueue(&e); err != nil {
						b.Error(err)
						return
					}
				}
				if err := l.Sync(context.Background()); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

var verifyDirOnce struct {
	sync.Once
	dir string
	err error
}

// BenchmarkVerify1M verifies a log of 1,000,000 events (built once, outside
// the timer, in a directory removed at process exit).
func BenchmarkVerify1M(b *testing.B) {
	b.ReportAllocs()
	verifyDirOnce.Do(func() {
		dir, err := os.MkdirTemp("", "warden-audit-bench-")
		if err != nil {
			verifyDirOnce.err = err
			return
		}
		verifyDirOnce.dir = filepath.Join(dir, "audit")
		l, err := Open(verifyDirOnce.dir, WithSigner(newTestKey("host")))
		if err != nil {
			verifyDirOnce.err = err
			return
		}
		ev := testEvent(1)
		for i := range 1_000_000 {
			e := *ev
			e.Bytes = int64(i)
			if _, err := l.Enqueue(&e); err != nil {
				verifyDirOnce.err = err
				return
			}
		}
		verifyDirOnce.err = l.Close()
	})
	if verifyDirOnce.err != nil {
		b.Fatal(verifyDirOnce.err)
	}
	b.Cleanup(func() {})
	v, _ := Verifiers(vkey(b, newTestKey("host")))
	b.ResetTimer()
	for range b.N {
		rep, err := VerifyDir(context.Background(), verifyDirOnce.dir, v, VerifyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Events != 1_000_000 {
			b.Fatalf("verified %d events", rep.Events)
		}
	}
}

func BenchmarkProve(b *testing.B) {
	b.ReportAllocs()
	l := openTest(b, b.TempDir())
	defer l.Close()
	for i := range 100_000 {
		l.Enqueue(testEvent(i))
	}
	if _, err := l.Checkpoint(context.Background()); err != nil {
		b.Fatal(err)
	}
	v, _ := Verifiers(vkey(b, newTestKey("host")))
	p, _ := l.ProveInclusion(12345)
	data, _ := jsonMarshal(p)
	b.Run("generate", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			if _, err := l.ProveInclusion(uint64(i % 100_000)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, _, err := VerifyProof(data, v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCheckpoint measures one event plus a checkpoint: sign, append and
// fsync the note, then replace the witness (write, fsync, rename, fsync dir).
// Checkpoints come at most once per interval (1 s) or per 65536 events, so
// this is paid rarely; it bounds what the witness adds.
func BenchmarkCheckpoint(b *testing.B) {
	l := openTest(b, b.TempDir(), WithCheckpointInterval(time.Hour))
	defer l.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := l.Enqueue(testEvent(i)); err != nil {
			b.Fatal(err)
		}
		if _, err := l.Checkpoint(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
