package capability

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestCacheBounded(t *testing.T) {
	f := newFixture(t)
	v := f.ver.WithCacheSize(64)
	for i := range 500 {
		tok, _, err := f.iss.Mint(Request{Subject: "s", Audience: fmt.Sprint("a", i), Resource: "clipboard", Actions: []string{"read"}, TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(tok, Expect{}, t0); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.cache.len(); n > 64 || n == 0 {
		t.Fatalf("cache holds %d entries, bound 64", n)
	}
	v.Purge()
	if n := v.cache.len(); n != 0 {
		t.Fatalf("purge left %d entries", n)
	}
	if off := f.ver.WithCacheSize(0); off.cache != nil {
		t.Fatal("size 0 must disable the cache")
	}
}

// Many goroutines verify cached and fresh tokens while others revoke: run
// with -race. Once Revoke returns, no Verify that starts afterwards may accept
// the token.
func TestCacheConcurrentRevocation(t *testing.T) {
	f := newFixture(t)
	v := f.ver.WithCacheSize(256)
	const n = 200
	toks := make([]string, n)
	caps := make([]*Capability, n)
	for i := range toks {
		var err error
		toks[i], caps[i], err = f.iss.Mint(Request{Subject: "s", Audience: "a", Resource: "clipboard", Actions: []string{"read"}, TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
	}
	var revoked sync.Map
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 2000 {
				i := (j*7 + w) % n
				_, wasRevoked := revoked.Load(i)
				_, err := v.Verify(toks[i], Expect{Subject: "s", Audience: "a"}, t0)
				if wasRevoked && err == nil {
					t.Errorf("token %d accepted after its revocation completed", i)
					return
				}
				if err != nil && !errors.Is(err, ErrRevoked) {
					t.Errorf("unexpected: %v", err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i += 3 {
			f.rev.Revoke(caps[i].ID)
			revoked.Store(i, true)
		}
	}()
	wg.Wait()
}
