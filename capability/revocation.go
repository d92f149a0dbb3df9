package capability

import (
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// Revoker is what a store feeds revocations into when it loads them, and
// what `warden revoke` calls. *RevocationSet implements it.
type Revoker interface {
	// Revoke revokes the token with this jti and, through their chain
	// claims, every token delegated from it.
	Revoke(jti string)
	// RevokeSubject revokes every token of subject (a plugin id) issued
	// before the instant before and, through their anc claims, every token
	// delegated from one of them, whoever holds it. Pass time.Now() to revoke
	// all its tokens so far; tokens minted afterwards are unaffected.
	RevokeSubject(subject string, before time.Time)
}

// RevocationSet holds revoked token ids and per-subject cut-off times, in
// memory. It is safe for concurrent use, and a lookup is a map read under a
// shard's read lock, so 100,000 revoked ids cost no more than ten.
//
// Generation increases after every change, which lets the verifier's cache
// skip the lookups while nothing was revoked. Writers change the maps first
// and bump the generation after; readers load the generation first and check
// the maps after, so a reader can only ever remember a generation older than
// what it checked, never newer.
type RevocationSet struct {
	gen    atomic.Uint64
	seed   maphash.Seed
	shards [revShards]revShard

	subMu    sync.RWMutex
	subjects map[string]int64 // subject -> cut-off, Unix nanoseconds
	nSubj    atomic.Int64
}

const revShards = 16

type revShard struct {
	mu  sync.RWMutex
	ids map[string]struct{}
	_   [32]byte
}

// NewRevocationSet returns an empty set.
func NewRevocationSet() *RevocationSet {
	s := &RevocationSet{seed: maphash.MakeSeed(), subjects: make(map[string]int64)}
	for i := range s.shards {
		s.shards[i].ids = make(map[string]struct{})
	}
	return s
}

var _ Revoker = (*RevocationSet)(nil)

// Revoke adds jti to the set.
func (s *RevocationSet) Revoke(jti string) {
	sh := &s.shards[maphash.String(s.seed, jti)%revShards]
	sh.mu.Lock()
	sh.ids[jti] = struct{}{}
	sh.mu.Unlock()
	s.gen.Add(1)
}

// RevokeSubject revokes subject's tokens issued before before, and the
// tokens delegated from them (see Check). Of several cut-offs for one
// subject the latest wins. Token times are whole seconds, so a token minted
// in the same second as the revocation, but after it, is revoked too:
// erring toward revoking.
func (s *RevocationSet) RevokeSubject(subject string, before time.Time) {
	n := before.UnixNano()
	s.subMu.Lock()
	if old, ok := s.subjects[subject]; !ok || n > old {
		s.subjects[subject] = n
	}
	s.nSubj.Store(int64(len(s.subjects)))
	s.subMu.Unlock()
	s.gen.Add(1)
}

// Revoked reports whether jti itself was revoked.
func (s *RevocationSet) Revoked(jti string) bool {
	sh := &s.shards[maphash.String(s.seed, jti)%revShards]
	sh.mu.RLock()
	_, ok := sh.ids[jti]
	sh.mu.RUnlock()
	return ok
}

// SubjectCutoff returns the instant before which subject's tokens are
// revoked, if any.
func (s *RevocationSet) SubjectCutoff(subject string) (time.Time, bool) {
	if s.nSubj.Load() == 0 {
		return time.Time{}, false
	}
	s.subMu.RLock()
	n, ok := s.subjects[subject]
	s.subMu.RUnlock()
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, n), true
}

// Generation returns a number that increases after every change to the set.
func (s *RevocationSet) Generation() uint64 { return s.gen.Load() }

// Len returns the number of revoked ids (not counting subject cut-offs).
func (s *RevocationSet) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += len(sh.ids)
		sh.mu.RUnlock()
	}
	return n
}

// Check returns an error wrapping ErrRevoked if c's jti is revoked or c was
// issued before its subject's cut-off; ErrRevokedAncestor if the jti of any
// ancestor in its chain is revoked, or any ancestor was issued before its
// own subject's cut-off (a plugin's revocation reaches what it delegated to
// other plugins); and nil otherwise.
//
// Each ancestor is judged by its own subject and iat, not the child's: a
// token plugin A delegated to B before A's cut-off dies with A's tokens, and
// one delegated from a token A was minted after the cut-off lives.
func (s *RevocationSet) Check(c *Capability) error {
	if s.Revoked(c.ID) {
		return fmt.Errorf("verify token %s: %w", c.ID, ErrRevoked)
	}
	if s.nSubj.Load() != 0 {
		// One read lock for the token and all its ancestors.
		s.subMu.RLock()
		cut, own := s.subjects[c.Subject]
		own = own && c.iatN < cut
		anc, ancCut := -1, int64(0)
		if !own {
			for i := range c.Ancestors {
				a := &c.Ancestors[i]
				if n, ok := s.subjects[a.Subject]; ok && a.IssuedAt.UnixNano() < n {
					anc, ancCut = i, n
					break
				}
			}
		}
		s.subMu.RUnlock()
		if own {
			return fmt.Errorf("verify token %s: every token of %q issued before %s was revoked: %w", c.ID, c.Subject, time.Unix(0, cut).UTC().Format(time.RFC3339), ErrRevoked)
		}
		if anc >= 0 {
			a := c.Ancestors[anc]
			return fmt.Errorf("verify token %s: its ancestor %s belongs to %q, every token of which issued before %s was revoked: %w",
				c.ID, a.ID, a.Subject, time.Unix(0, ancCut).UTC().Format(time.RFC3339), ErrRevokedAncestor)
		}
	}
	for _, id := range c.Chain {
		if s.Revoked(id) {
			return fmt.Errorf("verify token %s: its ancestor %s was revoked: %w", c.ID, id, ErrRevokedAncestor)
		}
	}
	return nil
}
