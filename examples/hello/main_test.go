package main

import (
	"context"
	"testing"

	"github.com/wardenproject/warden/pdk"
)

func TestGreet(t *testing.T) {
	out, err := pdk.Invoke(context.Background(), "greet", []byte(`{"name":"Ada"}`))
	if err != nil || string(out) != `{"message":"Hello, Ada!"}` {
		t.Fatalf("greet: %s %v", out, err)
	}
	if _, err := pdk.Invoke(context.Background(), "greet", []byte(`{"name":" "}`)); pdk.CodeOf(err) != pdk.CodeInvalidParams {
		t.Fatalf("empty name: %v", err)
	}
}
