// Package export delivers audit events from the ledger to a SIEM: an NDJSON
// file, syslog (RFC 5424, over TCP with RFC 6587 octet counting or over UDP),
// or OpenTelemetry logs over OTLP/HTTP (binary protobuf, encoded here without
// the OpenTelemetry SDK), each with the native canonical JSON or an OCSF 1.1
// mapping as payload.
//
// Delivery is at least once. Each sink has a cursor (the next event index to
// send) persisted atomically only after the sink accepted a batch, so a crash
// or a failed send resends from the cursor: a receiver can see an event twice
// (the batch in flight when the process died or the send failed) and never
// misses one, except what an OTLP collector accepts and reports as rejected
// (a partial success, counted in Result.Rejected and not resent, as the OTLP
// specification requires). Every payload carries the event id, which is
// unique across logs, so receivers deduplicate on it. What "accepted" means depends on the sink:
// for the file it is fsync, for OTLP the HTTP 2xx answer, for syslog over TCP
// the write into the connection (syslog has no acknowledgement, RFC 6587), and
// for UDP nothing at all — UDP is best effort and documented as such.
//
// Unlike a log shipper tailing a text file, the exporter reads the ledger by
// index, so rotation and restarts never skip or reorder events.
package export

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/wardenproject/warden/audit"
)

// ConfigFile is the export configuration's name inside the ledger directory.
const ConfigFile = "export.json"

// Config lists the sinks; see docs/audit-format.md, "Export".
type Config struct {
	Sinks []SinkConfig `json:"sinks"`
}

// SinkConfig configures one sink.
type SinkConfig struct {
	Name   string `json:"name"`             // unique; names the cursor file
	Type   string `json:"type"`             // file | syslog | otlp
	Format string `json:"format,omitempty"` // native (default) | ocsf

	Path string `json:"path,omitempty"` // file: the NDJSON file to append to

	Network  string `json:"network,omitempty"`  // syslog: tcp (default) | udp
	Address  string `json:"address,omitempty"`  // syslog: host:port
	Hostname string `json:"hostname,omitempty"` // syslog HOSTNAME; default os.Hostname
	AppName  string `json:"app_name,omitempty"` // syslog APP-NAME; default warden

	Endpoint string            `json:"endpoint,omitempty"` // otlp: full URL, e.g. http://127.0.0.1:4318/v1/logs
	Headers  map[string]string `json:"headers,omitempty"`  // otlp: extra HTTP headers

	BatchSize int `json:"batch_size,omitempty"` // events per send; default 256
}

// LoadConfig reads and validates the configuration; it returns the raw bytes
// too, for RecordConfig.
func LoadConfig(path string) (*Config, []byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read export configuration: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, nil, fmt.Errorf("parse export configuration %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return nil, nil, fmt.Errorf("export configuration %s: %w", path, err)
	}
	return &c, raw, nil
}

// ErrConfig is wrapped by every validation error.
var ErrConfig = errors.New("invalid export configuration")

// Validate checks every field and names the first bad one by its path.
func (c *Config) Validate() error {
	seen := map[string]bool{}
	for i, s := range c.Sinks {
		at := fmt.Sprintf("sinks[%d]", i)
		bad := func(field, why string) error { return fmt.Errorf("%w: %s.%s: %s", ErrConfig, at, field, why) }
		if s.Name == "" || strings.ContainsAny(s.Name, "/\\ .") || len(s.Name) > 64 {
			return bad("name", "must be 1-64 characters without / \\ . or space")
		}
		if seen[s.Name] {
			return bad("name", fmt.Sprintf("%q is used twice", s.Name))
		}
		seen[s.Name] = true
		switch s.Format {
		case "", "native", "ocsf":
		default:
			return bad("format", fmt.Sprintf("%q is not native or ocsf", s.Format))
		}
		if s.BatchSize < 0 || s.BatchSize > 10000 {
			return bad("batch_size", "must be 0..10000")
		}
		switch s.Type {
		case "file":
			if !filepath.IsAbs(s.Path) {
				return bad("path", "must be an absolute file path")
			}
		case "syslog":
			switch s.Network {
			case "", "tcp", "udp":
			default:
				return bad("network", fmt.Sprintf("%q is not tcp or udp", s.Network))
			}
			if _, _, err := net.SplitHostPort(s.Address); err != nil {
				return bad("address", "must be host:port")
			}
		case "otlp":
			u, err := url.Parse(s.Endpoint)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return bad("endpoint", "must be an http or https URL such as http://127.0.0.1:4318/v1/logs")
			}
			// Checked here, with net/http's own rules, so a bad header is
			// a configuration error at load and not a failure of every send.
			for _, k := range slices.Sorted(maps.Keys(s.Headers)) {
				if !httpguts.ValidHeaderFieldName(k) {
					return bad(fmt.Sprintf("headers[%q]", k), "is not a valid HTTP header name")
				}
				if !httpguts.ValidHeaderFieldValue(s.Headers[k]) {
					// The value is not echoed: headers often carry credentials.
					return bad(fmt.Sprintf("headers[%q]", k), "value has control characters or line breaks")
				}
			}
		default:
			return bad("type", fmt.Sprintf("%q is not file, syslog or otlp", s.Type))
		}
	}
	return nil
}

// Appender is the part of the ledger RecordConfig needs.
type Appender interface {
	Append(ctx context.Context, ev *audit.Event) (uint64, error)
}

// RecordConfig appends an export.config event when the configuration's bytes
// differ from those last recorded (kept as a SHA-256 in <dir>/export/), so
// where the audit stream goes is itself audited. It reports whether it
// appended an event.
func RecordConfig(ctx context.Context, dir string, raw []byte, app Appender) (bool, error) {
	sum := sha256.Sum256(raw)
	hash := "sha256:" + hex.EncodeToString(sum[:])
	state := filepath.Join(dir, stateDir, "config.sha256")
	prev, _ := os.ReadFile(state)
	if strings.TrimSpace(string(prev)) == hash {
		return false, nil
	}
	var c Config
	_ = json.Unmarshal(raw, &c)
	var names []string
	for _, s := range c.Sinks {
		names = append(names, s.Name+"="+s.Type)
	}
	ev := &audit.Event{Action: audit.ActionExportConfig, Actor: audit.Actor{Plugin: "warden"}, Outcome: audit.OutcomeOK,
		AfterHash: hash, Resource: "file:" + filepath.Join(dir, ConfigFile),
		Detail: map[string]string{"sinks": strings.Join(names, ",")}}
	if p := strings.TrimSpace(string(prev)); strings.HasPrefix(p, "sha256:") && len(p) == 71 {
		ev.BeforeHash = p
	}
	if _, err := app.Append(ctx, ev); err != nil {
		return false, fmt.Errorf("record export configuration change: %w", err)
	}
	if err := writeAtomic(state, []byte(hash+"\n")); err != nil {
		return true, err
	}
	return true, nil
}
