// Package hostapi is warden's host API: the method catalogue a sandboxed
// plugin may call, and the Gate, the single door every such call passes.
//
// The catalogue (schemas/catalogue.json, JSON Schema 2020-12, embedded and
// specified in docs/host-api.md) gives each method a params and a result
// schema; a table beside it says what each method touches — a concrete
// resource name and an action, such as ("filesystem:/home/u/a.csv", "write") —
// and which provider performs it. Gate.Call looks the method up, validates the
// params, maps them to (resource, action), verifies the capability token for
// the calling plugin instance (subject = plugin, audience = instance), checks
// the token covers the resource and action, asks the policy, asks a person
// through a Confirmer where the policy says ask, runs the provider and records
// an audit event for allowed and refused calls alike. Gate.OpenFile is the same
// door for the sandbox's capability filesystem: an open is checked for every
// access its flags allow, and each read or write of the open file re-checks,
// at the cost of two atomic loads while nothing was revoked, that the open's
// authorisation still holds.
//
// # What it does differently, and why
//
//   - Providers live in hostapi/internal/... (fsprov, kvprov, logprov). Go's
//     internal rule makes it impossible for any package outside hostapi to
//     import them, so "no provider is reachable except through the gate" is a
//     property of the build, not a convention.
//   - Params are validated by a strict hand-written decoder whose field table
//     is derived from the schema at NewGate (derive.go refuses any keyword it
//     does not implement); the schema validator (santhosh-tekuri/jsonschema)
//     costs about 1 µs and 19 allocations per call, half the per-call budget.
//     A property test checks that decoder and schema agree; the decoder is
//     stricter in three documented places (duplicate members, integers written
//     as 1.0 or 1e2, invalid UTF-8 or lone surrogates).
//   - File access resolves paths on the host: the path is cleaned, then walked
//     component by component under an os.Root opened at the grant's base, so
//     that symlinks are followed only inside the root, and the resolved path is
//     checked against the grant again; the opened file must be the file that
//     was checked. wazero's own DirFS follows symlinks out of its mount, which
//     is why the sandbox never uses it. A path that a symlink moved is decided
//     on again where it leads (protected paths, token, policy deny and ask),
//     so deny-wins and always-confirm hold for sub-trees of a grant; the
//     policy is asked a second time only then.
//   - Changes (delete, rename, mkdir, a new file) are made relative to a
//     handle on the directory that was checked, re-checked by device and
//     inode after the intent event is durable, with the entry re-checked
//     too (unlinkat, renameat2, mkdirat, openat): a directory swapped for a
//     symlink in the intent's fsync window fails the call instead of
//     redirecting the change.
//   - Only regular files and directories are opened, non-blocking: a FIFO,
//     socket or device is refused (open(2) of a FIFO would wait forever, out
//     of reach of the call's deadline).
//   - Config.Protected (warden's own --home, cache, policy file), and the
//     homes warden knows without being told even when Protected is empty
//     ($WARDEN_HOME, the default home), are out of
//     every plugin's reach whatever it was granted, by name, through "..",
//     through a symlink, and by identity (device and inode, recorded at
//     NewGate, of the state and of every folder on the way to it): a folder
//     in between renamed by the plugin or moved by another program, a hard
//     link and a bind mount lead nowhere, and no folder holding the state
//     can be moved or removed. A grant can never become self-granting.
//   - Durability follows docs/architecture.md "Where durability is paid": an effect that
//     leaves the sandbox (fs.write, fs.delete, fs.rename, fs.mkdir, a file
//     opened for writing) is preceded by a durable intent event (Auditor.Append)
//     and followed by its outcome (Auditor.Enqueue); reads and refusals are
//     enqueued; the host calls Gate.Flush at the invocation boundary. If the
//     ledger refuses an event, the call fails and its result is withheld.
//   - Per-call caps (MaxWrite, the params cap) bound one call, not a loop of
//     them, so each invocation carries a Budget (budget.go) in its Caller:
//     written bytes, audit events and log bytes, from the manifest's limits
//     capped by the policy, drawn also from the plugin's Meter, which all
//     its invocations share. The gate draws on it before a call can write,
//     log or produce an event; past a bound it refuses with CodeQuota and
//     records one summary event (budget.write, budget.events, budget.log),
//     not one per refusal, so a looping guest cannot fill the ledger.
package hostapi
