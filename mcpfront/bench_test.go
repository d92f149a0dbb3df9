package mcpfront

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// BenchmarkToolsCall measures one tools/call round trip over newline-delimited
// JSON on an in-process pipe (stdio's framing without the process) through
// the warden front to examples/hello's greet in the WASM sandbox — input
// validation, token-checked pooled instance, audit events made durable —
// beside a plain go-sdk server whose greet is native Go doing the same work.
// Compare ns/op and the p50/p99 metrics of the two sub-benchmarks.
func BenchmarkToolsCall(b *testing.B) {
	args := map[string]any{"name": "Ada"}
	run := func(b *testing.B, s *mcp.Server, name string) {
		ct, st := mcp.NewInMemoryTransports()
		ss, err := s.Connect(context.Background(), st, nil)
		if err != nil {
			b.Fatal(err)
		}
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench"}, nil).Connect(context.Background(), ct, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer func() { cs.Close(); ss.Wait() }()
		ctx := context.Background()
		// Warm the pool and the caches.
		for range 3 {
			if r, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args}); err != nil || r.IsError {
				b.Fatalf("warm-up: %v %+v", err, r)
			}
		}
		lat := make([]time.Duration, 0, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			t0 := time.Now()
			r, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
			lat = append(lat, time.Since(t0))
			if err != nil || r.IsError {
				b.Fatalf("call: %v %+v", err, r)
			}
		}
		b.StopTimer()
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
	b.Run("warden-wasm", func(b *testing.B) {
		h, _ := realHost(b)
		run(b, realFront(b, h).Server(), "hello__greet")
	})
	b.Run("native-go-sdk", func(b *testing.B) {
		type in struct {
			Name string `json:"name" jsonschema:"the name"`
		}
		type out struct {
			Message string `json:"message"`
		}
		s := mcp.NewServer(&mcp.Implementation{Name: "native"}, nil)
		mcp.AddTool(s, &mcp.Tool{Name: "greet"}, func(_ context.Context, _ *mcp.CallToolRequest, i in) (*mcp.CallToolResult, out, error) {
			return nil, out{Message: "Hello, " + strings.TrimSpace(i.Name) + "!"}, nil
		})
		run(b, s, "greet")
	})
}
