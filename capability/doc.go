// Package capability mints, verifies, delegates and revokes warden's
// capability tokens: short-lived, audience-bound grants of one resource
// pattern and a set of actions, signed with the host's Ed25519 key.
//
// A token is a JWS in compact serialisation (RFC 7515) signed with EdDSA over
// Ed25519 (RFC 8037), with JWT-style claims (RFC 7519): iss, sub, aud, res,
// acts, exp, nbf, iat, jti, and for a delegated token par, dep, chain and anc.
// docs/tokens.md specifies the format and the verification algorithm step by
// step, and testdata/vector.json pins one token's bytes.
//
// # What it does differently from a JWT library, and why
//
//   - The algorithm is pinned to EdDSA by the verifier. The header's alg may
//     only confirm it; "none", HS256 keyed with the public key and every other
//     value are refused before any key is touched (the classic JWT attacks).
//   - Parsing is strict where JWT libraries are lenient, because two parsers
//     that disagree about one token are an attack: unpadded canonical
//     base64url only, exactly three segments, no duplicate or unknown JSON
//     members, exact-case member names, no crit extensions, a size cap applied
//     before any decoding.
//   - A delegated token names its parent by hash (par) and lists every
//     ancestor's jti (chain) and subject and issue time (anc), so "is any
//     ancestor revoked, by id or with all of its plugin's tokens?" is a few
//     set lookups and never needs the ancestors themselves. The subset rules
//     (resource within, actions among, expiry not later, depth bounded) are
//     enforced when the host delegates; only the host signs tokens, so a child
//     that widens its parent cannot exist with a valid signature.
//   - Verification is cached by the token's bytes, so the hot path of the gate
//     is a map lookup plus the revocation, validity-window and caller checks
//     (see cache.go for why the key is not the SHA-256).
//   - Times are NumericDate seconds, as RFC 7519 says, not milliseconds: a
//     capability lives seconds to an hour, and standard JWT tooling then reads
//     warden tokens correctly. Sub-second lifetimes are refused.
package capability
