// Command hello is the smallest warden plugin: one tool, greet, that needs no
// capability at all.
//
// Build it with the stock Go toolchain:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .
package main

import (
	"context"
	"strings"

	"github.com/wardenproject/warden/pdk"
)

// Input matches the greet tool's input_schema in manifest.json.
type Input struct {
	Name string `json:"name"`
}

// Output is the greet tool's result.
type Output struct {
	Message string `json:"message"`
}

func greet(_ context.Context, in Input) (Output, error) {
	name := strings.TrimSpace(in.Name)
	if name == "" {
		return Output{}, pdk.Errorf(pdk.CodeInvalidParams, "name is empty; pass {\"name\": \"Ada\"}")
	}
	return Output{Message: "Hello, " + name + "!"}, nil
}

// Tools are registered in init: the host runs package initialisation once
// (the reactor's _initialize) and never calls main.
func init() {
	pdk.Tool("greet", greet)
}

func main() {}
