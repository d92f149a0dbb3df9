package consent

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

var req = Request{
	Plugin: "demo", Version: "1.0.0", Publisher: "Acme", Risk: 12, Band: "low",
	Items: []Item{
		{Resource: "kv:cache-*", Actions: []string{"read"}, Reason: "Caches.", Risk: 0},
		{Resource: "clipboard", Actions: []string{"write"}, Reason: "Copies\x1b[2J\r\nforged line", Risk: 2},
		{Resource: "net:https://api.example.com/*", Actions: []string{"get"}, Reason: "", Risk: 10},
	},
}

func TestKeys(t *testing.T) {
	cases := []struct {
		keys string
		want []int
		err  error
	}{
		{"a", []int{0, 1, 2}, nil},
		{"13\r", []int{0, 2}, nil},
		{"jx\r", []int{1}, nil},            // move down, toggle with x
		{"\x1b[B\x1b[B \r", []int{2}, nil}, // arrows
		{"11\r", nil, ErrRefused},          // toggled off again: nothing selected
		{"q", nil, ErrRefused},
		{"2\x03", nil, ErrInterrupted},
		{"2", nil, ErrInterrupted}, // end of input
		{"9z\x04", nil, ErrInterrupted},
	}
	for _, c := range cases {
		var out bytes.Buffer
		d, err := New(strings.NewReader(c.keys), &out).Ask(context.Background(), req)
		if !errors.Is(err, c.err) || !slices.Equal(d.Accepted, c.want) {
			t.Errorf("keys %q: %v %v, want %v %v", c.keys, d.Accepted, err, c.want, c.err)
		}
	}
}

// TestReasonCannotDrawOnTheScreen: an author's reason with escape sequences
// and line breaks is shown as plain text.
func TestReasonCannotDrawOnTheScreen(t *testing.T) {
	var out bytes.Buffer
	New(strings.NewReader("r"), &out).Ask(context.Background(), req)
	s := out.String()
	if strings.Count(s, "\x1b[2J") != strings.Count(s, "\x1b[H\x1b[2J") {
		t.Fatal("a reason cleared the screen")
	}
	if strings.Contains(s, "\r\nforged line") {
		t.Fatal("a reason started a new line")
	}
	if !strings.Contains(s, "(the author gave no reason)") || !strings.Contains(s, "(risk +10)") {
		t.Fatalf("screen lacks the reason placeholder or risk:\n%s", s)
	}
}
