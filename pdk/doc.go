// Package pdk is the guest SDK for warden plugins written in Go.
//
// A plugin is an ordinary Go program built by the stock toolchain as a WASI
// preview 1 reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .
//
// The host calls the exported _initialize once (that runs package init
// functions, never main), then calls the tool export once per invocation. So a
// plugin registers its tools in an init function and keeps an empty main:
//
//	func init() {
//		pdk.Tool("greet", func(ctx context.Context, in Input) (Output, error) {
//			return Output{Message: "hello, " + in.Name}, nil
//		})
//	}
//
//	func main() {}
//
// # Talking to the host
//
// Everything a plugin may do outside its own memory goes through one host
// import, warden.call, which carries a method name and JSON params to warden's
// gate; the gate checks the capability tokens of the instance, asks the policy
// and writes an audit event. The facades [FS], [KV] and [Log] wrap the methods
// of the host API in typed Go calls; [Call] reaches any method by name.
// Ordinary file calls (os.ReadFile, os.WriteFile, os.ReadDir) work too on
// granted paths: the host's WASI filesystem sends them through the same gate.
//
// A plugin that needs a narrower or additional capability than it was started
// with asks for it with [RequestCapability] and uses the returned
// [Capability]'s facades, which present that token and no other.
//
// # Errors
//
// A refusal or failure from the host arrives as an *[Error] carrying a stable
// [Code]. Branch with errors.Is(err, pdk.ErrDenied) or pdk.CodeOf(err). A tool
// returns an *Error to give its caller a stable code of its own; any other error
// reaches the caller with the code "tool_error".
//
// # Off wasm
//
// The package builds natively too so that a plugin's logic can be unit tested
// with go test: tool registration and dispatch work, and every host call fails
// with [ErrNoHost].
//
// The wire format (imports, exports, envelopes) is specified in warden's
// docs/abi.md; this package is one implementation of it and has no
// dependencies beyond the standard library.
package pdk
