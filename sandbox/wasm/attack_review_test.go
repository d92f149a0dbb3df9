package wasm

// Attack tests added by the independent security review (docs/threat-model.md).

import (
	"context"
	"testing"
)

// TestReviewNoRouteOut: the exfiltration row's first line is "no sockets in
// WASM". A guest (testdata/wat/routes_out.wat) that tries every socket call WASI preview 1 offers, on every
// low descriptor, gets an error from each; it sees exactly one preopen (the
// capability filesystem's "/"), no environment and no arguments. (It cannot
// import anything else: TestCompileChecksDigestAndABI refuses foreign
// imports at compile time.)
func TestReviewNoRouteOut(t *testing.T) {
	inst := instantiate(t, compile(t, watModule(t, "routes_out")), InstanceConfig{})
	out, err := inst.Invoke(context.Background(), "probe", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), `"S00P01E00A00"`; got != want {
		t.Fatalf("routes out: %s, want %s (S: socket calls that succeeded, P: preopens, E: env vars, A: args)", got, want)
	}
}
