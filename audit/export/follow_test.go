package export

import (
	"bufio"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/audit"
)

// Follow delivers events appended after it started, to a loopback syslog
// receiver, and stops cleanly on cancel with the cursor at the end.
func TestFollowExportsAsEventsArrive(t *testing.T) {
	l, dir := newLedger(t, 3)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 100)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			lenStr, err := r.ReadString(' ')
			if err != nil {
				return
			}
			n, err := strconv.Atoi(strings.TrimSpace(lenStr))
			if err != nil || n <= 0 || n > audit.MaxEventSize*2 {
				t.Errorf("bad frame length %q", lenStr)
				return
			}
			msg := make([]byte, n)
			if _, err := io.ReadFull(r, msg); err != nil {
				return
			}
			got <- string(msg)
		}
	}()
	x, err := New(dir, &Config{Sinks: []SinkConfig{{Name: "tcp", Type: "syslog", Network: "tcp", Address: ln.Addr().String(), Hostname: "host1"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()

	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var reports []Result
	done := make(chan error, 1)
	go func() {
		done <- x.Follow(ctx, l, time.Millisecond, func(rs []Result, err error) {
			if err != nil {
				t.Errorf("follow run failed: %v", err)
			}
			mu.Lock()
			reports = append(reports, rs...)
			mu.Unlock()
		})
	}()
	next := 0
	wait := func(want int) {
		t.Helper()
		for i := range want {
			select {
			case msg := <-got:
				e, err := l.Get(uint64(next))
				if err != nil {
					t.Fatal(err)
				}
				next++
				checkSyslog(t, msg, e, false)
			case <-time.After(30 * time.Second): // only stops a broken loop hanging the test
				t.Fatalf("follow delivered %d of %d events", i, want)
			}
		}
	}
	wait(3)
	appendEvents(t, l, 3, 4)
	if err := l.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	wait(4)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Follow after cancel: %v", err)
	}
	if c, err := x.Cursor("tcp"); err != nil || c != 7 {
		t.Fatalf("cursor %d, %v; want 7", c, err)
	}
	mu.Lock()
	defer mu.Unlock()
	var sent uint64
	for _, r := range reports {
		sent += r.Sent
	}
	if sent != 7 {
		t.Fatalf("reports add up to %d sent, want 7", sent)
	}
	select {
	case msg := <-got:
		t.Fatalf("an event was delivered twice: %q", msg)
	default:
	}
}

func TestFollowRefusesZeroInterval(t *testing.T) {
	l, dir := newLedger(t, 0)
	x, err := New(dir, &Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Follow(context.Background(), l, 0, nil); err == nil {
		t.Fatal("Follow with interval 0 ran")
	}
}
