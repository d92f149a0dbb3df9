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

// A long reason wraps under itself, not at the terminal's edge; the risk
// notes appear under the score; the legend says what Enter and Ctrl-C do.
func TestScreenLayout(t *testing.T) {
	long := Request{
		Plugin: "demo", Version: "1.0.0", Publisher: "Acme", Risk: 33, Band: "medium",
		Notes: []string{"+20 can read local data (permission 1) and reach the network (permission 2): the exfiltration shape"},
		Items: []Item{{Resource: "filesystem:~/Notes", Actions: []string{"read"}, Risk: 3,
			Reason: strings.Repeat("Reads the notes you keep so that it can answer. ", 4)}},
	}
	var out bytes.Buffer
	New(strings.NewReader("r"), &out).Ask(context.Background(), long)
	screen := out.String()
	for _, line := range strings.Split(screen, "\r\n") {
		if n := len([]rune(line)); n > 80 && !strings.HasPrefix(line, "\x1b[") {
			t.Errorf("line of %d runes is wider than the 80-column default: %q", n, line)
		}
	}
	for _, want := range []string{
		"         why: Reads the notes you keep so that it can answer. Reads the notes\r\n              you keep so that it can answer.",
		"  Risk score 33/100 (medium)\r\n    ! +20 can read local data (permission 1) and reach the network (permission\r\n      2): the exfiltration shape\r\n",
		"Enter install with the [x] permissions (none marked: refuse)",
		"r refuse · Ctrl-C cancel · both install nothing",
	} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}
}

// Bidirectional controls in a reason cannot reorder what the person reads.
func TestReasonBidiStripped(t *testing.T) {
	r := req
	r.Items = []Item{{Resource: "clipboard", Actions: []string{"read"}, Reason: "safe \u202ekcatta\u202c \u2066x\u2069 \u200fend"}}
	var out bytes.Buffer
	New(strings.NewReader("r"), &out).Ask(context.Background(), r)
	if !strings.Contains(out.String(), "why: safe kcatta x end") {
		t.Fatalf("bidi controls survived or text lost:\n%q", out.String())
	}
}

func TestWrap(t *testing.T) {
	for _, c := range []struct {
		in    string
		width int
		want  []string
	}{
		{"", 30, []string{""}},
		{"one two three", 30, []string{"one two three"}},
		{"aaaa bbbb cccc dddd eeee ffff", 20, []string{"aaaa bbbb cccc dddd", "eeee ffff"}},
		{strings.Repeat("x", 25) + " y", 20, []string{strings.Repeat("x", 25), "y"}},
	} {
		if got := wrap(c.in, c.width); !slices.Equal(got, c.want) {
			t.Errorf("wrap(%q, %d) = %q, want %q", c.in, c.width, got, c.want)
		}
	}
}

// Grants that exist before the screen are lines of their own: a marked one
// is kept by Enter, clearing it removes it, one given for no publisher starts
// cleared, and the removed ones are listed. Their text cannot draw either.
func TestExistingGrants(t *testing.T) {
	withGrants := Request{
		Plugin: "demo", Version: "1.0.0", Publisher: "Acme", Risk: 2, Band: "low",
		Items: []Item{
			{Resource: "clipboard", Actions: []string{"write"}, Reason: "Copies.", Risk: 2},
			{Resource: "kv:cache-today", Actions: []string{"read"}, Existing: "your grant 7, given before install for this publisher's key", Selected: true},
			{Resource: "kv:old", Actions: []string{"read"}, Existing: "your grant 8, given before install for no publisher\x1b[2J"},
		},
		Removed: []Item{{Resource: "net:https://x.example/*", Actions: []string{"get"}, Existing: "your grant 9"}},
	}
	cases := []struct {
		keys string
		want []int
		err  error
	}{
		{"\r", []int{1}, nil},          // the marked grant alone: installs, keeping it
		{"1\r", []int{0, 1}, nil},      // a permission and the marked grant
		{"12\r", []int{0}, nil},        // the grant cleared: removed
		{"13\r", []int{0, 1, 2}, nil},  // the unmarked grant kept
		{"2\r", nil, ErrRefused},       // nothing marked at all
		{"a", []int{0, 1, 2}, nil},     // everything
		{"1\x03", nil, ErrInterrupted}, // Ctrl-C still installs nothing
		{"r", nil, ErrRefused},
	}
	for _, c := range cases {
		var out bytes.Buffer
		d, err := New(strings.NewReader(c.keys), &out).Ask(context.Background(), withGrants)
		if !errors.Is(err, c.err) || !slices.Equal(d.Accepted, c.want) {
			t.Errorf("keys %q: %v %v, want %v %v", c.keys, d.Accepted, err, c.want, c.err)
		}
	}
	var out bytes.Buffer
	New(strings.NewReader("r"), &out).Ask(context.Background(), withGrants)
	screen := out.String()
	for _, want := range []string{
		"It asks for 1 permission:\r\n",
		"Grants that exist already (2); a cleared one is removed:\r\n [x] 2  kv:cache-today  read  (existing grant)\r\n        note: your grant 7, given before install for this publisher's key\r\n",
		" [ ] 3  kv:old  read  (existing grant)\r\n        note: your grant 8, given before install for no publisher[2J\r\n",
		"Grants removed, outside what this version declares (1):\r\n   -    net:https://x.example/*  get\r\n        note: your grant 9\r\n",
		"an existing grant left cleared is removed",
	} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}
	if strings.Count(screen, "\x1b[2J") != strings.Count(screen, "\x1b[H\x1b[2J") {
		t.Fatal("an existing grant's text cleared the screen")
	}

	// An upgrade that asks nothing new: Enter installs, with or without the
	// kept grants.
	upgrade := Request{Plugin: "demo", Version: "2.0.0", Items: []Item{
		{Resource: "kv:cache-*", Actions: []string{"read"}, Existing: "granted at install of 1.0.0", Selected: true},
	}}
	for keys, want := range map[string][]int{"\r": {0}, "1\r": nil} {
		var out bytes.Buffer
		d, err := New(strings.NewReader(keys), &out).Ask(context.Background(), upgrade)
		if err != nil || !slices.Equal(d.Accepted, want) {
			t.Errorf("upgrade keys %q: %v %v, want %v", keys, d.Accepted, err, want)
		}
		if !strings.Contains(out.String(), "It asks for no new permissions.") {
			t.Errorf("upgrade screen:\n%s", out.String())
		}
	}
}
