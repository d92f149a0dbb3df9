package main

import (
	"testing"

	"github.com/wardenproject/warden/pdk"
)

func TestRender(t *testing.T) {
	b, err := render([]string{"month", "total", "ok"}, [][]any{{"Jan", 12.5, true}, {"Feb, late", nil, false}})
	if err != nil {
		t.Fatal(err)
	}
	want := "month,total,ok\nJan,12.5,true\n\"Feb, late\",,false\n"
	if string(b) != want {
		t.Fatalf("got %q want %q", b, want)
	}
	if _, err := render(nil, [][]any{{map[string]any{}}}); pdk.CodeOf(err) != pdk.CodeInvalidParams {
		t.Fatalf("object cell: %v", err)
	}
}

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{"Q3 budget": "Q3 budget", "../../etc/passwd": "_.._etc_passwd", ".hidden": "hidden"} {
		if got, err := fileName(in); err != nil || got != want {
			t.Errorf("fileName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := fileName(" ... "); err == nil {
		t.Error("an empty name was accepted")
	}
}
