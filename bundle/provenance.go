package bundle

import (
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strings"
	"time"
)

// Identifiers of the provenance document (docs/bundle-format.md, "Provenance").
const (
	// ProvenancePredicateType is SLSA Provenance v1.
	ProvenancePredicateType = "https://slsa.dev/provenance/v1"
	// BuilderID names warden pack as the builder: the provenance records a
	// build on the publisher's own machine, SLSA Build L1.
	BuilderID = "https://wardenproject.dev/builders/warden-pack@v1"
	// BuildTypeGoWasip1 is a Go plugin built for GOOS=wasip1 GOARCH=wasm.
	BuildTypeGoWasip1 = "https://wardenproject.dev/buildtypes/go-wasip1@v1"
	// BuildTypePrebuilt is a payload warden did not see being built (no Go
	// build information in it): the provenance records only what was packed.
	BuildTypePrebuilt = "https://wardenproject.dev/buildtypes/prebuilt@v1"
)

// Provenance is an in-toto v1 Statement with a SLSA Provenance v1 predicate.
type Provenance struct {
	Type          string         `json:"_type"`
	Subject       []subject      `json:"subject"`
	PredicateType string         `json:"predicateType"`
	Predicate     SLSAProvenance `json:"predicate"`
}

// SLSAProvenance is the SLSA Provenance v1 predicate (slsa.dev/provenance/v1).
type SLSAProvenance struct {
	BuildDefinition struct {
		BuildType            string               `json:"buildType"`
		ExternalParameters   map[string]any       `json:"externalParameters"`
		InternalParameters   map[string]any       `json:"internalParameters,omitempty"`
		ResolvedDependencies []ResourceDescriptor `json:"resolvedDependencies,omitempty"`
	} `json:"buildDefinition"`
	RunDetails struct {
		Builder struct {
			ID      string            `json:"id"`
			Version map[string]string `json:"version,omitempty"`
		} `json:"builder"`
		Metadata *struct {
			StartedOn  string `json:"startedOn,omitempty"`
			FinishedOn string `json:"finishedOn,omitempty"`
		} `json:"metadata,omitempty"`
	} `json:"runDetails"`
}

// ResourceDescriptor is the in-toto v1 ResourceDescriptor, the fields warden
// uses.
type ResourceDescriptor struct {
	Name        string            `json:"name,omitempty"`
	URI         string            `json:"uri,omitempty"`
	Digest      map[string]string `json:"digest,omitempty"`
	Annotations map[string]any    `json:"annotations,omitempty"`
}

// provenanceInput is what the provenance records.
type provenanceInput struct {
	payload      []File
	entry        string
	build        *debug.BuildInfo
	command      string // the build command run by pack, "" if pack did not build
	sourceDigest string // sha256 listing hash of the Go sources, "" when none
	tool         string
	timestamp    time.Time
}

// makeProvenance returns the provenance document, indented JSON. It holds no
// absolute path, host name or clock reading (unless timestamp is set), so
// packing stays reproducible.
func makeProvenance(in provenanceInput) ([]byte, error) {
	p := Provenance{Type: StatementType, PredicateType: ProvenancePredicateType}
	for _, f := range in.payload {
		p.Subject = append(p.Subject, subjectOf(f))
	}
	bd := &p.Predicate.BuildDefinition
	bd.ExternalParameters = map[string]any{"entry": in.entry, "source": "."}
	bi := in.build
	if bi == nil {
		bd.BuildType = BuildTypePrebuilt
	} else {
		bd.BuildType = BuildTypeGoWasip1
		cmd, reconstructed := in.command, false
		if cmd == "" {
			cmd, reconstructed = goBuildCommand(bi, in.entry), true
		}
		bd.ExternalParameters["command"] = cmd
		bd.ExternalParameters["commandReconstructed"] = reconstructed
		settings := map[string]string{}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
		bd.InternalParameters = map[string]any{"goVersion": bi.GoVersion, "buildSettings": settings, "mainModule": bi.Main.Path}
		if bi.GoVersion != "" {
			bd.ResolvedDependencies = append(bd.ResolvedDependencies, ResourceDescriptor{
				Name: "go-toolchain", URI: "pkg:golang/std@" + bi.GoVersion,
			})
		}
		if rev := setting(bi, "vcs.revision"); rev != "" {
			key := "gitCommit"
			if v := setting(bi, "vcs"); v != "" && v != "git" {
				key = v + "Commit"
			}
			rd := ResourceDescriptor{Name: "source-vcs", Digest: map[string]string{key: rev}}
			if mod := setting(bi, "vcs.modified"); mod != "" {
				rd.Annotations = map[string]any{"modified": mod == "true"}
			}
			bd.ResolvedDependencies = append(bd.ResolvedDependencies, rd)
		}
	}
	if in.sourceDigest != "" {
		bd.ResolvedDependencies = append(bd.ResolvedDependencies, ResourceDescriptor{
			Name: "source", Digest: map[string]string{"sha256": in.sourceDigest},
			Annotations: map[string]any{"digestOf": "sha256sum listing of go.mod, go.sum and *.go files, sorted by path (docs/bundle-format.md)"},
		})
	}
	rd := &p.Predicate.RunDetails
	rd.Builder.ID = BuilderID
	if in.tool != "" {
		rd.Builder.Version = map[string]string{"warden": in.tool}
	}
	if !in.timestamp.IsZero() {
		rd.Metadata = &struct {
			StartedOn  string `json:"startedOn,omitempty"`
			FinishedOn string `json:"finishedOn,omitempty"`
		}{StartedOn: in.timestamp.UTC().Format(time.RFC3339)}
	}
	out, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode provenance: %w", err)
	}
	return append(out, '\n'), nil
}

func subjectOf(f File) subject {
	return subject{Name: f.Name, Digest: map[string]string{"sha256": sha256Hex(f.Data)}}
}

// goBuildCommand reconstructs the go build command line from the build
// settings Go records in the binary.
func goBuildCommand(bi *debug.BuildInfo, entry string) string {
	var env, flags []string
	for _, s := range bi.Settings {
		switch s.Key {
		case "GOOS", "GOARCH", "CGO_ENABLED", "GOWASM", "GOEXPERIMENT":
			env = append(env, s.Key+"="+s.Value)
		case "-buildmode", "-ldflags", "-tags", "-gcflags", "-asmflags":
			flags = append(flags, s.Key+"="+shellQuote(s.Value))
		case "-trimpath", "-race", "-msan", "-asan":
			if s.Value == "true" {
				flags = append(flags, s.Key)
			}
		}
	}
	parts := append(env, "go", "build")
	parts = append(parts, flags...)
	parts = append(parts, "-o", entry, ".")
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
