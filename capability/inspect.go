package capability

import "fmt"

// Inspection is a token decoded without checking its signature, times,
// caller or revocation: what `warden token inspect` shows. Never act on it.
type Inspection struct {
	Header Header `json:"header"`
	Claims Claims `json:"claims"`
	Hash   string `json:"hash"`
	// Problem says why Verify would refuse the token on structure alone
	// (for example an unknown claim or a non-canonical resource); "" if none.
	Problem string `json:"problem,omitempty"`
}

// Inspect decodes token. It fails only when the header or claims cannot be
// read at all; softer problems are reported in Inspection.Problem.
func Inspect(token string) (*Inspection, error) {
	if len(token) > MaxTokenSize {
		return nil, fmt.Errorf("inspect token: %d bytes, the limit is %d: %w", len(token), MaxTokenSize, ErrTooLarge)
	}
	hs, ps, ss, err := splitToken(token)
	if err != nil {
		return nil, fmt.Errorf("inspect token: %w", err)
	}
	hb, err := decodeSegment(hs, "header")
	if err != nil {
		return nil, fmt.Errorf("inspect token: %w", err)
	}
	h, err := parseHeader(hb)
	if err != nil {
		return nil, fmt.Errorf("inspect token: %w", err)
	}
	pb, err := decodeSegment(ps, "claims")
	if err != nil {
		return nil, fmt.Errorf("inspect token: %w", err)
	}
	in := &Inspection{Header: h, Hash: TokenHash(token)}
	cl, present, err := parseClaims(pb)
	in.Claims = cl
	switch {
	case err != nil:
		in.Problem = err.Error()
	case h.Alg != Algorithm:
		in.Problem = fmt.Sprintf("alg %q: %v", h.Alg, ErrAlgorithm)
	case h.Typ != Type:
		in.Problem = fmt.Sprintf("typ %q: %v", h.Typ, ErrMalformed)
	default:
		if _, err := claimsToCapability(h, cl, present); err != nil {
			in.Problem = err.Error()
		} else if sig, err := decodeSegment(ss, "signature"); err != nil {
			in.Problem = err.Error()
		} else if len(sig) != 64 {
			in.Problem = fmt.Sprintf("signature is %d bytes, want 64", len(sig))
		}
	}
	return in, nil
}
