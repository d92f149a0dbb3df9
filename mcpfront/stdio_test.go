package mcpfront

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
)

// TestStdioCancelledRequestGetsNoResponse: over stdio, a tools/call the
// client cancels gets no response (MCP: the receiver of
// notifications/cancelled should not respond), the call's handler sees the
// cancellation, and the session goes on: the next request is answered, and
// a later request reusing an answered id is answered too.
func TestStdioCancelledRequestGetsNoResponse(t *testing.T) {
	e := newEnv(t, Config{})
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	served := make(chan error, 1)
	go func() { served <- e.front.ServeStdio(ctx, inR, outW) }()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(outR)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	send := func(s string) {
		t.Helper()
		if _, err := io.WriteString(inW, s+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	next := func() map[string]any {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the session ended")
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("%q: %v", l, err)
			}
			return m
		case <-time.After(2 * time.Minute): // hang detector only
			t.Fatal("no message from the server")
		}
		return nil
	}
	send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	if m := next(); m["id"] != 1.0 {
		t.Fatalf("initialize: %v", m)
	}
	send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	send(`{"jsonrpc":"2.0","id":"call-7","method":"tools/call","params":{"name":"echo__slow","arguments":{}}}`)
	<-e.started
	send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"call-7","reason":"the person pressed stop"}}`)
	if err := <-e.slowErr; err == nil {
		t.Fatal("the cancelled call's handler saw no cancellation")
	}
	send(`{"jsonrpc":"2.0","id":8,"method":"ping"}`)
	if m := next(); m["id"] != 8.0 {
		t.Fatalf("after the cancellation the next message is %v; want the ping's response and nothing for call-7", m)
	}
	// A cancellation of a request already answered changes nothing, and an
	// id answered before may be used again.
	send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}`)
	send(`{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"echo__echo","arguments":{"msg":"again"}}}`)
	if m := next(); m["id"] != 8.0 || !strings.Contains(mustJSON(t, m), "again") {
		t.Fatalf("reused id 8: %v", m)
	}
	inW.Close()
	if err := <-served; err != nil {
		t.Fatalf("ServeStdio: %v", err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
