package capability

import "errors"

// Errors returned (wrapped) by Verify. Each is a stable code: branch on them
// with errors.Is, and use ErrorCode for a short machine-readable name.
var (
	ErrTooLarge        = errors.New("token too large")
	ErrMalformed       = errors.New("malformed token")
	ErrAlgorithm       = errors.New("token algorithm is not EdDSA")
	ErrUnknownKey      = errors.New("token signed by an unknown key")
	ErrBadSignature    = errors.New("token signature does not verify")
	ErrWrongIssuer     = errors.New("token from another issuer")
	ErrExpired         = errors.New("token expired")
	ErrNotYetValid     = errors.New("token not yet valid")
	ErrWrongAudience   = errors.New("token issued for another audience")
	ErrWrongSubject    = errors.New("token issued to another subject")
	ErrRevoked         = errors.New("token revoked")
	ErrRevokedAncestor = errors.New("token's ancestor revoked")
)

// Errors returned (wrapped) by Mint and Delegate.
var (
	ErrInvalidRequest = errors.New("invalid token request")
	ErrTTL            = errors.New("token lifetime out of range")
	ErrWidenResource  = errors.New("delegation widens the resource")
	ErrWidenActions   = errors.New("delegation widens the actions")
	ErrWidenExpiry    = errors.New("delegation extends the expiry")
	ErrDepth          = errors.New("delegation too deep")
	ErrNotVerified    = errors.New("parent capability was not verified")
)

var codes = []struct {
	err  error
	code string
}{
	{ErrTooLarge, "too_large"},
	{ErrMalformed, "malformed"},
	{ErrAlgorithm, "algorithm"},
	{ErrUnknownKey, "unknown_key"},
	{ErrBadSignature, "bad_signature"},
	{ErrWrongIssuer, "wrong_issuer"},
	{ErrExpired, "expired"},
	{ErrNotYetValid, "not_yet_valid"},
	{ErrWrongAudience, "wrong_audience"},
	{ErrWrongSubject, "wrong_subject"},
	{ErrRevokedAncestor, "revoked_ancestor"},
	{ErrRevoked, "revoked"},
	{ErrInvalidRequest, "invalid_request"},
	{ErrTTL, "ttl"},
	{ErrWidenResource, "widen_resource"},
	{ErrWidenActions, "widen_actions"},
	{ErrWidenExpiry, "widen_expiry"},
	{ErrDepth, "depth"},
	{ErrNotVerified, "not_verified"},
}

// ErrorCode returns the stable short name of the package error err wraps
// ("expired", "bad_signature", ...), "" for nil and "error" for anything else.
// The names are listed in docs/tokens.md.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "error"
}
