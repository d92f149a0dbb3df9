package audit

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const crashDirEnv = "WARDEN_AUDIT_CRASH_DIR"

// TestCrashChild is the child side of TestCrashRecovery: it appends forever
// from several goroutines and prints each index once Append has returned.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("child process of TestCrashRecovery")
	}
	l, err := Open(dir, WithSigner(newTestKey("host")), WithCheckpointEvery(50), WithCheckpointInterval(5*time.Millisecond), WithSegmentSize(16<<10))
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				ev := testEvent(i)
				ev.Resource = fmt.Sprintf("crash:%d:%d:%d", os.Getpid(), g, i)
				idx, err := l.Append(context.Background(), ev)
				if err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(4)
				}
				mu.Lock()
				os.Stdout.WriteString(strconv.FormatUint(idx, 10) + " " + ev.Resource + "\n")
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestCrashRecovery SIGKILLs a child that appends in a loop, at random
// moments, and checks after each kill that every acknowledged event is there
// and the log verifies. WARDEN_SOAK=1 runs 100 rounds instead of 5.
func TestCrashRecovery(t *testing.T) {
	rounds := 5
	if os.Getenv("WARDEN_SOAK") == "1" {
		rounds = 100
	} else {
		t.Log("running 5 kill rounds; set WARDEN_SOAK=1 for 100")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	acked := map[uint64]string{}
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		started := make(chan struct{}) // closed at the child's first acknowledgement, or its end
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(out)
			first := true
			for sc.Scan() {
				if first {
					close(started)
					first = false
				}
				lines <- sc.Text()
			}
			if first {
				close(started)
			}
		}()
		// The kill comes at a random moment after the child is appending,
		// however slowly it starts (a loaded machine, the race detector):
		// a kill before its first append would test nothing.
		select {
		case <-started:
		case <-time.After(time.Minute):
		}
		time.Sleep(time.Duration(rng.IntN(250)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		n := 0
		for line := range lines {
			idx, res, ok := strings.Cut(line, " ")
			i, err := strconv.ParseUint(idx, 10, 64)
			if !ok || err != nil {
				continue
			}
			acked[i] = res
			n++
		}
		cmd.Wait()
		if n == 0 && round == 0 {
			t.Logf("round %d: child acknowledged nothing; stderr: %s", round, stderr.String())
		}

		l, err := Open(dir, WithSigner(newTestKey("host")))
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		for i, res := range acked {
			e, err := l.Get(i)
			if err != nil {
				t.Fatalf("round %d: acknowledged event %d lost: %v", round, i, err)
			}
			if e.Event.Resource != res {
				t.Fatalf("round %d: event %d is %q, acknowledged as %q", round, i, e.Event.Resource, res)
			}
		}
		if err := l.Verify(context.Background(), nil); err != nil {
			t.Fatalf("round %d: verify after SIGKILL: %v", round, err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if len(acked) == 0 {
		t.Fatal("no event was ever acknowledged; the child did not run")
	}
	t.Logf("%d acknowledged events survived %d kills", len(acked), rounds)
}
