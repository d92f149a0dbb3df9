package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime/debug"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/wardenproject/warden/manifest"
)

// sbomInput is what the SBOM describes.
type sbomInput struct {
	m         *manifest.Manifest
	payload   []File // sorted by name
	build     *debug.BuildInfo
	tool      string    // warden's version
	timestamp time.Time // zero: no timestamp, so packing stays reproducible
}

// makeSBOM returns a CycloneDX 1.6 JSON document: the plugin as the metadata
// component, each payload file as a "file" component with its SHA-256, and for
// a Go plugin its main module, every module it was built from (purl
// pkg:golang/..., the go.sum "h1:" hash as property golang:module:h1, since
// CycloneDX hashes are hex digests of the component itself and h1 is a digest
// of a file listing) and the Go standard library at the toolchain's version.
func makeSBOM(in sbomInput) ([]byte, error) {
	bom := cdx.NewBOM()
	bom.SerialNumber = serialNumber(in)
	pluginRef := "plugin:" + in.m.Name + "@" + in.m.Version
	meta := &cdx.Metadata{
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type: cdx.ComponentTypeApplication, Name: "warden", Version: in.tool,
		}}},
		Component: &cdx.Component{
			BOMRef:      pluginRef,
			Type:        cdx.ComponentTypeApplication,
			Name:        in.m.Name,
			Version:     in.m.Version,
			Description: in.m.Description,
			Publisher:   in.m.Publisher.Name,
		},
	}
	if !in.timestamp.IsZero() {
		meta.Timestamp = in.timestamp.UTC().Format(time.RFC3339)
	}
	bom.Metadata = meta

	var comps []cdx.Component
	var pluginDeps []string
	for _, f := range in.payload {
		sum := sha256.Sum256(f.Data)
		ref := "file:" + f.Name
		comps = append(comps, cdx.Component{
			BOMRef: ref,
			Type:   cdx.ComponentTypeFile,
			Name:   f.Name,
			Hashes: &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: hex.EncodeToString(sum[:])}},
		})
		pluginDeps = append(pluginDeps, ref)
	}
	deps := []cdx.Dependency{}
	if bi := in.build; bi != nil && bi.Main.Path != "" {
		mainRef := goPURL(bi.Main.Path, bi.Main.Version)
		mainComp := cdx.Component{
			BOMRef: mainRef, Type: cdx.ComponentTypeApplication, Name: bi.Main.Path,
			Version: bi.Main.Version, PackageURL: mainRef,
		}
		if bi.Main.Sum != "" {
			mainComp.Properties = &[]cdx.Property{{Name: "golang:module:h1", Value: bi.Main.Sum}}
		}
		comps = append(comps, mainComp)
		pluginDeps = append(pluginDeps, mainRef)
		var mainDeps []string
		if bi.GoVersion != "" {
			ref := goPURL("std", bi.GoVersion)
			comps = append(comps, cdx.Component{BOMRef: ref, Type: cdx.ComponentTypeLibrary, Name: "std", Version: bi.GoVersion, PackageURL: ref})
			mainDeps = append(mainDeps, ref)
		}
		for _, d := range bi.Deps {
			mod := d
			if d.Replace != nil {
				mod = d.Replace
			}
			ref := goPURL(mod.Path, mod.Version)
			c := cdx.Component{BOMRef: ref, Type: cdx.ComponentTypeLibrary, Name: mod.Path, Version: mod.Version, PackageURL: ref}
			if mod.Sum != "" {
				c.Properties = &[]cdx.Property{{Name: "golang:module:h1", Value: mod.Sum}}
			}
			comps = append(comps, c)
			mainDeps = append(mainDeps, ref)
			deps = append(deps, cdx.Dependency{Ref: ref})
		}
		deps = append([]cdx.Dependency{{Ref: mainRef, Dependencies: &mainDeps}}, deps...)
		if bi.GoVersion != "" {
			deps = append(deps, cdx.Dependency{Ref: goPURL("std", bi.GoVersion)})
		}
	}
	for _, f := range in.payload {
		deps = append(deps, cdx.Dependency{Ref: "file:" + f.Name})
	}
	deps = append([]cdx.Dependency{{Ref: pluginRef, Dependencies: &pluginDeps}}, deps...)
	bom.Components = &comps
	bom.Dependencies = &deps

	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON).SetPretty(true).SetEscapeHTML(false)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return nil, fmt.Errorf("encode SBOM: %w", err)
	}
	return buf.Bytes(), nil
}

// goPURL is the package URL of a Go module (purl-spec, type "golang"). The
// main module of a local build has version "(devel)", which is not a version:
// it is left out.
func goPURL(path, version string) string {
	if version == "" || version == "(devel)" {
		return "pkg:golang/" + path
	}
	return "pkg:golang/" + path + "@" + version
}

// serialNumber derives the BOM's urn:uuid from what it describes, so the same
// inputs give the same SBOM (a random serial would defeat reproducible
// packing). It has the form of a version 8 (custom) UUID, RFC 9562.
func serialNumber(in sbomInput) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", in.m.Name, in.m.Version)
	for _, f := range in.payload {
		sum := sha256.Sum256(f.Data)
		fmt.Fprintf(h, "%s\x00%x\x00", f.Name, sum)
	}
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x80 // version 8
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
