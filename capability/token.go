package capability

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Wire constants (docs/tokens.md).
const (
	// Algorithm is the only JWS "alg" a warden token may carry (RFC 8037).
	Algorithm = "EdDSA"
	// Type is the JWS "typ" of a warden capability token.
	Type = "warden-cap+jwt"
	// MaxTokenSize bounds a token in bytes; larger input is refused before
	// any decoding.
	MaxTokenSize = 8 << 10
	// MaxChain bounds the delegation depth any verifier accepts, whatever
	// its issuer's configuration, so a chain check stays a handful of lookups.
	MaxChain = 16
)

// Header is the JWS protected header of a token. Field order is the
// serialisation order.
type Header struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
	Kid string `json:"kid"`
}

// Claims is the JWS payload of a token (docs/tokens.md). Times are
// NumericDate: Unix seconds. Field order is the serialisation order.
type Claims struct {
	Iss   string   `json:"iss"`
	Sub   string   `json:"sub"`
	Aud   string   `json:"aud"`
	Res   string   `json:"res"`
	Acts  []string `json:"acts"`
	Exp   int64    `json:"exp"`
	Nbf   int64    `json:"nbf"`
	Iat   int64    `json:"iat"`
	Jti   string   `json:"jti"`
	Par   string   `json:"par,omitempty"`
	Dep   int      `json:"dep,omitempty"`
	Chain []string `json:"chain,omitempty"`
	// Anc runs parallel to Chain: Anc[i] names the holder and issue time of
	// the ancestor whose jti is Chain[i], so that revoking a plugin
	// (RevokeSubject) reaches what it delegated to other plugins.
	Anc []AncestorClaim `json:"anc,omitempty"`
}

// AncestorClaim is one element of the anc claim of a delegated token: the
// sub and iat of the ancestor at the same position in chain. Field order is
// the serialisation order.
type AncestorClaim struct {
	Sub string `json:"sub"`
	Iat int64  `json:"iat"`
}

var b64 = base64.RawURLEncoding.Strict()

// marshalJSON encodes v without HTML escaping, so that a URL's '&' in a
// resource stays readable in `warden token inspect` and in the test vector.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// decodeSegment decodes one base64url segment and refuses every
// non-canonical spelling: padding, bits set after the last symbol, and the
// '\r' and '\n' that Go's decoder silently skips. One token then has exactly
// one spelling, which the cache and TokenHash rely on.
func decodeSegment(s, what string) ([]byte, error) {
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%s is not unpadded base64url: %v: %w", what, err, ErrMalformed)
	}
	if b64.EncodeToString(b) != s {
		return nil, fmt.Errorf("%s is not canonical base64url: %w", what, ErrMalformed)
	}
	return b, nil
}

// splitToken splits a compact JWS into its three segments.
func splitToken(token string) (h, p, s string, err error) {
	if strings.Count(token, ".") != 2 {
		return "", "", "", fmt.Errorf("want 3 dot-separated segments, have %d: %w", strings.Count(token, ".")+1, ErrMalformed)
	}
	h, rest, _ := strings.Cut(token, ".")
	p, s, _ = strings.Cut(rest, ".")
	// An empty signature is left to the later steps, so that an
	// "alg":"none" token is reported as the algorithm attack it is.
	if h == "" || p == "" {
		return "", "", "", fmt.Errorf("empty header or claims segment: %w", ErrMalformed)
	}
	return h, p, s, nil
}

// decodeObject walks one JSON object strictly: valid UTF-8, no duplicate
// member names (which JSON parsers resolve differently, the classic
// confused-deputy gap), member names matched exactly (encoding/json alone
// would also accept "SUB" for "sub"), no null values, no unknown members,
// nothing after the object. set decodes the member's raw value.
func decodeObject(data []byte, what string, set func(name string, raw json.RawMessage) (known bool, err error)) error {
	if !utf8.Valid(data) {
		return fmt.Errorf("%s is not valid UTF-8: %w", what, ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("%s is not a JSON object: %w", what, ErrMalformed)
	}
	var seen []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%s: %v: %w", what, err, ErrMalformed)
		}
		name, _ := tok.(string)
		for _, s := range seen {
			if s == name {
				return fmt.Errorf("%s has member %q twice: %w", what, name, ErrMalformed)
			}
		}
		seen = append(seen, name)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("%s member %q: %v: %w", what, name, err, ErrMalformed)
		}
		if string(raw) == "null" {
			return fmt.Errorf("%s member %q is null: %w", what, name, ErrMalformed)
		}
		known, err := set(name, raw)
		if errors.Is(err, ErrMalformed) { // from a nested strict object
			return fmt.Errorf("%s member %q: %w", what, name, err)
		}
		if err != nil {
			return fmt.Errorf("%s member %q: %v: %w", what, name, err, ErrMalformed)
		}
		if !known {
			return fmt.Errorf("%s has unknown member %q: %w", what, name, ErrMalformed)
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return fmt.Errorf("%s: unterminated object: %w", what, ErrMalformed)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: data after the object: %w", what, ErrMalformed)
	}
	return nil
}

func parseHeader(data []byte) (Header, error) {
	var h Header
	err := decodeObject(data, "header", func(name string, raw json.RawMessage) (bool, error) {
		switch name {
		case "alg":
			return true, json.Unmarshal(raw, &h.Alg)
		case "typ":
			return true, json.Unmarshal(raw, &h.Typ)
		case "kid":
			return true, json.Unmarshal(raw, &h.Kid)
		case "crit":
			return true, errors.New("no critical extension is understood")
		}
		return false, nil
	})
	return h, err
}

// presence bits for required claims.
const (
	hasIss = 1 << iota
	hasSub
	hasAud
	hasRes
	hasActs
	hasExp
	hasNbf
	hasIat
	hasJti
	hasPar
	hasDep
	hasChain
	hasAnc
	required = hasIss | hasSub | hasAud | hasRes | hasActs | hasExp | hasNbf | hasIat | hasJti
)

var claimNames = []string{"iss", "sub", "aud", "res", "acts", "exp", "nbf", "iat", "jti", "par", "dep", "chain", "anc"}

func parseClaims(data []byte) (Claims, int, error) {
	var c Claims
	present := 0
	err := decodeObject(data, "claims", func(name string, raw json.RawMessage) (bool, error) {
		var dst any
		switch name {
		case "iss":
			dst, present = &c.Iss, present|hasIss
		case "sub":
			dst, present = &c.Sub, present|hasSub
		case "aud":
			dst, present = &c.Aud, present|hasAud
		case "res":
			dst, present = &c.Res, present|hasRes
		case "acts":
			dst, present = &c.Acts, present|hasActs
		case "exp":
			dst, present = &c.Exp, present|hasExp
		case "nbf":
			dst, present = &c.Nbf, present|hasNbf
		case "iat":
			dst, present = &c.Iat, present|hasIat
		case "jti":
			dst, present = &c.Jti, present|hasJti
		case "par":
			dst, present = &c.Par, present|hasPar
		case "dep":
			dst, present = &c.Dep, present|hasDep
		case "chain":
			dst, present = &c.Chain, present|hasChain
		case "anc":
			present |= hasAnc
			anc, err := parseAncestors(raw)
			c.Anc = anc
			return true, err
		default:
			return false, nil
		}
		return true, json.Unmarshal(raw, dst)
	})
	if err != nil {
		return c, 0, err
	}
	if missing := required &^ present; missing != 0 {
		for i, n := range claimNames {
			if missing&(1<<i) != 0 {
				return c, 0, fmt.Errorf("claims lack required member %q: %w", n, ErrMalformed)
			}
		}
	}
	return c, present, nil
}

// parseAncestors reads the anc claim: a JSON array of objects, each parsed as
// strictly as the claims themselves (encoding/json alone would accept
// duplicate, unknown or case-folded members inside the elements) and each
// with both sub and iat.
func parseAncestors(raw json.RawMessage) ([]AncestorClaim, error) {
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, fmt.Errorf("not an array of objects: %v", err)
	}
	out := make([]AncestorClaim, len(elems))
	for i, e := range elems {
		a := &out[i]
		var seen int
		err := decodeObject(e, fmt.Sprintf("element %d", i), func(name string, raw json.RawMessage) (bool, error) {
			switch name {
			case "sub":
				seen |= hasSub
				return true, json.Unmarshal(raw, &a.Sub)
			case "iat":
				seen |= hasIat
				return true, json.Unmarshal(raw, &a.Iat)
			}
			return false, nil
		})
		if err != nil {
			return nil, err
		}
		if seen&hasSub == 0 {
			return nil, fmt.Errorf("element %d lacks member \"sub\"", i)
		}
		if seen&hasIat == 0 {
			return nil, fmt.Errorf("element %d lacks member \"iat\"", i)
		}
	}
	return out, nil
}
