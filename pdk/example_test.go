package pdk_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/wardenproject/warden/pdk"
)

type GreetInput struct {
	Name string `json:"name"`
}

type GreetOutput struct {
	Message string `json:"message"`
}

// A tool is a typed Go function registered by name. In a plugin the
// registration sits in an init function and main is empty; pdk.Invoke runs a
// tool the way the host does, which is how a plugin's tools are unit tested.
func ExampleTool() {
	pdk.Tool("greet", func(ctx context.Context, in GreetInput) (GreetOutput, error) {
		if in.Name == "" {
			return GreetOutput{}, pdk.Errorf(pdk.CodeInvalidParams, "name is empty")
		}
		return GreetOutput{Message: "hello, " + in.Name}, nil
	})

	out, err := pdk.Invoke(context.Background(), "greet", []byte(`{"name":"Ada"}`))
	fmt.Println(string(out), err)
	_, err = pdk.Invoke(context.Background(), "greet", []byte(`{}`))
	fmt.Println(pdk.CodeOf(err))
	// Output:
	// {"message":"hello, Ada"} <nil>
	// invalid_params
}

// Reading a file through the typed facade. Off wasm (as here, under go test)
// every host call fails with ErrNoHost; under warden a path outside the
// plugin's grants fails with ErrDenied.
func ExampleFS() {
	data, err := pdk.FS().Read("/home/u/Documents/notes.txt")
	switch {
	case errors.Is(err, pdk.ErrDenied):
		fmt.Println("not granted")
	case err != nil:
		fmt.Println(pdk.CodeOf(err))
	default:
		fmt.Println(len(data))
	}
	// Output: no_host
}

// Plain os calls work on granted paths too: the host's WASI filesystem sends
// them through the same gate as FS().Read.
func Example_osFiles() {
	const dir = "/home/u/Documents/Spreadsheets"
	if b, err := os.ReadFile(dir + "/budget.csv"); err == nil {
		_ = os.WriteFile(dir+"/budget-copy.csv", b, 0o644)
	}
}

// Asking for a narrower capability and writing through it: calls made with
// c.FS() present that token only, so they can never reach further than it.
func ExampleRequestCapability() {
	c, err := pdk.RequestCapability("filesystem:/home/u/Documents/Spreadsheets/**", "write")
	if err != nil {
		fmt.Println("no capability:", pdk.CodeOf(err))
		return
	}
	err = c.FS().Write("/home/u/Documents/Spreadsheets/q3.csv", []byte("month,total\n"))
	fmt.Println(err)
	// Output: no capability: no_host
}

func ExampleKV() {
	if err := pdk.KV().Set("last-run", []byte("2025-01-01")); err != nil {
		fmt.Println(pdk.CodeOf(err))
	}
	// Output: no_host
}
