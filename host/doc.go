// Package host is warden's embedding API: the one object a desktop app, the
// CLI (`warden run`, `warden demo`) and the MCP front hold to install plugins
// and invoke their tools. It wires the state store, the policy, the capability
// issuer and verifier, the audit ledger, the gate (package hostapi) and the
// WebAssembly runtime (package sandbox/wasm) together, and owns nothing else:
// every decision is made by those packages.
//
// Three files show the whole API: host.go (Config, New, Close, Plugins,
// Watch, Ledger), install.go (Install, Uninstall, Build) and invoke.go
// (Invoke and its options). A Config needs only Home: every other field's
// zero value is the confined choice, and no field turns a protection off
// (docs/architecture.md, "Configuration"). The data flow of one call is
// docs/architecture.md's:
//
//	Invoke(plugin, tool, input)
//	  installed and active? publisher or key revoked? → not_found / unavailable
//	  input valid against the tool's input_schema?    → invalid_params
//	  compiled module (compilation cache under <home>/cache/wasm, named by
//	  the SHA-256 of the entry, each entry sealed with the home's cache
//	  secret and checked before wazero loads it; a refused entry is a
//	  cache.reject event) → pooled instance, whose capability tokens
//	  were minted for it alone (aud = instance id), one per active grant that
//	  lies within the manifest
//	  run the tool with the manifest's limits and a fresh budget (written
//	  bytes, audit events, log bytes; host/budget.go) → the gate mediates every host
//	  call and file access → Gate.Flush (one fsync at the invocation
//	  boundary) → result, with the indexes of the audit events it produced
//
// # What it does differently from the anchors, and why
//
//   - Extism's host API hands a plugin a fixed configuration at load; warden
//     mints tokens per instance, so a token stolen by one instance (or
//     printed into a tool result) is useless to any other instance, plugin or
//     process. An instance is retired before its tokens expire and when the
//     plugin's grants change, so a pooled instance never works with stale
//     rights.
//   - The pool is the host's own, not sandbox/wasm's Pool, because a call's
//     log sink is per call (WithLog) and wazero hands stdout lines to a
//     per-instance function: owning the instances lets the host route each
//     line to the call that produced it.
//   - State shared with other warden processes (grants from `warden grant`,
//     revocations from `warden revoke`, installs from `warden install`) is
//     re-read every Config.RefreshInterval (2 s by default; the refresh
//     cannot be turned off, since a revocation must reach a running host);
//     a plugin a call names that the host does not know yet is looked up at
//     once.
//
// # Stable error codes
//
// Invoke returns *hostapi.Error. Besides the gate's codes (docs/host-api.md)
// and the tool's own codes, it uses not_found (unknown plugin or tool),
// unavailable (quarantined, publisher or key revoked, host closed),
// invalid_params (input fails the tool's input_schema), timeout (deadline),
// too_large (result over the manifest's max_output_bytes) and three of its
// own: [CodeTrapped] (the guest trapped, panicked or ran out of memory; the
// instance is discarded), [CodeCancelled] (the caller cancelled) and
// [CodeInvalidOutput] (the result breaks the tool's declared output_schema and
// is withheld).
package host
