package manifest

import (
	"fmt"
	"strings"

	wardenhome "github.com/wardenproject/warden/internal/home"
	"github.com/wardenproject/warden/resource"
)

// Score is a manifest's risk from 0 (harmless) to 100, with every reason that
// moved it. docs/risk.md gives the formula; a test checks its worked examples.
type Score struct {
	Value   int      `json:"value"`
	Band    string   `json:"band"` // low, medium, high or critical
	Reasons []Reason `json:"reasons"`
}

// Reason is one contribution to a Score.
type Reason struct {
	Points int    `json:"points"`
	What   string `json:"what"`
	Path   string `json:"path,omitempty"` // JSON path of the permission or field; "" for the whole manifest
}

// Points of the risk formula (docs/risk.md). Each names one term.
const (
	riskWildcard        = 30 // a grant Pattern.Wildcard calls a wildcard (kv excepted)
	riskBroad           = 10 // a filesystem grant based at a top-level directory
	riskGlob            = 5  // a filesystem grant with "*"
	riskStarred         = 10 // an env, secret, plugin or process grant with "*"
	riskFileRead        = 3
	riskFileWrite       = 10
	riskSensitiveWrite  = 25
	riskEgress          = 10
	riskEgressSend      = 5 // post, put, patch or delete
	riskSpawn           = 20
	riskClipboardRead   = 10
	riskClipboardWrite  = 2
	riskEnvRead         = 5
	riskSecretRead      = 10
	riskPluginCall      = 5
	riskExfiltration    = 20 // network plus a local read source
	riskWriteAndExecute = 15 // file write plus process spawn
	riskNoPublisher     = 15
)

// Band limits: a score is low below 25, medium below 50, high below 75, and
// critical from 75.
func band(v int) string {
	switch {
	case v < 25:
		return "low"
	case v < 50:
		return "medium"
	case v < 75:
		return "high"
	}
	return "critical"
}

// Risk scores m. Permissions whose pattern does not parse add nothing; Validate
// reports them.
func Risk(m *Manifest) Score {
	return riskWithHome(m, ValidateOptions{}.home())
}

func riskWithHome(m *Manifest, home string) Score {
	var s Score
	add := func(points int, path, format string, args ...any) {
		s.Reasons = append(s.Reasons, Reason{Points: points, What: fmt.Sprintf(format, args...), Path: path})
		s.Value += points
	}
	var readSource, netPath, writePath, spawnPath string
	for _, g := range grants(m, home, wardenhome.Protected{}) {
		res := g.perm.Resource
		switch {
		case g.wildcard && g.kind != resource.KV:
			// kv is the plugin's own store: all of it is still only its own.
			add(riskWildcard, g.path, "%s is a wildcard: %s", res, g.wildWhy)
		case g.kind == resource.Filesystem && g.broad:
			add(riskBroad, g.path, "%s covers a whole top-level directory", res)
		case g.kind == resource.Filesystem && g.starred:
			add(riskGlob, g.path, "%s matches many names with a glob", res)
		case g.kind != resource.Filesystem && g.kind != resource.Net && g.kind != resource.KV && g.starred:
			add(riskStarred, g.path, "%s names many resources with a wildcard", res)
		}
		switch g.kind {
		case resource.Filesystem:
			if g.can("read", "list") {
				add(riskFileRead, g.path, "reads files in %s", res)
				readSource = first(readSource, g.path)
			}
			if g.can("write", "delete") {
				add(riskFileWrite, g.path, "writes or deletes files in %s", res)
				writePath = first(writePath, g.path)
				if g.sensitive != "" {
					add(riskSensitiveWrite, g.path, "can write to %s", g.sensitive)
				}
			}
		case resource.Net:
			add(riskEgress, g.path, "network egress to %s", res)
			netPath = first(netPath, g.path)
			if g.can("post", "put", "patch", "delete") {
				add(riskEgressSend, g.path, "sends data with %s", strings.Join(sendMethods(g.perm.Actions), ", "))
			}
		case resource.Process:
			if g.can("spawn") {
				add(riskSpawn, g.path, "spawns %s outside the WebAssembly sandbox", res)
				spawnPath = first(spawnPath, g.path)
			}
		case resource.Clipboard:
			if g.can("read") {
				add(riskClipboardRead, g.path, "reads the clipboard")
				readSource = first(readSource, g.path)
			}
			if g.can("write") {
				add(riskClipboardWrite, g.path, "writes the clipboard")
			}
		case resource.Env:
			if g.can("read") {
				add(riskEnvRead, g.path, "reads environment variables %s", res)
				readSource = first(readSource, g.path)
			}
		case resource.Secret:
			if g.can("read") {
				add(riskSecretRead, g.path, "reads secrets %s", res)
				readSource = first(readSource, g.path)
			}
		case resource.Plugin:
			if g.can("call") {
				add(riskPluginCall, g.path, "calls another plugin: %s", res)
			}
		}
	}
	if netPath != "" && readSource != "" {
		add(riskExfiltration, "", "can read local data (%s) and reach the network (%s): the exfiltration shape", readSource, netPath)
	}
	if writePath != "" && spawnPath != "" {
		add(riskWriteAndExecute, "", "can write files (%s) and spawn programs (%s)", writePath, spawnPath)
	}
	if !m.hasPublisher() {
		add(riskNoPublisher, "publisher", "no publisher: nobody is accountable for the plugin")
	}
	if s.Value > 100 {
		s.Value = 100
	}
	s.Band = band(s.Value)
	if s.Reasons == nil {
		s.Reasons = []Reason{}
	}
	return s
}

func first(have, p string) string {
	if have != "" {
		return have
	}
	return p
}

func sendMethods(acts []string) []string {
	var out []string
	for _, a := range acts {
		switch a {
		case "post", "put", "patch", "delete":
			out = append(out, a)
		}
	}
	return out
}

// String is the score as one line: "17/100 (low)".
func (s Score) String() string { return fmt.Sprintf("%d/100 (%s)", s.Value, s.Band) }
