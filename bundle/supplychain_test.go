package bundle

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/testenv"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"google.golang.org/protobuf/encoding/protojson"
)

// cyclonedxSchema compiles the CycloneDX 1.6 JSON schema from testdata
// (see testdata/README.md) with no network access.
func cyclonedxSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	for _, f := range []string{"bom-1.6.schema.json", "spdx.schema.json", "jsf-0.82.schema.json"} {
		raw, err := os.ReadFile(filepath.Join("testdata", "cyclonedx", f))
		must(t, err)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		must(t, err)
		must(t, c.AddResource("http://cyclonedx.org/schema/"+f, doc))
	}
	s, err := c.Compile("http://cyclonedx.org/schema/bom-1.6.schema.json")
	must(t, err)
	return s
}

func checkSBOM(t *testing.T, schema *jsonschema.Schema, b *Bundle) map[string]any {
	t.Helper()
	raw, ok := b.File(SBOMFile)
	if !ok {
		t.Fatal("no SBOM")
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	must(t, err)
	if err := schema.Validate(doc); err != nil {
		t.Fatalf("SBOM does not validate against CycloneDX 1.6: %v\n%s", err, raw)
	}
	var m map[string]any
	must(t, json.Unmarshal(raw, &m))
	if m["specVersion"] != "1.6" || m["bomFormat"] != "CycloneDX" {
		t.Fatalf("specVersion %v bomFormat %v", m["specVersion"], m["bomFormat"])
	}
	return m
}

// checkProvenance parses the provenance with the in-toto attestation
// project's own Go types and validators.
func checkProvenance(t *testing.T, b *Bundle) *slsa.Provenance {
	t.Helper()
	raw, ok := b.File(ProvenanceFile)
	if !ok {
		t.Fatal("no provenance")
	}
	var st intoto.Statement
	if err := (protojson.UnmarshalOptions{}).Unmarshal(raw, &st); err != nil {
		t.Fatalf("provenance is not an in-toto statement: %v", err)
	}
	must(t, st.Validate())
	if st.GetType() != intoto.StatementTypeUri || st.GetPredicateType() != ProvenancePredicateType {
		t.Fatalf("_type %q predicateType %q", st.GetType(), st.GetPredicateType())
	}
	pred, err := protojson.Marshal(st.GetPredicate())
	must(t, err)
	var p slsa.Provenance
	if err := protojson.Unmarshal(pred, &p); err != nil {
		t.Fatalf("predicate is not SLSA provenance v1: %v", err)
	}
	must(t, p.Validate())
	for _, s := range st.GetSubject() {
		data, ok := b.File(s.GetName())
		if !ok || s.GetDigest()["sha256"] != sha256Hex(data) {
			t.Fatalf("provenance subject %s does not match the payload", s.GetName())
		}
	}
	return &p
}

func TestSBOMAndProvenanceFakeGo(t *testing.T) {
	schema := cyclonedxSchema(t)
	acme := newPublisher(t, "Acme")
	dir := writePlugin(t, acme, "demo", "1.0.0", fakeGoWasm())
	must(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/hello\n"), 0o644))
	b := packSigned(t, dir, acme)
	sbom := checkSBOM(t, schema, b)
	raw, _ := b.File(SBOMFile)
	for _, want := range []string{`"pkg:golang/golang.org/x/text@v0.3.8"`, `"h1:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ="`, `"pkg:golang/std@go1.26.8"`, `"assets/readme.txt"`} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("SBOM lacks %s", want)
		}
	}
	if sbom["serialNumber"] == "" {
		t.Error("no serial number")
	}
	p := checkProvenance(t, b)
	ext := p.GetBuildDefinition().GetExternalParameters().AsMap()
	if cmd, _ := ext["command"].(string); !strings.Contains(cmd, "CGO_ENABLED=0 GOARCH=wasm GOOS=wasip1 go build -buildmode=c-shared -trimpath -o plugin.wasm .") {
		t.Errorf("reconstructed command %q", cmd)
	}
	var rev, src bool
	for _, d := range p.GetBuildDefinition().GetResolvedDependencies() {
		rev = rev || d.GetDigest()["gitCommit"] == "0123456789abcdef0123456789abcdef01234567"
		src = src || (d.GetName() == "source" && len(d.GetDigest()["sha256"]) == 64)
	}
	if !rev || !src {
		t.Errorf("provenance lacks the VCS revision (%v) or source digest (%v)", rev, src)
	}
	if p.GetRunDetails().GetBuilder().GetId() != BuilderID {
		t.Errorf("builder %q", p.GetRunDetails().GetBuilder().GetId())
	}
}

func TestSBOMAndProvenancePrebuilt(t *testing.T) {
	acme := newPublisher(t, "Acme")
	b := packSigned(t, writePlugin(t, acme, "demo", "1.0.0", tinyWasm), acme)
	checkSBOM(t, cyclonedxSchema(t), b)
	p := checkProvenance(t, b)
	if p.GetBuildDefinition().GetBuildType() != BuildTypePrebuilt {
		t.Errorf("build type %q", p.GetBuildDefinition().GetBuildType())
	}
}

// TestPackBuildsRealGoPlugin builds a real Go wasip1 reactor with pack's
// --build path and checks the build information read back from the binary.
func TestPackBuildsRealGoPlugin(t *testing.T) {
	_, err := exec.LookPath("go")
	testenv.Need(t, "a go toolchain on PATH", err)
	acme := newPublisher(t, "Acme")
	dir := writePlugin(t, acme, "demo", "1.0.0", nil)
	must(t, os.Remove(filepath.Join(dir, "plugin.wasm")))
	must(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/demo\n\ngo 1.24\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\n//go:wasmexport add\nfunc add(a, b int32) int32 { return a + b }\n\nfunc main() {}\n"), 0o644))
	b, err := Pack(ctx, dir, PackOptions{Build: true, Include: []string{"assets/readme.txt"}})
	if err != nil {
		t.Fatalf("pack --build: %v", err)
	}
	entry, _ := b.File("plugin.wasm")
	bi := readGoBuildInfo(entry)
	if bi == nil || bi.Main.Path != "example.com/demo" || setting(bi, "GOOS") != "wasip1" || !strings.HasPrefix(bi.GoVersion, "go1.") {
		t.Fatalf("build info from the wasm: %+v", bi)
	}
	checkSBOM(t, cyclonedxSchema(t), b)
	p := checkProvenance(t, b)
	ext := p.GetBuildDefinition().GetExternalParameters().AsMap()
	if ext["command"] != "GOOS=wasip1 GOARCH=wasm go build -trimpath -buildmode=c-shared -o plugin.wasm ." || ext["commandReconstructed"] != false {
		t.Fatalf("command %v reconstructed %v", ext["command"], ext["commandReconstructed"])
	}
	// Building again from the same source gives the same bundle (-trimpath),
	// whatever entry was left there: pack --build never ships a stale one
	// (issue 12: an author packed, signed and shipped old code).
	must(t, os.WriteFile(filepath.Join(dir, "plugin.wasm"), []byte("\x00asm\x01\x00\x00\x00stale"), 0o644))
	b2, err := Pack(ctx, dir, PackOptions{Build: true, Include: []string{"assets/readme.txt"}})
	must(t, err)
	if !bytes.Equal(encode(t, b), encode(t, b2)) {
		t.Fatal("rebuilding from the same source gave another bundle")
	}
}
