package capability

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// cache remembers verified tokens so that the hot path of Verify is a map
// lookup plus the expiry, caller and revocation checks.
//
// It is keyed by the token's bytes, not by their SHA-256: hashing a 600-byte
// token costs ~500 ns, more than twice the whole budget of a cached Verify,
// while hash/maphash (AES-based, seeded per process, so not predictable by
// whoever chooses tokens) costs ~40 ns. The 64-bit maphash picks the shard
// and the map slot, and a hit then compares the whole token, so a collision
// is impossible rather than improbable (two tokens that share a slot simply
// replace each other). The SHA-256 is computed once, on the miss, and kept in
// Capability.Hash for the audit log.
//
// The cache is split into shards, each a map under its own RWMutex, to keep
// goroutines on different tokens off each other's locks. A full shard evicts
// one random entry (Go randomises map iteration) to make room: O(1), no
// bookkeeping on the hit path, and no access pattern an attacker could use to
// pin entries.
type cache struct {
	seed     maphash.Seed
	perShard int
	shards   [cacheShards]cacheShard
}

const cacheShards = 64

type cacheShard struct {
	mu sync.RWMutex
	m  map[uint64]*cacheEntry
	_  [32]byte // keep shards on separate cache lines (24+8+32 bytes)
}

type cacheEntry struct {
	token string
	c     *Capability
	// gen is the revocation-set generation at which c was last found not
	// revoked; a hit re-checks the set only when the generation moved.
	gen atomic.Uint64
}

// newCache returns a cache of about size entries, or nil (caching off) for 0.
func newCache(size int) *cache {
	if size <= 0 {
		return nil
	}
	c := &cache{seed: maphash.MakeSeed(), perShard: max(1, (size+cacheShards-1)/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]*cacheEntry)
	}
	return c
}

func (c *cache) slot(token string) (*cacheShard, uint64) {
	h := maphash.String(c.seed, token)
	return &c.shards[h%cacheShards], h
}

func (c *cache) get(token string) *cacheEntry {
	if c == nil {
		return nil
	}
	s, h := c.slot(token)
	s.mu.RLock()
	e := s.m[h]
	s.mu.RUnlock()
	if e == nil || e.token != token {
		return nil
	}
	return e
}

func (c *cache) put(token string, capa *Capability, gen uint64) {
	if c == nil {
		return
	}
	// A copy, so the cache never pins a larger buffer the token was cut from.
	e := &cacheEntry{token: string([]byte(token)), c: capa}
	e.gen.Store(gen)
	s, h := c.slot(token)
	s.mu.Lock()
	if _, ok := s.m[h]; !ok && len(s.m) >= c.perShard {
		for k := range s.m {
			delete(s.m, k)
			break
		}
	}
	s.m[h] = e
	s.mu.Unlock()
}

func (c *cache) remove(token string) {
	if c == nil {
		return
	}
	s, h := c.slot(token)
	s.mu.Lock()
	if e := s.m[h]; e != nil && e.token == token {
		delete(s.m, h)
	}
	s.mu.Unlock()
}

func (c *cache) purge() {
	if c == nil {
		return
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
}

func (c *cache) len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
