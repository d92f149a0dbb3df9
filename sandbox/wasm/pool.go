package wasm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardenproject/warden/hostapi"
)

// PoolConfig configures a Pool; NewPool copies it. Its zero fields take safe
// defaults, except Instance.Gate, which has none and is required.
type PoolConfig struct {
	// Instance is the template for every instance; its Caller is ignored when
	// NewCaller is set.
	Instance InstanceConfig
	// NewCaller gives each new instance its own identity and tokens (the
	// tokens' audience is the instance). Nil means every instance presents
	// Instance.Caller.
	NewCaller func(ctx context.Context) (hostapi.Caller, error)
	// Size bounds the live instances, busy and idle; callers beyond it wait.
	// Zero means 4.
	Size int
	// MaxAge retires an instance after this long, so that its tokens never
	// outlive it; zero means never.
	MaxAge time.Duration
}

// Pool runs calls on a bounded set of warm instances of one module: an
// instance that finished a call cleanly (or with a tool error) goes back to
// the pool; one that trapped, timed out or hit a limit is closed and replaced
// on demand. A Pool is safe for concurrent use.
type Pool struct {
	mod *Module
	cfg PoolConfig
	sem chan struct{}

	mu     sync.Mutex
	idle   []*Instance // LIFO: the warmest instance first
	closed bool

	created, discarded atomic.Int64
}

// PoolStats counts a pool's instances.
type PoolStats struct {
	Idle      int
	Created   int64
	Discarded int64
}

// NewPool returns a pool of instances of m. Instances are created on demand.
func (m *Module) NewPool(cfg PoolConfig) (*Pool, error) {
	if cfg.Instance.Gate == nil {
		return nil, errors.New("new instance pool: PoolConfig.Instance.Gate is nil: every guest needs a gate, even one that denies everything")
	}
	if cfg.Size <= 0 {
		cfg.Size = 4
	}
	return &Pool{mod: m, cfg: cfg, sem: make(chan struct{}, cfg.Size)}, nil
}

// Invoke runs tool on input on a warm instance, creating one when none is
// idle and the pool has room, and waiting otherwise. Errors are as for
// Instance.Invoke.
func (p *Pool) Invoke(ctx context.Context, tool string, input []byte) ([]byte, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, &hostapi.Error{Code: hostapi.CodeTimeout, Message: fmt.Sprintf("tool %s: no instance became free before the deadline", tool), Err: ctx.Err()}
	}
	defer func() { <-p.sem }()
	inst, err := p.get(ctx)
	if err != nil {
		return nil, err
	}
	out, err := inst.Invoke(ctx, tool, input)
	p.put(inst)
	return out, err
}

func (p *Pool) get(ctx context.Context) (*Instance, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, hostapi.Errorf(hostapi.CodeUnavailable, "the instance pool is closed")
	}
	if n := len(p.idle); n > 0 {
		inst := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return inst, nil
	}
	p.mu.Unlock()
	cfg := p.cfg.Instance
	if p.cfg.NewCaller != nil {
		c, err := p.cfg.NewCaller(ctx)
		if err != nil {
			return nil, fmt.Errorf("new instance: mint its identity: %w", err)
		}
		cfg.Caller = c
	}
	inst, err := p.mod.Instantiate(ctx, cfg)
	if err != nil {
		return nil, err
	}
	p.created.Add(1)
	return inst, nil
}

func (p *Pool) put(inst *Instance) {
	old := p.cfg.MaxAge > 0 && time.Since(inst.created) > p.cfg.MaxAge
	p.mu.Lock()
	if !p.closed && !old && inst.Healthy() {
		p.idle = append(p.idle, inst)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.discarded.Add(1)
	_ = inst.Close(context.Background())
}

// Stats reports the pool's counters.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PoolStats{Idle: len(p.idle), Created: p.created.Load(), Discarded: p.discarded.Load()}
}

// Close closes the idle instances and refuses new calls; calls in flight
// finish and their instances are closed as they return.
func (p *Pool) Close(ctx context.Context) error {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.closed = true
	p.mu.Unlock()
	var errs []error
	for _, inst := range idle {
		errs = append(errs, inst.Close(ctx))
	}
	return errors.Join(errs...)
}
