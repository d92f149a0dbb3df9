package hostapi

// This file is the invocation's budget: what one tool invocation, and one
// plugin across all its invocations, may spend at the gate in written bytes,
// audit events and log bytes. A per-call cap (MaxWrite, the params cap) says
// nothing about a loop of calls; the budget is what bounds the loop.

import (
	"context"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardenproject/warden/audit"
)

// Quota bounds what one tool invocation may spend at the gate. A zero field
// takes its default.
type Quota struct {
	// WriteBytes counts bytes written to host files: the data of fs.write,
	// every Write (and WriteAt) on a file the capability filesystem opened,
	// and the growth of a file by Truncate or by a write past its end (a
	// sparse hole takes no disk, but every later reader, hash and copy of
	// the file pays for its size).
	WriteBytes int64
	// Events counts the audit events the invocation's host calls produce:
	// one per call, two for a call with an effect (its intent and its
	// outcome) and for an open file (its open and its close).
	Events int64
	// LogBytes counts log.write messages and captured stdout and stderr.
	LogBytes int64
}

// Default per-invocation budget: far above what a well-behaved tool spends,
// far below what fills a disk or a ledger.
const (
	DefaultWriteBytes = 64 << 20
	DefaultEvents     = 10_000
	DefaultLogBytes   = 1 << 20
)

func (q Quota) withDefaults() Quota {
	if q.WriteBytes <= 0 {
		q.WriteBytes = DefaultWriteBytes
	}
	if q.Events <= 0 {
		q.Events = DefaultEvents
	}
	if q.LogBytes <= 0 {
		q.LogBytes = DefaultLogBytes
	}
	return q
}

func (q Quota) of(k budgetKind) int64 {
	switch k {
	case kindWrite:
		return q.WriteBytes
	case kindEvents:
		return q.Events
	}
	return q.LogBytes
}

// PluginQuota bounds what one plugin spends across all its invocations:
// Quota per Window. A zero field takes its default.
type PluginQuota struct {
	Window time.Duration
	Quota
}

// Default per-plugin budget, per DefaultWindow.
const (
	DefaultWindow           = time.Minute
	DefaultPluginWriteBytes = 256 << 20
	DefaultPluginEvents     = 100_000
	DefaultPluginLogBytes   = 8 << 20
)

func (q PluginQuota) withDefaults() PluginQuota {
	if q.Window <= 0 {
		q.Window = DefaultWindow
	}
	if q.WriteBytes <= 0 {
		q.WriteBytes = DefaultPluginWriteBytes
	}
	if q.Events <= 0 {
		q.Events = DefaultPluginEvents
	}
	if q.LogBytes <= 0 {
		q.LogBytes = DefaultPluginLogBytes
	}
	return q
}

type budgetKind int

const (
	kindWrite budgetKind = iota
	kindEvents
	kindLog
	numKinds
)

// Audit actions of the summary event written when a bound is hit: one per
// kind and invocation, however many calls are refused after it.
const (
	ActionBudgetWrite  = "budget.write"
	ActionBudgetEvents = "budget.events"
	ActionBudgetLog    = "budget.log"
)

var kindAction = [numKinds]string{ActionBudgetWrite, ActionBudgetEvents, ActionBudgetLog}
var kindWhat = [numKinds]string{"written bytes", "audit events", "log bytes"}

// Meter is one plugin's rolling budget, shared by all its invocations, so
// that running many at once does not multiply what the plugin may spend. It
// is a token bucket per kind: full at the start, refilled continuously at
// Quota per Window, never holding more than one Quota. Over any span of time
// T a plugin spends at most Quota × (1 + T/Window). Its clock is the gate's
// (Config.Clock), read once per call for the call anyway. Safe for
// concurrent use.
type Meter struct {
	q PluginQuota

	mu      sync.Mutex
	buckets [numKinds]bucket
}

// bucket is one kind's tokens, as of last.
type bucket struct {
	avail float64
	last  time.Time
}

// NewMeter returns a full Meter for q.
func NewMeter(q PluginQuota) *Meter {
	q = q.withDefaults()
	m := &Meter{q: q}
	for k := range numKinds {
		m.buckets[k].avail = float64(q.of(k))
	}
	return m
}

// Quota returns the meter's quota, defaults filled in.
func (m *Meter) Quota() PluginQuota { return m.q }

// take draws n of kind k at now, or nothing and false when the bucket
// holds less. Only kind k's bucket is refilled: a draw costs one lock and a
// few float operations.
func (m *Meter) take(k budgetKind, n int64, now time.Time) bool {
	capacity := float64(m.q.of(k))
	m.mu.Lock()
	defer m.mu.Unlock()
	b := &m.buckets[k]
	if b.last.IsZero() {
		b.last = now
	}
	if dt := now.Sub(b.last); dt > 0 {
		b.avail = min(b.avail+float64(dt)/float64(m.q.Window)*capacity, capacity)
		b.last = now
	}
	if b.avail < float64(n) {
		return false
	}
	b.avail -= float64(n)
	return true
}

// give returns n of kind k that a refused call had reserved.
func (m *Meter) give(k budgetKind, n int64) {
	m.mu.Lock()
	b := &m.buckets[k]
	b.avail = min(b.avail+float64(n), float64(m.q.of(k)))
	m.mu.Unlock()
}

// Budget is what one tool invocation may still spend. The sandbox hands it
// to the gate in Caller.Budget for every call of the invocation; the gate
// draws on it before a call can produce an event or write a byte. When a
// bound is hit, the gate appends ONE summary event for it (budget.write,
// budget.events or budget.log) and refuses what follows with CodeQuota:
// further writes, further log lines, or — for events, since every call must
// be audited — every further host call of the invocation. Nothing refused
// for the budget has an effect, so nothing goes unaudited. Safe for
// concurrent use.
type Budget struct {
	g      *Gate
	caller Caller // identity only, for the summary events
	q      Quota
	m      *Meter

	used    [numKinds]atomic.Int64
	hit     [numKinds]atomic.Bool
	refused atomic.Int64 // calls, writes and log lines refused after a hit
}

// NewBudget returns a fresh budget for one invocation of caller: q, with
// defaults for its zero fields, and also m, the plugin's Meter, when m is
// not nil.
func (g *Gate) NewBudget(caller Caller, q Quota, m *Meter) *Budget {
	caller.Tokens, caller.Manifest, caller.Budget = nil, nil, nil
	return &Budget{g: g, caller: caller, q: q.withDefaults(), m: m}
}

// Usage is what an invocation spent, for its tool.invoke event.
type Usage struct {
	WriteBytes, Events, LogBytes int64
	// Hit lists the actions of the summary events written, in the order
	// write, events, log; empty when no bound was hit.
	Hit []string
	// Refused counts what was refused after a bound was hit: host calls,
	// writes and log lines.
	Refused int64
}

// Usage reports what the invocation has spent so far.
func (b *Budget) Usage() Usage {
	u := Usage{WriteBytes: b.used[kindWrite].Load(), Events: b.used[kindEvents].Load(), LogBytes: b.used[kindLog].Load(),
		Refused: b.refused.Load()}
	for k := range numKinds {
		if b.hit[k].Load() {
			u.Hit = append(u.Hit, kindAction[k])
		}
	}
	return u
}

// take draws n of kind k from the invocation and the plugin. Once a bound
// of a kind is hit, every later draw of that kind is refused: the
// invocation's behaviour does not depend on how a refill races with it.
func (b *Budget) take(k budgetKind, n int64, now time.Time) (scope string, ok bool) {
	if n <= 0 {
		return "", true
	}
	if b.hit[k].Load() {
		return "", false
	}
	if b.used[k].Add(n) > b.q.of(k) {
		b.used[k].Add(-n)
		return "invocation", false
	}
	if b.m != nil && !b.m.take(k, n, now) {
		b.used[k].Add(-n)
		return "plugin", false
	}
	return "", true
}

// give returns n of kind k reserved by a call that was then refused.
func (b *Budget) give(k budgetKind, n int64) {
	b.used[k].Add(-n)
	if b.m != nil {
		b.m.give(k, n)
	}
}

// exceeded records the first refusal of kind k in the summary event and
// returns the refusal. Later refusals are only counted.
func (b *Budget) exceeded(k budgetKind, scope, res string, n int64) *Error {
	herr := b.quotaError(k)
	if !b.hit[k].CompareAndSwap(false, true) {
		b.refused.Add(1)
		return herr
	}
	b.refused.Add(1)
	limit := b.q.of(k)
	if scope == "plugin" {
		limit = b.m.q.of(k)
		herr.Message += " (the plugin's budget across its invocations)"
	}
	if res == "" {
		res = "plugin:" + b.caller.Plugin
	}
	cl := &b.caller
	ev := &audit.Event{
		Time:     b.g.now(),
		Actor:    audit.Actor{Plugin: cl.Plugin, Version: cl.Version, Publisher: cl.Publisher},
		Session:  cl.Session,
		Instance: cl.Instance,
		Action:   kindAction[k],
		Resource: res,
		Decision: audit.Decision{Effect: audit.EffectDeny, By: "budget", Reason: "the " + scope + "'s budget of " + kindWhat[k] + " is spent"},
		Outcome:  audit.OutcomeError,
		Error:    &audit.Error{Code: string(herr.Code), Message: herr.Message},
		Detail: map[string]string{
			"scope":     scope,
			"limit":     strconv.FormatInt(limit, 10),
			"used":      strconv.FormatInt(b.used[k].Load(), 10),
			"requested": strconv.FormatInt(n, 10),
		},
	}
	if scope == "plugin" {
		ev.Detail["window"] = b.m.q.Window.String()
	}
	if k != kindEvents {
		ev.Bytes = b.used[k].Load()
	}
	if _, err := b.g.cfg.Audit.Enqueue(ev); err != nil {
		return &Error{Code: CodeUnavailable, Message: "the audit ledger refused the budget's summary event, so the call was not performed", Err: err}
	}
	return herr
}

func (b *Budget) quotaError(k budgetKind) *Error {
	switch k {
	case kindWrite:
		return Errorf(CodeQuota, "the invocation's budget of %d written bytes is spent; no more writes in this call", b.q.WriteBytes)
	case kindEvents:
		return Errorf(CodeQuota, "the invocation's budget of %d audited host calls is spent; no more host calls in this call", b.q.Events)
	}
	return Errorf(CodeQuota, "the invocation's budget of %d log bytes is spent; further log lines of this call are dropped", b.q.LogBytes)
}

// SpendLog draws n captured stdout or stderr bytes from the log budget and
// reports whether they may be delivered. The sandbox calls it for the
// guest's output; log.write is metered by the gate.
func (b *Budget) SpendLog(n int) bool {
	if b == nil {
		return true
	}
	scope, ok := b.take(kindLog, int64(n), b.g.now())
	if !ok {
		_ = b.exceeded(kindLog, scope, "", int64(n))
	}
	return ok
}

// spendWrite draws n written bytes for the file res.
func (b *Budget) spendWrite(res string, n int64) *Error {
	scope, ok := b.take(kindWrite, n, b.g.now())
	if !ok {
		return b.exceeded(kindWrite, scope, res, n)
	}
	return nil
}

// admit reserves the events a call can produce before it produces any.
// It is the first thing every call does: a call refused here leaves no
// event except, the first time, the summary.
func (c *call) admit(events int64) *Error {
	b := c.caller.Budget
	if b == nil {
		return nil
	}
	if scope, ok := b.take(kindEvents, events, c.start); !ok {
		return b.exceeded(kindEvents, scope, "", events)
	}
	return nil
}

// spend draws what the method's params say the call will write or log, once
// they are valid; a refusal gives back the events admit reserved, since the
// call then produces none.
func (c *call) spend(events int64) *Error {
	b := c.caller.Budget
	if b == nil || c.m == nil || c.m.spend == nil {
		return nil
	}
	k, n := c.m.spend(&c.args)
	if scope, ok := b.take(k, n, c.start); !ok {
		b.give(kindEvents, events)
		return b.exceeded(k, scope, c.ev.Resource, n)
	}
	return nil
}

// callEvents is how many events a call of m can produce: its outcome, and
// the intent before an effect.
func callEvents(m *method) int64 {
	if m != nil && m.effect {
		return 2
	}
	return 1
}

// charge draws n bytes about to be written at the file's offset. See
// chargeAt.
func (f *gateFile) charge(n int64) error {
	if f.budget == nil {
		return nil
	}
	off, err := f.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return fsError(err, "write", f.path)
	}
	return f.chargeAt(n, off)
}

// chargeAt draws n bytes about to be written at offset off, and the hole a
// write past the end leaves before them (a Seek past the end, or WriteAt):
// a sparse hole takes no disk, but every later hash, reader and copy of the
// file pays for its size, so an 8 TiB file made of one byte costs 8 TiB.
// A file opened to append has no hole: the kernel writes at its end.
func (f *gateFile) chargeAt(n, off int64) error {
	if f.budget == nil {
		return nil
	}
	fi, err := f.f.Stat()
	if err != nil {
		return fsError(err, "write", f.path)
	}
	if hole := off - fi.Size(); hole > 0 && !appends(f.f) {
		n += hole
	}
	if herr := f.budget.spendWrite("filesystem:"+f.path, n); herr != nil {
		return herr
	}
	return nil
}

// appends reports whether f was opened with O_APPEND. It is asked only when
// a write would leave a hole, which is rare.
func appends(f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	fl := 0
	if rc.Control(func(fd uintptr) { fl, err = fcntlFlags(fd) }) != nil || err != nil {
		return false
	}
	return fl&os.O_APPEND != 0
}

// chargeGrowth draws what Truncate(size) adds to the file's size.
func (f *gateFile) chargeGrowth(size int64) error {
	if f.budget == nil {
		return nil
	}
	fi, err := f.f.Stat()
	if err != nil {
		return fsError(err, "truncate", f.path)
	}
	if grow := size - fi.Size(); grow > 0 {
		if herr := f.budget.spendWrite("filesystem:"+f.path, grow); herr != nil {
			return herr
		}
	}
	return nil
}

type budgetKey struct{}

// WithBudget returns ctx carrying b, the budget of the invocation that ctx
// runs: the host sets it, and the sandbox puts it in the Caller of every
// host call of that invocation.
func WithBudget(ctx context.Context, b *Budget) context.Context {
	return context.WithValue(ctx, budgetKey{}, b)
}

// BudgetFrom returns the budget WithBudget put in ctx, or nil.
func BudgetFrom(ctx context.Context) *Budget {
	b, _ := ctx.Value(budgetKey{}).(*Budget)
	return b
}
