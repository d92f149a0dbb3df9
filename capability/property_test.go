package capability

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/wardenproject/warden/resource"
)

// genFSPattern draws filesystem patterns over a tiny alphabet, so that
// parents and children often overlap, nest, or differ by one wildcard.
func genFSPattern() *rapid.Generator[string] {
	seg := rapid.SampledFrom([]string{"a", "b", "c", "*", "**", "a*", "*b"})
	return rapid.Custom(func(t *rapid.T) string {
		segs := rapid.SliceOfN(seg, 1, 4).Draw(t, "segs")
		return "filesystem:/" + strings.Join(segs, "/")
	})
}

var fsActions = []string{"delete", "list", "read", "write"}

func genActions() *rapid.Generator[[]string] {
	return rapid.Custom(func(t *rapid.T) []string {
		return rapid.SliceOfNDistinct(rapid.SampledFrom(fsActions), 1, 4, rapid.ID[string]).Draw(t, "acts")
	})
}

// Property: whatever is asked, a successful Delegate never widens its
// parent, and each refusal names the rule that was broken.
func TestPropertyDelegationNeverWidens(t *testing.T) {
	f := newFixture(t)
	seen := map[string]int{}
	defer func() {
		t.Logf("outcomes: %v", seen)
		for _, k := range []string{"ok", "widen_resource", "widen_actions", "widen_expiry"} {
			if seen[k] == 0 {
				t.Errorf("no case ended in %s: the generators do not reach it", k)
			}
		}
	}()
	rapid.Check(t, func(rt *rapid.T) {
		parentTTL := time.Duration(rapid.IntRange(30, 3600).Draw(rt, "parentTTL")) * time.Second
		tok, parent, err := f.iss.Mint(Request{Subject: "p", Audience: "a0",
			Resource: genFSPattern().Draw(rt, "parentRes"), Actions: genActions().Draw(rt, "parentActs"), TTL: parentTTL})
		if err != nil {
			rt.Skip("parent pattern not mintable:", err)
		}
		// Walk a chain of random delegations from the root.
		chain := []*Capability{parent}
		toks := []string{tok}
		elapsed := time.Duration(0)
		for depth := 1; depth <= 5; depth++ {
			elapsed += time.Duration(rapid.IntRange(0, 60).Draw(rt, "elapsed")) * time.Second
			iss := f.iss.WithClock(func() time.Time { return t0.Add(elapsed) })
			cur := chain[len(chain)-1]
			req := Request{Audience: "a", TTL: time.Duration(rapid.IntRange(0, 3600).Draw(rt, "ttl")) * time.Second}
			if rapid.Bool().Draw(rt, "newRes") {
				req.Resource = genFSPattern().Draw(rt, "childRes")
			}
			if rapid.Bool().Draw(rt, "newActs") {
				req.Actions = genActions().Draw(rt, "childActs")
			}
			childTok, child, err := iss.Delegate(cur, req)
			seen[map[bool]string{true: "ok", false: ErrorCode(err)}[err == nil]]++
			if err != nil {
				if !errors.Is(err, ErrWidenResource) && !errors.Is(err, ErrWidenActions) && !errors.Is(err, ErrWidenExpiry) &&
					!errors.Is(err, ErrDepth) && !errors.Is(err, ErrExpired) && !errors.Is(err, ErrTTL) && !errors.Is(err, ErrInvalidRequest) {
					rt.Fatalf("refusal without a rule: %v", err)
				}
				// The refusal must be justified.
				if errors.Is(err, ErrWidenResource) {
					p, perr := resource.Parse(req.Resource)
					if perr == nil && cur.Resource.Contains(p) {
						rt.Fatalf("refused %s within %s", req.Resource, cur.Resource)
					}
				}
				if errors.Is(err, ErrWidenActions) && resource.ActionsSubset(req.Actions, cur.Actions) {
					rt.Fatalf("refused actions %v within %v", req.Actions, cur.Actions)
				}
				return
			}
			// Never wider than any ancestor, not just the parent.
			for _, anc := range chain {
				if !anc.Resource.Contains(child.Resource) {
					rt.Fatalf("child %s escapes ancestor %s", child.Resource, anc.Resource)
				}
				if !resource.ActionsSubset(child.Actions, anc.Actions) {
					rt.Fatalf("child actions %v escape ancestor %v", child.Actions, anc.Actions)
				}
				if child.Expires.After(anc.Expires) || child.NotBefore.Before(anc.NotBefore) {
					rt.Fatalf("child window %v..%v escapes ancestor %v..%v", child.NotBefore, child.Expires, anc.NotBefore, anc.Expires)
				}
			}
			if child.Depth != depth || len(child.Chain) != depth || child.Parent != TokenHash(toks[len(toks)-1]) {
				rt.Fatalf("lineage wrong at depth %d: %+v", depth, child)
			}
			// And what was signed is what Delegate reported.
			got, err := f.ver.WithCacheSize(0).Verify(childTok, Expect{Audience: "a"}, t0.Add(elapsed))
			if err != nil {
				if errors.Is(err, ErrNotYetValid) || errors.Is(err, ErrExpired) {
					return
				}
				rt.Fatalf("child does not verify: %v", err)
			}
			if !got.Resource.Equal(child.Resource) || !slices.Equal(got.Actions, child.Actions) || !got.Expires.Equal(child.Expires) {
				rt.Fatalf("verified child differs from the minted one")
			}
			chain = append(chain, child)
			toks = append(toks, childTok)
		}
	})
}

// Property: Mint then Verify returns exactly what was asked, for any valid
// request.
func TestPropertyMintVerifyRoundTrip(t *testing.T) {
	f := newFixture(t)
	rapid.Check(t, func(rt *rapid.T) {
		req := Request{
			Subject:  rapid.StringMatching(`[a-z][a-z0-9.-]{0,20}`).Draw(rt, "sub"),
			Audience: rapid.StringMatching(`[ -~]{1,30}`).Draw(rt, "aud"),
			Resource: genFSPattern().Draw(rt, "res"),
			Actions:  genActions().Draw(rt, "acts"),
			TTL:      time.Duration(rapid.IntRange(1, 3600).Draw(rt, "ttl")) * time.Second,
		}
		tok, minted, err := f.iss.Mint(req)
		if err != nil {
			rt.Skip(err)
		}
		got, err := f.ver.Verify(tok, Expect{Subject: req.Subject, Audience: req.Audience}, t0)
		if err != nil {
			rt.Fatalf("fresh token refused: %v", err)
		}
		if got.ID != minted.ID || got.Hash != minted.Hash || !got.Resource.Equal(minted.Resource) ||
			!slices.Equal(got.Actions, minted.Actions) || !got.Expires.Equal(t0.Add(req.TTL)) {
			rt.Fatalf("round trip changed the token: %+v vs %+v", got, minted)
		}
	})
}
