package hostapi

import (
	"context"
	"time"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/capability"
	"github.com/wardenproject/warden/hostapi/internal/kvprov"
	"github.com/wardenproject/warden/policy"
)

// The gate's dependencies, declared where they are consumed. The concrete
// types that satisfy them are *capability.Verifier, *capability.Issuer,
// *policy.Engine, *audit.Ledger and *store.Store.

// TokenVerifier checks a capability token for the caller presenting it.
type TokenVerifier interface {
	Verify(token string, expect capability.Expect, now time.Time) (*capability.Capability, error)
}

// TokenIssuer mints and attenuates tokens for capability.request.
type TokenIssuer interface {
	Mint(req capability.Request) (string, *capability.Capability, error)
	Delegate(parent *capability.Capability, req capability.Request) (string, *capability.Capability, error)
}

// Decider is the policy: allow, deny or ask, and who said so.
type Decider interface {
	Decide(req policy.Request) policy.Decision
}

// Auditor is the audit ledger. Append returns once the event is durable;
// Enqueue returns at once; Sync makes everything enqueued so far durable.
type Auditor interface {
	Enqueue(ev *audit.Event) (uint64, error)
	Append(ctx context.Context, ev *audit.Event) (uint64, error)
	Sync(ctx context.Context) error
}

// KVStore is each plugin's private key-value storage (*store.Store).
type KVStore interface {
	KVGet(ctx context.Context, plugin, key string) ([]byte, error)
	KVSet(ctx context.Context, plugin, key string, value []byte) error
	KVDelete(ctx context.Context, plugin, key string) error
	KVList(ctx context.Context, plugin, prefix string, limit int) ([]string, error)
}

var _ kvprov.Store = KVStore(nil)
