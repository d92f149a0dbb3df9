// Package bundle reads, writes, packs, signs and verifies warden plugin bundles:
// the one file in which a plugin travels from its publisher to a user's host.
//
// A bundle is a POSIX ustar archive (see docs/bundle-format.md) holding the
// plugin's manifest.json, its payload (the entry file and any extra files),
// an SBOM (CycloneDX 1.6 JSON, sbom.cdx.json), build provenance (an in-toto v1
// Statement with a SLSA Provenance v1 predicate, provenance.intoto.json) and,
// once signed, signature.dsse.json: a DSSE envelope (secure-systems-lab/dsse)
// over an in-toto Statement whose subjects are every other file with its
// SHA-256.
//
// One file, one idea: read.go refuses unsafe archives before anything is kept,
// write.go writes the canonical bytes, pack.go builds a bundle from a plugin
// directory, sbom.go and provenance.go make the supply-chain documents,
// sign.go and verify.go sign and judge, extract.go writes a verified bundle to
// disk atomically.
//
// What it does differently from the anchors, and why:
//
//   - Signed content, not signed container. The signature covers the digest of
//     each file by name, never the tar bytes, so the archive encoding (a
//     compressed copy served by a mirror, a re-padded tar) cannot change what
//     was signed, and a digest mismatch names the file that changed. The bundle
//     digest that revocation lists name is computed the same way
//     (see [Bundle.Digest]).
//   - Read fully, judge, then write. Sigstore and npm verify while extracting;
//     warden reads the whole archive into memory under hard caps (entry size,
//     total size, compression ratio, entry count), refuses links, devices,
//     absolute or climbing names and duplicates (also duplicates that differ
//     only in case, which collide on macOS and Windows), verifies, and only then
//     writes into a fresh private directory that is renamed into place. A
//     refused bundle never leaves a byte on disk.
//   - Strict envelopes. DSSE allows either base64 alphabet and encoding/json
//     matches field names case-insensitively; warden accepts exactly one spelling
//     of an envelope, so that no byte of a signed bundle can change without the
//     verdict changing.
//   - The publisher's public key travels inside the signed statement, so a
//     bundle signed by an unknown key is reported as valid-untrusted-key (the
//     signature checks out, the key is not trusted) rather than lumped together
//     with forgeries.
package bundle
