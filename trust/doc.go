// Package trust decides whose plugin bundles a host accepts: the trust registry
// of publisher keys, the enterprise root that may sign a registry of its own,
// and signed revocation lists that take a key, a bundle or a plugin version out
// of service everywhere.
//
// State lives under <home>/trust/ (docs/trust.md):
//
//	keys.json               publisher keys the user added (warden trust add)
//	root.pub                the enterprise root public key, SPKI PEM
//	registry.dsse.json      the last enterprise registry accepted
//	revocations.dsse.json   the last revocation list accepted
//	state.json              the highest registry and revocation versions seen,
//	                        and the digest of the document accepted at each
//
// Enterprise documents are DSSE envelopes (the same signing format as bundle
// signatures, github.com/secure-systems-lab/go-securesystemslib/dsse) signed
// by the root key, each with a version that must grow: a document older than
// the highest version seen is refused as a rollback, even when its signature
// is good, because an attacker who can replay an old revocation list could
// otherwise un-revoke a key. The stored documents are held to the same floor
// on every Open, so replacing or deleting them on disk is refused too (until
// the current document is loaded again, see ForReload). The model is TUF's (The Update Framework)
// rollback protection for its targets and timestamp roles, reduced to one
// root and two documents.
//
// What it does differently from TUF, and why: no threshold signatures, no
// delegations and no expiry on the documents. A desktop host trusts one
// enterprise root, and warden has no update channel to refresh a timestamp
// role against a freeze attack; the version floor is the one guarantee it can
// keep offline. Freshness (how old a revocation list may be) is left to the
// enterprise's distribution and is a known gap.
//
// A revocation list applied to the store (Apply) quarantines every installed
// plugin it names and records store revocations for it, for its key and for
// each named token id, so the host refuses them on the very next call.
package trust
