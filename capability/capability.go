package capability

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"

	"github.com/wardenproject/warden/resource"
)

// Capability is a verified (or freshly minted) token's content. A Capability
// returned by Verify may be shared with other callers through the cache: treat
// it as read-only.
type Capability struct {
	KeyID     string           // header kid: the host key that signed it
	Issuer    string           // iss
	Subject   string           // sub: the plugin that holds it
	Audience  string           // aud: the plugin instance it is for
	Resource  resource.Pattern // res
	Actions   []string         // acts, sorted
	IssuedAt  time.Time        // iat
	NotBefore time.Time        // nbf
	Expires   time.Time        // exp
	ID        string           // jti
	Parent    string           // par: "sha256:<hex>" of the parent token; "" for a root token
	Depth     int              // dep: 0 for a root token
	Chain     []string         // chain: ancestors' jti, root first; len(Chain) == Depth
	Ancestors []Ancestor       // chain and anc together: Ancestors[i].ID == Chain[i]
	Hash      string           // TokenHash of the token itself

	iatN, nbfN, expN int64 // Unix nanoseconds, for the cached hot path
	verified         bool  // set only by Mint, Delegate and Verify
}

// Ancestor is one token a delegated token descends from, as the child
// records it: enough to apply the ancestor's revocations (its jti and its
// subject's cut-off) without the ancestor itself.
type Ancestor struct {
	ID       string    // the ancestor's jti
	Subject  string    // the ancestor's sub: the plugin that held it
	IssuedAt time.Time // the ancestor's iat
}

// ancestors joins the chain and anc claims, which the caller checked to
// have the same length.
func ancestors(chain []string, anc []AncestorClaim) []Ancestor {
	if len(chain) == 0 {
		return nil
	}
	out := make([]Ancestor, len(chain))
	for i, id := range chain {
		out[i] = Ancestor{ID: id, Subject: anc[i].Sub, IssuedAt: time.Unix(anc[i].Iat, 0).UTC()}
	}
	return out
}

// Permits reports whether c grants action on everything q matches.
func (c *Capability) Permits(q resource.Pattern, action string) bool {
	return slices.Contains(c.Actions, action) && c.Resource.Contains(q)
}

// PermitsName reports whether c grants action on the concrete resource name
// (see resource.Pattern.Match).
func (c *Capability) PermitsName(name, action string) bool {
	return slices.Contains(c.Actions, action) && c.Resource.Match(name)
}

// TokenHash returns "sha256:" and the lowercase hex SHA-256 of token's bytes:
// the name under which audit events and delegated tokens refer to a token
// without revealing it.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (c *Capability) setTimes(iat, nbf, exp int64) {
	c.IssuedAt, c.NotBefore, c.Expires = time.Unix(iat, 0).UTC(), time.Unix(nbf, 0).UTC(), time.Unix(exp, 0).UTC()
	c.iatN, c.nbfN, c.expN = iat*1e9, nbf*1e9, exp*1e9
}
