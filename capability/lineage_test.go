package capability

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// lineage is a root of acme.sheets, delegated 5 s later to acme.viewer,
// delegated 5 s later again to acme.export.
type lineage struct {
	f                         *fixture
	rootTok, childTok, grTok  string
	root, child, grand        *Capability
	rootExp, childExp, grExp  Expect
	childAt, grandAt, checkAt time.Time
}

func newLineage(t *testing.T) *lineage {
	t.Helper()
	l := &lineage{f: newFixture(t), childAt: t0.Add(5 * time.Second), grandAt: t0.Add(10 * time.Second)}
	l.checkAt = l.grandAt
	l.rootTok, l.root = l.f.mint(t, baseReq)
	var err error
	l.childTok, l.child, err = l.f.iss.WithClock(func() time.Time { return l.childAt }).
		Delegate(l.root, Request{Subject: "acme.viewer", Audience: "inst-2"})
	if err != nil {
		t.Fatal(err)
	}
	l.grTok, l.grand, err = l.f.iss.WithClock(func() time.Time { return l.grandAt }).
		Delegate(l.child, Request{Subject: "acme.export", Audience: "inst-3", Actions: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	l.rootExp = who
	l.childExp = Expect{Subject: "acme.viewer", Audience: "inst-2"}
	l.grExp = Expect{Subject: "acme.export", Audience: "inst-3"}
	return l
}

// codes verifies the three tokens with v and returns their error codes.
func (l *lineage) codes(v *Verifier) [3]string {
	var out [3]string
	for i, x := range []struct {
		tok string
		exp Expect
	}{{l.rootTok, l.rootExp}, {l.childTok, l.childExp}, {l.grTok, l.grExp}} {
		_, err := v.Verify(x.tok, x.exp, l.checkAt)
		out[i] = ErrorCode(err)
	}
	return out
}

func TestDelegatedTokenCarriesAncestors(t *testing.T) {
	l := newLineage(t)
	want := []Ancestor{{l.root.ID, "acme.sheets", t0}, {l.child.ID, "acme.viewer", l.childAt}}
	for _, c := range []*Capability{l.grand, mustVerify(t, l.f.ver.WithCacheSize(0), l.grTok, l.grExp, l.checkAt)} {
		if len(c.Ancestors) != 2 || c.Ancestors[0] != want[0] || c.Ancestors[1] != want[1] {
			t.Fatalf("ancestors %+v, want %+v", c.Ancestors, want)
		}
		for i, a := range c.Ancestors {
			if a.ID != c.Chain[i] {
				t.Fatalf("Ancestors[%d].ID %s differs from Chain[%d] %s", i, a.ID, i, c.Chain[i])
			}
		}
	}
	if l.root.Ancestors != nil {
		t.Fatalf("a root token has ancestors: %+v", l.root.Ancestors)
	}
}

func mustVerify(t *testing.T, v *Verifier, tok string, exp Expect, now time.Time) *Capability {
	t.Helper()
	c, err := v.Verify(tok, exp, now)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Attack (V-3): a plugin's revocation must reach every token delegated from
// its tokens, whichever plugin holds them, at every depth, on the cached path
// (the verdicts are warmed first) and the uncached one, and must spare what
// was issued after the cut-off.
func TestRevokeSubjectReachesDescendants(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sub    string
		before time.Time
		want   [3]string
	}{
		{"root's plugin, just after its iat", "acme.sheets", t0.Add(time.Second), [3]string{"revoked", "revoked_ancestor", "revoked_ancestor"}},
		{"root's plugin, at its iat", "acme.sheets", t0, [3]string{"", "", ""}},
		{"middle plugin, just after its iat", "acme.viewer", t0.Add(6 * time.Second), [3]string{"", "revoked", "revoked_ancestor"}},
		{"middle plugin, at its iat", "acme.viewer", t0.Add(5 * time.Second), [3]string{"", "", ""}},
		// The grandchild's own iat is after this cut-off; its ancestor's is not.
		{"middle plugin, between the child's and the grandchild's iat", "acme.viewer", t0.Add(8 * time.Second), [3]string{"", "revoked", "revoked_ancestor"}},
		{"leaf plugin", "acme.export", t0.Add(11 * time.Second), [3]string{"", "", "revoked"}},
		{"unrelated plugin", "other.plugin", t0.Add(time.Hour), [3]string{"", "", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLineage(t)
			if got := l.codes(l.f.ver); got != [3]string{} {
				t.Fatalf("before revocation: %q", got)
			}
			l.f.rev.RevokeSubject(tc.sub, tc.before)
			if got := l.codes(l.f.ver); got != tc.want {
				t.Fatalf("cached: %q, want %q", got, tc.want)
			}
			if got := l.codes(l.f.ver.WithCacheSize(0)); got != tc.want {
				t.Fatalf("uncached: %q, want %q", got, tc.want)
			}
			// A refused token left the cache: asking again still refuses.
			if got := l.codes(l.f.ver); got != tc.want {
				t.Fatalf("cached, again: %q, want %q", got, tc.want)
			}
		})
	}
}

// A plugin revoked and then granted anew: tokens minted after the cut-off
// and delegated onward live; a token minted before it and re-delegated to
// the same plugin after it does not (its own iat is after the cut-off, its
// ancestor's is not).
func TestRevokeSubjectAfterCutoff(t *testing.T) {
	f := newFixture(t)
	_, old := f.mint(t, baseReq)
	f.rev.RevokeSubject("acme.sheets", t0.Add(time.Second))
	later := f.iss.WithClock(func() time.Time { return t0.Add(2 * time.Second) })
	_, fresh, err := later.Mint(baseReq)
	if err != nil {
		t.Fatal(err)
	}
	freshChild, _, err := later.Delegate(fresh, Request{Subject: "acme.viewer", Audience: "inst-2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ver.Verify(freshChild, Expect{Subject: "acme.viewer"}, t0.Add(2*time.Second)); err != nil {
		t.Fatalf("child of a token minted after the cut-off: %v", err)
	}
	// Delegate works from a Capability in memory and does not consult the
	// revocation set (the gate verifies the parent first); the verifier
	// catches the result.
	same, _, err := later.Delegate(old, Request{Audience: "inst-2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ver.Verify(same, Expect{Subject: "acme.sheets"}, t0.Add(2*time.Second)); !errors.Is(err, ErrRevokedAncestor) {
		t.Fatalf("pre-cut-off token re-delegated to its own plugin after the cut-off: %v, want ErrRevokedAncestor", err)
	}
}

// Once RevokeSubject returns, no Verify that starts afterwards may accept a
// descendant held by another plugin (run with -race).
func TestRevokeSubjectConcurrent(t *testing.T) {
	f := newFixture(t)
	const n = 40
	subs := make([]string, n)
	toks := make([]string, n)
	for i := range n {
		subs[i] = fmt.Sprintf("plugin-%d", i)
		_, root := f.mint(t, Request{Subject: subs[i], Audience: "a", Resource: "clipboard", Actions: []string{"read"}, TTL: time.Minute})
		var err error
		if toks[i], _, err = f.iss.Delegate(root, Request{Subject: "holder", Audience: "b"}); err != nil {
			t.Fatal(err)
		}
	}
	var revoked sync.Map
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for j := range 1000 {
				i := (j*7 + w) % n
				_, was := revoked.Load(i)
				_, err := f.ver.Verify(toks[i], Expect{Subject: "holder", Audience: "b"}, t0)
				if was && err == nil {
					t.Errorf("descendant of %s accepted after its plugin's revocation completed", subs[i])
					return
				}
				if err != nil && !errors.Is(err, ErrRevokedAncestor) {
					t.Errorf("unexpected: %v", err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := 0; i < n; i += 3 {
			f.rev.RevokeSubject(subs[i], t0.Add(time.Second))
			revoked.Store(i, true)
		}
	})
	wg.Wait()
}

// A Capability whose Chain and Ancestors disagree (edited after Verify) is
// not delegated: the child would escape its ancestors' subject cut-offs.
func TestDelegateRefusesInconsistentLineage(t *testing.T) {
	l := newLineage(t)
	c := *l.child
	c.Ancestors = nil
	if _, _, err := l.f.iss.WithClock(func() time.Time { return l.grandAt }).Delegate(&c, Request{Audience: "x"}); !errors.Is(err, ErrNotVerified) {
		t.Fatalf("delegating with ancestors stripped: %v, want ErrNotVerified", err)
	}
}

// ancAttacks are delegated claims with a broken anc claim, signed with the
// host's key (a buggy or hostile issuer): a strict verifier refuses each,
// because a lenient one that read anc differently (a duplicate sub, say)
// would let a revoked plugin's delegations through.
func ancAttacks(t testing.TB, f *fixture) map[string]string {
	_, root, err := f.iss.Mint(baseReq)
	if err != nil {
		t.Fatal(err)
	}
	childTok, _, err := f.iss.Delegate(root, Request{Subject: "acme.viewer", Audience: "b"})
	if err != nil {
		t.Fatal(err)
	}
	_, ps, _, _ := splitToken(childTok)
	cj, _ := b64.DecodeString(ps)
	claims := string(cj)
	good := fmt.Sprintf(`"anc":[{"sub":"acme.sheets","iat":%d}]`, t0.Unix())
	if !strings.Contains(claims, good) {
		t.Fatalf("delegated claims lack %s: %s", good, claims)
	}
	anc := func(s string) string {
		return signRaw(f.priv, hostHeader(f.signer), strings.Replace(claims, good, s, 1))
	}
	iat := t0.Unix()
	rootClaims, _ := b64.DecodeString(strings.Split(mustMintTB(t, f), ".")[1])
	return map[string]string{
		"anc missing":              signRaw(f.priv, hostHeader(f.signer), strings.Replace(claims, ","+good, "", 1)),
		"anc on a root token":      signRaw(f.priv, hostHeader(f.signer), strings.TrimSuffix(string(rootClaims), "}")+fmt.Sprintf(`,"anc":[{"sub":"x","iat":%d}]}`, iat)),
		"anc empty":                anc(`"anc":[]`),
		"anc longer than chain":    anc(fmt.Sprintf(`"anc":[{"sub":"acme.sheets","iat":%d},{"sub":"acme.sheets","iat":%d}]`, iat, iat)),
		"anc an object":            anc(fmt.Sprintf(`"anc":{"sub":"acme.sheets","iat":%d}`, iat)),
		"anc a string":             anc(`"anc":"acme.sheets"`),
		"anc null":                 anc(`"anc":null`),
		"anc twice":                anc(good + `,"anc":[{"sub":"other","iat":1}]`),
		"element null":             anc(`"anc":[null]`),
		"element a string":         anc(`"anc":["acme.sheets"]`),
		"element an array":         anc(fmt.Sprintf(`"anc":[["acme.sheets",%d]]`, iat)),
		"element without sub":      anc(fmt.Sprintf(`"anc":[{"iat":%d}]`, iat)),
		"element without iat":      anc(`"anc":[{"sub":"acme.sheets"}]`),
		"element with jti":         anc(fmt.Sprintf(`"anc":[{"sub":"acme.sheets","iat":%d,"jti":"AAECAwQFBgcICQoLDA0ODw"}]`, iat)),
		"element duplicate sub":    anc(fmt.Sprintf(`"anc":[{"sub":"someone.else","sub":"acme.sheets","iat":%d}]`, iat)),
		"element duplicate iat":    anc(fmt.Sprintf(`"anc":[{"sub":"acme.sheets","iat":1,"iat":%d}]`, iat)),
		"element case-variant sub": anc(fmt.Sprintf(`"anc":[{"SUB":"acme.sheets","iat":%d}]`, iat)),
		"element sub null":         anc(fmt.Sprintf(`"anc":[{"sub":null,"iat":%d}]`, iat)),
		"element sub empty":        anc(fmt.Sprintf(`"anc":[{"sub":"","iat":%d}]`, iat)),
		"element sub control char": anc(fmt.Sprintf(`"anc":[{"sub":"acme\nsheets","iat":%d}]`, iat)),
		"element sub too long":     anc(fmt.Sprintf(`"anc":[{"sub":%q,"iat":%d}]`, strings.Repeat("a", 257), iat)),
		"element sub a number":     anc(fmt.Sprintf(`"anc":[{"sub":7,"iat":%d}]`, iat)),
		"element iat zero":         anc(`"anc":[{"sub":"acme.sheets","iat":0}]`),
		"element iat negative":     anc(`"anc":[{"sub":"acme.sheets","iat":-1}]`),
		"element iat fractional":   anc(fmt.Sprintf(`"anc":[{"sub":"acme.sheets","iat":%d.5}]`, iat)),
		"element iat exponent":     anc(`"anc":[{"sub":"acme.sheets","iat":1.7e9}]`),
		"element iat a string":     anc(fmt.Sprintf(`"anc":[{"sub":"acme.sheets","iat":"%d"}]`, iat)),
		"element iat past 2^33":    anc(`"anc":[{"sub":"acme.sheets","iat":8589934593}]`),
		"element iat overflows":    anc(`"anc":[{"sub":"acme.sheets","iat":99999999999999999999}]`),
		"element invalid UTF-8":    anc("\"anc\":[{\"sub\":\"acme.\xff\",\"iat\":1}]"),
	}
}

func mustMintTB(t testing.TB, f *fixture) string {
	tok, _, err := f.iss.Mint(baseReq)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestAncStrict(t *testing.T) {
	f := newFixture(t)
	for name, tok := range ancAttacks(t, f) {
		t.Run(name, func(t *testing.T) {
			for _, v := range []*Verifier{f.ver.WithCacheSize(0), f.ver} {
				if c, err := v.Verify(tok, Expect{}, t0); !errors.Is(err, ErrMalformed) || c != nil {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
			}
			if in, err := Inspect(tok); err != nil || in.Problem == "" {
				t.Fatalf("Inspect: %v, problem %q; want the problem reported", err, in.Problem)
			}
		})
	}
}
