package wasm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wardenproject/warden/hostapi"
)

// Limits bound one instance and each of its calls. The zero Limits is the
// confined one: zero (or negative) fields take the defaults below, never
// "unlimited"; the memory limit is further capped by the engine and the
// timeout by MaxTimeout.
type Limits struct {
	MemoryMB         int           // linear memory, rounded up to a power of two MiB
	Timeout          time.Duration // per call, _initialize included
	MaxInputBytes    int           // tool input
	MaxOutputBytes   int           // tool result (inside its envelope)
	MaxLogBytes      int           // stdout and stderr together, per call; the rest is dropped
	MaxHostCallBytes int           // params and result of one host call
}

// Defaults for Limits, matching the manifest's defaults where it has them.
const (
	DefaultMemoryMB         = 64
	DefaultTimeout          = 5 * time.Second
	DefaultMaxInputBytes    = 4 << 20
	DefaultMaxOutputBytes   = 1 << 20
	DefaultMaxLogBytes      = 64 << 10
	DefaultMaxHostCallBytes = 8 << 20

	// MaxTimeout caps Limits.Timeout (the manifest's own cap,
	// manifest.MaxTimeoutMS): a finite deadline far in the future would be
	// a guest holding a core for good.
	MaxTimeout = 10 * time.Minute
)

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MemoryMB, DefaultMemoryMB)
	def(&l.MaxInputBytes, DefaultMaxInputBytes)
	def(&l.MaxOutputBytes, DefaultMaxOutputBytes)
	def(&l.MaxLogBytes, DefaultMaxLogBytes)
	def(&l.MaxHostCallBytes, DefaultMaxHostCallBytes)
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	l.Timeout = min(l.Timeout, MaxTimeout)
	return l
}

// LogFunc receives the guest's standard output and standard error, one line
// at a time (without the newline), stream being "stdout" or "stderr". It runs
// on the invoking goroutine; it must not block for long.
type LogFunc func(stream, line string)

// InstanceConfig says who an instance is and what bounds it.
type InstanceConfig struct {
	// Caller is the instance's identity and tokens, presented to the gate on
	// every call. The host mints the tokens for Caller.Instance.
	Caller hostapi.Caller
	Gate   Gate
	Limits Limits
	// Env holds environment variables the manifest and policy granted; none
	// by default.
	Env map[string]string
	// Log receives stdout and stderr; nil discards them.
	Log LogFunc
}

type instanceKey struct{}

// Instance is one live guest. Calls on it are serialised; use a Pool to run
// calls in parallel.
type Instance struct {
	caller  hostapi.Caller
	gate    Gate
	limits  Limits
	created time.Time

	mu      sync.Mutex // one call at a time
	mod     api.Module
	alloc   api.Function
	call    api.Function
	mem     api.Memory
	stack   []uint64
	broken  bool // trapped, timed out or closed: never call again
	callCtx context.Context
	pending []byte // a host-call envelope the guest has yet to fetch
	scratch []byte
	logs    *logSink
}

// Instantiate creates an instance and runs the guest's _initialize (a Go
// reactor's runtime and package init) within the call timeout.
func (m *Module) Instantiate(ctx context.Context, cfg InstanceConfig) (*Instance, error) {
	if cfg.Gate == nil {
		return nil, errors.New("instantiate wasm module: InstanceConfig.Gate is nil: every guest needs a gate, even one that denies everything")
	}
	lim := cfg.Limits.withDefaults()
	pages := m.eng.memoryClass(lim.MemoryMB)
	cm, err := m.compiledFor(ctx, pages)
	if err != nil {
		return nil, fmt.Errorf("compile wasm module %s: %w", m.digest, err)
	}
	r, err := m.eng.runtime(ctx, pages)
	if err != nil {
		return nil, err
	}
	inst := &Instance{
		caller:  cfg.Caller,
		gate:    cfg.Gate,
		limits:  lim,
		created: time.Now(),
		stack:   make([]uint64, 4),
	}
	inst.logs = &logSink{log: cfg.Log, budget: lim.MaxLogBytes}
	fsys := &capFS{inst: inst}
	mc := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions(exportInit).
		WithStdin(bytes.NewReader(nil)).
		WithStdout(inst.logs.stream("stdout")).
		WithStderr(inst.logs.stream("stderr")).
		WithSysWalltime().
		WithSysNanotime().
		WithNanosleep(inst.nanosleep).
		WithRandSource(rand.Reader).
		WithFSConfig(wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(fsys, "/"))
	for _, k := range slices.Sorted(maps.Keys(cfg.Env)) {
		mc = mc.WithEnv(k, cfg.Env[k])
	}

	ictx, cancel := context.WithTimeout(context.WithValue(ctx, instanceKey{}, inst), lim.Timeout)
	defer cancel()
	inst.callCtx = ictx
	inst.startBudget(ctx)
	mod, err := r.InstantiateModule(ictx, cm, mc)
	inst.logs.flush()
	inst.callCtx = nil
	inst.caller.Budget = nil
	if err != nil {
		if ictx.Err() == context.DeadlineExceeded {
			return nil, &hostapi.Error{Code: hostapi.CodeTimeout, Message: fmt.Sprintf("the guest's initialisation did not finish within %v", lim.Timeout), Err: err}
		}
		return nil, fmt.Errorf("instantiate wasm module %s: %w", m.digest, classify("_initialize", err))
	}
	inst.mod = mod
	inst.alloc = mod.ExportedFunction(exportAlloc)
	inst.call = mod.ExportedFunction(exportCall)
	inst.mem = mod.Memory()
	if inst.alloc == nil || inst.call == nil || inst.mem == nil {
		_ = mod.Close(ctx)
		return nil, fmt.Errorf("instantiate wasm module %s: the exports %s, %s and memory must all exist (see docs/abi.md)", m.digest, exportAlloc, exportCall)
	}
	return inst, nil
}

// Caller returns the identity the instance presents to the gate.
func (inst *Instance) Caller() hostapi.Caller { return inst.caller }

// Healthy reports whether the instance may take another call: it has not
// trapped, timed out or been closed.
func (inst *Instance) Healthy() bool {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	return !inst.broken
}

// Close closes the instance. It is safe to call more than once.
func (inst *Instance) Close(ctx context.Context) error {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	inst.broken = true
	if inst.mod == nil {
		return nil
	}
	// Closing the module closes the guest's open files, and closing a file
	// it wrote hashes it for the audit event. Outside a call nothing else
	// bounds that work, so it gets one call's timeout: a pooled instance is
	// discarded before its caller's tool.invoke event is written.
	cctx, cancel := context.WithTimeout(ctx, inst.limits.Timeout)
	defer cancel()
	inst.callCtx = cctx
	defer func() { inst.callCtx = nil }()
	return inst.mod.Close(ctx)
}

// Invoke runs tool on input and returns the tool's JSON output. See errors.go
// for the three kinds of error. After a *TrapError or a timeout the instance
// is closed; check Healthy before reusing it.
func (inst *Instance) Invoke(ctx context.Context, tool string, input []byte) ([]byte, error) {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	if inst.broken {
		return nil, hostapi.Errorf(hostapi.CodeUnavailable, "tool %s: the instance was closed after an earlier trap or timeout", tool)
	}
	if len(tool) == 0 || len(tool) > maxMethodLen {
		return nil, hostapi.Errorf(hostapi.CodeInvalidParams, "tool name must be 1 to %d bytes", maxMethodLen)
	}
	if len(input) > inst.limits.MaxInputBytes {
		return nil, hostapi.Errorf(hostapi.CodeTooLarge, "tool %s: input is %d bytes; the limit is %d", tool, len(input), inst.limits.MaxInputBytes)
	}
	// The timeout counts the plugin's running time: it stops while the gate
	// waits for a person to answer a confirmation (hostapi.WithCallDeadline).
	cctx, cancel := hostapi.WithCallDeadline(context.WithValue(ctx, instanceKey{}, inst), inst.limits.Timeout)
	defer cancel()
	inst.callCtx = cctx
	inst.pending = nil
	inst.startBudget(ctx)
	defer func() {
		inst.logs.flush()
		inst.callCtx = nil
		inst.pending = nil
		inst.caller.Budget = nil
	}()

	out, err := inst.invoke(cctx, tool, input)
	if err == nil {
		return out, nil
	}
	var te *ToolError
	if errors.As(err, &te) {
		return nil, err
	}
	// Anything else leaves the guest in a state we do not trust.
	inst.broken = true
	_ = inst.mod.Close(context.WithoutCancel(ctx))
	if cctx.Err() != nil && errors.Is(cctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		return nil, &hostapi.Error{Code: hostapi.CodeTimeout, Message: fmt.Sprintf("tool %s did not finish within %v; the instance was stopped", tool, inst.limits.Timeout), Err: context.DeadlineExceeded}
	}
	if ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, &hostapi.Error{Code: hostapi.CodeTimeout, Message: fmt.Sprintf("tool %s did not finish before the caller's deadline; the instance was stopped", tool), Err: ctx.Err()}
		}
		return nil, fmt.Errorf("tool %s: cancelled by the caller; the instance was stopped: %w", tool, ctx.Err())
	}
	return nil, err
}

func (inst *Instance) invoke(ctx context.Context, tool string, input []byte) ([]byte, error) {
	size := uint64(len(tool)) + uint64(len(input))
	inst.stack[0] = size
	if err := inst.alloc.CallWithStack(ctx, inst.stack); err != nil {
		return nil, classify(tool, err)
	}
	ptr := uint32(inst.stack[0])
	buf := span{ptr, uint32(size)}
	if ptr == 0 || buf.end() > uint64(inst.mem.Size()) {
		return nil, &TrapError{Tool: tool, Err: fmt.Errorf("%s(%d) returned %#x, which is not a buffer inside the guest's memory (see docs/abi.md)", exportAlloc, size, ptr)}
	}
	inst.mem.Write(ptr, []byte(tool))
	inst.mem.Write(ptr+uint32(len(tool)), input)

	inst.stack[0] = uint64(ptr)
	inst.stack[1] = uint64(len(tool))
	inst.stack[2] = uint64(ptr) + uint64(len(tool))
	inst.stack[3] = uint64(len(input))
	if err := inst.call.CallWithStack(ctx, inst.stack); err != nil {
		return nil, classify(tool, err)
	}
	packed := inst.stack[0]
	out := span{uint32(packed >> 32), uint32(packed)}
	if int64(out.n) > int64(inst.limits.MaxOutputBytes)+envelopeSlack {
		return nil, hostapi.Errorf(hostapi.CodeTooLarge, "tool %s returned %d bytes; the limit is %d", tool, out.n, inst.limits.MaxOutputBytes)
	}
	env, ok := out.read(inst.mem)
	if !ok {
		return nil, &TrapError{Tool: tool, Err: fmt.Errorf("%s returned a result at %#x+%d, outside the guest's %d bytes of memory", exportCall, out.ptr, out.n, inst.mem.Size())}
	}
	res, terr := parseToolEnvelope(tool, env)
	if terr != nil {
		return nil, terr
	}
	if len(res) > inst.limits.MaxOutputBytes {
		return nil, hostapi.Errorf(hostapi.CodeTooLarge, "tool %s returned %d bytes; the limit is %d", tool, len(res), inst.limits.MaxOutputBytes)
	}
	return bytes.Clone(res), nil
}

// envelopeSlack is room for the envelope around a maximal result, and for an
// error envelope's message.
const envelopeSlack = 4096

// parseToolEnvelope splits a tool's result envelope. It returns a view into
// env on success. A malformed envelope is the plugin's bug and is reported as
// a ToolError with code "invalid_output".
func parseToolEnvelope(tool string, env []byte) ([]byte, error) {
	const prefix = `{"result":`
	if len(env) > len(prefix) && string(env[:len(prefix)]) == prefix && env[len(env)-1] == '}' {
		inner := env[len(prefix) : len(env)-1]
		if json.Valid(inner) {
			return inner, nil
		}
	}
	var v struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(env, &v); err != nil {
		return nil, &ToolError{Tool: tool, Code: "invalid_output", Message: fmt.Sprintf("the result envelope is not valid JSON: %v", err)}
	}
	if v.Error != nil {
		code := v.Error.Code
		if code == "" {
			code = "tool_error"
		}
		return nil, &ToolError{Tool: tool, Code: code, Message: v.Error.Message}
	}
	if v.Result == nil {
		return nil, &ToolError{Tool: tool, Code: "invalid_output", Message: `the result envelope has neither "result" nor "error"`}
	}
	return v.Result, nil
}

// classify turns a wazero call error into a TrapError.
func classify(tool string, err error) error {
	var ee *sys.ExitError
	if errors.As(err, &ee) {
		switch ee.ExitCode() {
		case sys.ExitCodeDeadlineExceeded, sys.ExitCodeContextCanceled:
			return err // Invoke maps these from the context
		}
		return &TrapError{Tool: tool, Exited: true, ExitCode: ee.ExitCode(), Err: err}
	}
	return &TrapError{Tool: tool, Err: err}
}

// budgeter is the gate that can hand out a budget: *hostapi.Gate.
type budgeter interface {
	NewBudget(c hostapi.Caller, q hostapi.Quota, m *hostapi.Meter) *hostapi.Budget
}

// startBudget puts the invocation's budget in the caller the gate sees on
// every host call, and in the output capture: the one the host set with
// hostapi.WithBudget, or else a fresh one with the default quota, so that
// an instance run without a host is bounded too.
func (inst *Instance) startBudget(ctx context.Context) {
	b := hostapi.BudgetFrom(ctx)
	if bg, ok := inst.gate.(budgeter); b == nil && ok {
		b = bg.NewBudget(inst.caller, hostapi.Quota{}, nil)
	}
	inst.caller.Budget = b
	inst.logs.reset(b)
}

// nanosleep sleeps for the guest, but never past the current call's
// deadline: a sleeping guest would otherwise hold a host goroutine beyond it,
// since wazero does not interrupt host functions.
func (inst *Instance) nanosleep(ns int64) {
	ctx := inst.callCtx
	if ctx == nil {
		return
	}
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
