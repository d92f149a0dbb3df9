//lint:file-ignore SA1019 MCP logging is deprecated only from protocol 2026-07-28, which warden does not negotiate (see doc.go); the brief requires plugin log lines as MCP logging notifications.

package mcpfront

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/wardenproject/warden/host"
	"github.com/wardenproject/warden/hostapi"
	"github.com/wardenproject/warden/manifest"
)

// Host is what the front needs from warden's host. *host.Host satisfies it
// through FromHost; tests use small fakes.
type Host interface {
	// Plugins lists the installed plugins with their manifests.
	Plugins(ctx context.Context) ([]Plugin, error)
	// Invoke runs one tool of one plugin and returns its JSON output. Errors
	// carry a stable code as *hostapi.Error.
	Invoke(ctx context.Context, plugin, tool string, input json.RawMessage, call Call) (json.RawMessage, error)
	// Watch calls fn after every install and uninstall until cancel is called.
	Watch(fn func()) (cancel func())
}

// Plugin is one installed plugin as the front sees it.
type Plugin struct {
	Name, Version, Publisher, State string
	Manifest                        *manifest.Manifest
}

// StateQuarantined is the plugin state whose tools the front hides: the host
// refuses to run a quarantined plugin, so offering its tools would only lead
// the agent into errors.
const StateQuarantined = "quarantined"

// Call carries the per-call hooks the front hands to Host.Invoke.
type Call struct {
	// Confirmer asks the person behind the MCP client, by elicitation.
	Confirmer hostapi.Confirmer
	// Log receives the plugin's log lines (stream "stdout", "stderr" or a
	// level the host chooses).
	Log func(stream, line string)
	// Refused learns each host call of the invocation the gate refused,
	// with what decided it (host.WithRefusals).
	Refused func(host.Refusal)
}

// Defaults for a zero Config field.
const (
	DefaultMaxArgumentBytes = 1 << 20
	DefaultProgressAfter    = time.Second
	DefaultConfirmTimeout   = 2 * time.Minute
	DefaultLogRate          = 20 // log notifications per second and session
	DefaultLogBurst         = 100
	DefaultMaxLogLine       = 8 << 10
)

// Config configures a Front. New copies it; changing it afterwards has no
// effect. Host is required (New refuses a Config without one, naming the
// field); every other zero field is the bounded default below.
type Config struct {
	// Host runs the tools (FromHost adapts a *host.Host).
	Host Host
	// Name and Version are the server's implementation info.
	Name, Version string
	// MaxArgumentBytes caps the JSON arguments of one call.
	MaxArgumentBytes int
	// ProgressAfter is how long a call runs before progress notifications
	// start (to clients that sent a progress token), and their interval.
	ProgressAfter time.Duration
	// ConfirmTimeout bounds how long a person has to answer an elicitation;
	// no answer in time is a denial.
	ConfirmTimeout time.Duration
	// GrantCommand is the command named in denial messages; default "warden".
	GrantCommand string
	// LogRate and LogBurst bound the log notifications (notifications/message)
	// each session receives: a token bucket refilled at LogRate a second,
	// holding at most LogBurst. Lines past it are dropped and counted, and
	// the next notification that goes out is preceded by one saying how
	// many (lograte.go). MaxLogLine cuts longer lines. Zero means the
	// defaults: 20 a second, bursts of 100, lines of 8 KiB.
	LogRate    float64
	LogBurst   int
	MaxLogLine int
	// Logger receives the front's own diagnostics (never the client's
	// traffic); nil discards them.
	Logger *slog.Logger
}

// Front is an MCP server over the tools of every installed plugin. It is safe
// for concurrent use; one Front serves any number of sessions.
type Front struct {
	cfg    Config
	server *mcp.Server
	now    func() time.Time // the log rate limit's clock; tests move it

	logLimits sync.Map // *mcp.ServerSession -> *logLimiter

	mu    sync.Mutex
	tools map[string]*served // by MCP name

	kick        chan struct{}
	stop        chan struct{}
	done        chan struct{}
	cancelWatch func()
	closeOnce   sync.Once
}

// served is one tool being offered.
type served struct {
	plugin, tool string
	def          []byte // JSON of the mcp.Tool, to notice upgrades
	input        *jsonschema.Schema
	output       *jsonschema.Schema // nil: no output schema declared
}

// entry is one (plugin, tool) pair before its name is checked.
type entry struct {
	plugin, tool, name string
	t                  manifest.Tool
}

func (e entry) source() string { return "plugin " + e.plugin + " tool " + e.tool }

// legacyVersions are the protocol revisions the front speaks: every revision
// the SDK supports before 2026-07-28 (see the package doc for why).
func legacyVersions() []string {
	var out []string
	for _, v := range mcp.SupportedProtocolVersions() {
		if v < "2026-07-28" {
			out = append(out, v)
		}
	}
	return out
}

// New builds the tool list from cfg.Host and starts following installs and
// uninstalls. It returns a *ConflictError (and no Front) when any tool name
// cannot be served, so that the problem surfaces at start.
func New(ctx context.Context, cfg Config) (*Front, error) {
	if cfg.Host == nil {
		return nil, errors.New("mcp front: Config.Host is nil; pass the host whose tools to serve (mcpfront.FromHost)")
	}
	if cfg.Name == "" {
		cfg.Name = "warden"
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.MaxArgumentBytes <= 0 {
		cfg.MaxArgumentBytes = DefaultMaxArgumentBytes
	}
	if cfg.ProgressAfter <= 0 {
		cfg.ProgressAfter = DefaultProgressAfter
	}
	if cfg.ConfirmTimeout <= 0 {
		cfg.ConfirmTimeout = DefaultConfirmTimeout
	}
	if cfg.GrantCommand == "" {
		cfg.GrantCommand = "warden"
	}
	if cfg.LogRate <= 0 {
		cfg.LogRate = DefaultLogRate
	}
	if cfg.LogBurst <= 0 {
		cfg.LogBurst = DefaultLogBurst
	}
	if cfg.MaxLogLine <= 0 {
		cfg.MaxLogLine = DefaultMaxLogLine
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	f := &Front{
		cfg:   cfg,
		now:   time.Now,
		tools: map[string]*served{},
		kick:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	f.server = mcp.NewServer(&mcp.Implementation{Name: cfg.Name, Title: "warden plugins", Version: cfg.Version}, &mcp.ServerOptions{
		Instructions: "Tools are warden plugins named PLUGIN__TOOL. Every call runs in warden's sandbox under the user's grants and policy; " +
			"a denied call names the command a person runs to grant access. No tool can change permissions.",
		Logger: cfg.Logger,
		// Tools only, with list_changed; logging for plugin log lines. No
		// resources, no prompts: nothing else is on the surface.
		Capabilities: &mcp.ServerCapabilities{
			Logging: &mcp.LoggingCapabilities{},
			Tools:   &mcp.ToolCapabilities{ListChanged: true},
		},
		SupportedProtocolVersions: legacyVersions(),
	})
	entries, err := f.entries(ctx)
	if err != nil {
		return nil, err
	}
	if cs := checkNames(entries); len(cs) > 0 {
		return nil, &ConflictError{Conflicts: cs}
	}
	if err := f.apply(entries); err != nil {
		return nil, err
	}
	f.cancelWatch = cfg.Host.Watch(func() {
		select {
		case f.kick <- struct{}{}:
		default: // a refresh is already pending; it will see this change too
		}
	})
	go f.follow()
	return f, nil
}

// Server returns the MCP server, for Run or Connect on any transport.
func (f *Front) Server() *mcp.Server { return f.server }

// ToolNames returns the MCP names currently offered, sorted.
func (f *Front) ToolNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.tools))
	for n := range f.tools {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Close stops following the host. Sessions already connected keep running
// until their transports close.
func (f *Front) Close() error {
	f.closeOnce.Do(func() {
		f.cancelWatch()
		close(f.stop)
		<-f.done
	})
	return nil
}

// follow refreshes the tool list after the host reports a change. The Watch
// callback only signals, because the host may call it with its own locks held.
func (f *Front) follow() {
	defer close(f.done)
	for {
		select {
		case <-f.stop:
			return
		case <-f.kick:
			if err := f.Refresh(context.Background()); err != nil {
				f.cfg.Logger.Warn("refreshing the MCP tool list failed", "err", err)
			}
		}
	}
}

// Refresh rebuilds the tool list from the host now. Conflicting names are
// left out and reported (as a *ConflictError) while every other tool is
// served; the SDK tells connected clients with notifications/tools/list_changed.
func (f *Front) Refresh(ctx context.Context) error {
	entries, err := f.entries(ctx)
	if err != nil {
		return err
	}
	cs := checkNames(entries)
	if len(cs) > 0 {
		bad := map[string]bool{}
		for _, c := range cs {
			bad[strings.ToLower(c.Name)] = true
		}
		kept := entries[:0:0]
		for _, e := range entries {
			if !bad[strings.ToLower(e.name)] {
				kept = append(kept, e)
			}
		}
		entries = kept
	}
	if err := f.apply(entries); err != nil {
		return err
	}
	if len(cs) > 0 {
		return &ConflictError{Conflicts: cs}
	}
	return nil
}

func (f *Front) entries(ctx context.Context) ([]entry, error) {
	ps, err := f.cfg.Host.Plugins(ctx)
	if err != nil {
		return nil, fmt.Errorf("mcp front: list installed plugins: %w", err)
	}
	var out []entry
	for _, p := range ps {
		if p.Manifest == nil || p.State == StateQuarantined {
			continue
		}
		for _, t := range p.Manifest.Tools {
			out = append(out, entry{plugin: p.Name, tool: t.Name, name: ToolName(p.Name, t.Name), t: t})
		}
	}
	return out, nil
}

// apply makes the server's tools exactly entries: it removes what is gone and
// adds what is new or changed.
func (f *Front) apply(entries []entry) error {
	want := map[string]*served{}
	defs := map[string]*mcp.Tool{}
	var errs []error
	for _, e := range entries {
		def, s, err := buildTool(e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		want[e.name] = s
		defs[e.name] = def
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var gone []string
	for n := range f.tools {
		if _, ok := want[n]; !ok {
			gone = append(gone, n)
		}
	}
	if len(gone) > 0 {
		sort.Strings(gone)
		f.server.RemoveTools(gone...)
		for _, n := range gone {
			delete(f.tools, n)
		}
	}
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := want[n]
		if old, ok := f.tools[n]; ok && bytes.Equal(old.def, s.def) {
			continue
		}
		f.tools[n] = s
		f.server.AddTool(defs[n], f.handler(s))
	}
	return errors.Join(errs...)
}

// buildTool turns a manifest tool into an MCP tool definition and its
// compiled schemas. Everything the SDK would panic on is checked here first.
func buildTool(e entry) (*mcp.Tool, *served, error) {
	in := e.t.InputSchema
	if len(bytes.TrimSpace(in)) == 0 {
		in = json.RawMessage(`{"type":"object"}`)
	}
	var top struct {
		Type any `json:"type"`
	}
	if err := json.Unmarshal(in, &top); err != nil || top.Type != "object" {
		return nil, nil, fmt.Errorf("mcp front: %s: the input schema's top-level type must be \"object\"; fix the manifest", e.source())
	}
	inS, err := compileSchema(in)
	if err != nil {
		return nil, nil, fmt.Errorf("mcp front: %s: input schema: %w", e.source(), err)
	}
	def := &mcp.Tool{
		Name:        e.name,
		Description: e.t.Description,
		InputSchema: in,
	}
	s := &served{plugin: e.plugin, tool: e.tool, input: inS}
	if len(bytes.TrimSpace(e.t.OutputSchema)) > 0 {
		outS, err := compileSchema(e.t.OutputSchema)
		if err != nil {
			return nil, nil, fmt.Errorf("mcp front: %s: output schema: %w", e.source(), err)
		}
		def.OutputSchema = e.t.OutputSchema
		s.output = outS
	}
	if a := e.t.Annotations; a != nil {
		def.Title = a.Title
		def.Annotations = &mcp.ToolAnnotations{
			Title:           a.Title,
			ReadOnlyHint:    a.ReadOnlyHint != nil && *a.ReadOnlyHint,
			DestructiveHint: a.DestructiveHint,
			IdempotentHint:  a.IdempotentHint != nil && *a.IdempotentHint,
			OpenWorldHint:   a.OpenWorldHint,
		}
	}
	s.def, err = json.Marshal(def)
	if err != nil {
		return nil, nil, fmt.Errorf("mcp front: %s: %w", e.source(), err)
	}
	return def, s, nil
}

// compileSchema compiles a tool schema the way the manifest validator does:
// draft 2020-12 by default and no loader, so no $ref reaches a file or a URL.
func compileSchema(raw json.RawMessage) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(jsonschema.SchemeURLLoader{})
	c.DefaultDraft(jsonschema.Draft2020)
	const loc = "warden:tool-schema.json"
	if err := c.AddResource(loc, doc); err != nil {
		return nil, err
	}
	return c.Compile(loc)
}

// ServeStdio serves one MCP session over in (requests) and out (responses),
// newline-delimited JSON as the stdio transport specifies, until in ends or
// ctx is done.
func (f *Front) ServeStdio(ctx context.Context, in io.ReadCloser, out io.WriteCloser) error {
	// A line may hold arguments over the cap, so that such a call gets a
	// clear too_large result rather than a dropped connection.
	max := 4*f.cfg.MaxArgumentBytes + 64<<10
	w := &lockedWriter{w: out}
	lf := newLineFilter(in, w, max)
	lf.track = w
	t := &mcp.IOTransport{Reader: lf, Writer: w, MaxLineLength: max + 1}
	err := f.server.Run(ctx, t)
	if errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
