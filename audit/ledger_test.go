package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

func TestAppendReadProveVerify(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, WithCheckpointEvery(7), WithSegmentSize(2048))
	ctx := context.Background()
	const n = 100
	ids := make([]string, n)
	for i := range n {
		ev := testEvent(i)
		idx, err := l.Append(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		if idx != uint64(i) {
			t.Fatalf("index %d, want %d", idx, i)
		}
		ids[i] = ev.ID
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		e, err := l.Find(ids[i])
		if err != nil {
			t.Fatalf("Find(%s): %v", ids[i], err)
		}
		if e.Index != uint64(i) || e.Event.Resource != testEvent(i).Resource {
			t.Fatalf("Find(%s) = %d %q", ids[i], e.Index, e.Event.Resource)
		}
		p, err := l.ProveInclusion(uint64(i))
		if err != nil {
			t.Fatalf("prove %d: %v", i, err)
		}
		v, _ := Verifiers(vkey(t, newTestKey("host")))
		data, _ := jsonMarshal(p)
		if _, _, err := VerifyProof(data, v); err != nil {
			t.Fatalf("verify proof %d: %v", i, err)
		}
	}
	got := 0
	for e, err := range l.Read(10) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Index != uint64(10+got) {
			t.Fatalf("read index %d, want %d", e.Index, 10+got)
		}
		got++
	}
	if got != n-10 {
		t.Fatalf("read %d events, want %d", got, n-10)
	}
	if err := l.Verify(ctx, nil); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := listSegments(dir)
	if len(segs) < 3 {
		t.Fatalf("only %d segments; rotation did not happen", len(segs))
	}
	// Reopen: indices continue, everything still verifies.
	l = openTest(t, dir)
	idx, err := l.Append(ctx, testEvent(n))
	if err != nil || idx != n {
		t.Fatalf("append after reopen: %d, %v", idx, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	v, _ := Verifiers(vkey(t, newTestKey("host")))
	rep, err := VerifyDir(ctx, dir, v, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Events != n+1 || rep.Unsigned != 0 {
		t.Fatalf("report %+v", rep)
	}
}

func TestConcurrentAppendGroupCommit(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, WithCheckpointEvery(500))
	ctx := context.Background()
	var wg sync.WaitGroup
	seen := make([]bool, 64*50)
	var mu sync.Mutex
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				idx, err := l.Append(ctx, testEvent(g*50+i))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[idx] {
					t.Errorf("index %d returned twice", idx)
				}
				seen[idx] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	v, _ := Verifiers(vkey(t, newTestKey("host")))
	if _, err := VerifyDir(ctx, dir, v, VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestEnqueueSync(t *testing.T) {
	l := openTest(t, t.TempDir())
	defer l.Close()
	for i := range 10 {
		if _, err := l.Enqueue(testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l.Len() != 10 {
		t.Fatalf("Len %d after Sync, want 10", l.Len())
	}
}

func TestSecondWriterIsLockedOut(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir)
	defer l.Close()
	if _, err := Open(dir, WithSigner(newTestKey("host"))); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	ro, err := Open(dir, ReadOnly())
	if err != nil {
		t.Fatalf("read-only Open beside a writer: %v", err)
	}
	defer ro.Close()
	if _, err := l.Append(context.Background(), testEvent(1)); err != nil {
		t.Fatal(err)
	}
	if ro.Len() != 1 {
		t.Fatalf("reader sees %d events, want 1", ro.Len())
	}
}

func TestInvalidEvents(t *testing.T) {
	l := openTest(t, t.TempDir())
	defer l.Close()
	for name, mut := range map[string]func(*Event){
		"no action":      func(e *Event) { e.Action = "" },
		"bad cap hash":   func(e *Event) { e.CapHash = "sha256:XYZ" },
		"bad effect":     func(e *Event) { e.Decision.Effect = "maybe" },
		"negative bytes": func(e *Event) { e.Bytes = -1 },
		"huge duration":  func(e *Event) { e.DurationNS = 1 << 60 },
		"bad detail key": func(e *Event) { e.Detail = map[string]string{"Bad Key": "x"} },
		"too large":      func(e *Event) { e.Resource = string(make([]byte, MaxEventSize)) },
	} {
		ev := testEvent(1)
		mut(ev)
		if _, err := l.Append(context.Background(), ev); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("%s: %v, want ErrInvalidEvent", name, err)
		}
	}
	if l.Len() != 0 {
		t.Fatalf("invalid events were appended: Len %d", l.Len())
	}
	_ = fmt.Sprint()
}
