package resource

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestKindsSortedAndComplete(t *testing.T) {
	if !slices.IsSorted(Kinds) {
		t.Fatalf("Kinds not sorted: %v", Kinds)
	}
	if len(Kinds) != len(actions) {
		t.Fatalf("Kinds has %d entries, actions %d", len(Kinds), len(actions))
	}
	for _, k := range Kinds {
		got, err := ParseKind(string(k))
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %q, %v", k, got, err)
		}
		if a := Actions(k); len(a) == 0 || !slices.IsSorted(a) {
			t.Errorf("Actions(%s) = %v: want non-empty and sorted", k, a)
		}
	}
}

func TestParseKindUnknown(t *testing.T) {
	for _, s := range []string{"", "File", "FILESYSTEM", "fs", "network"} {
		_, err := ParseKind(s)
		if !errors.Is(err, ErrUnknownKind) || !strings.Contains(err.Error(), "filesystem, kv, net") {
			t.Errorf("ParseKind(%q) error = %v; want ErrUnknownKind listing the kinds", s, err)
		}
	}
}

func TestActionsTable(t *testing.T) {
	want := map[Kind]string{
		Filesystem: "delete list read write",
		Net:        "delete get head patch post put",
		Clipboard:  "read write",
		Env:        "read",
		Process:    "spawn",
		Plugin:     "call",
		KV:         "delete list read write",
		Secret:     "read",
	}
	for k, w := range want {
		if got := strings.Join(Actions(k), " "); got != w {
			t.Errorf("Actions(%s) = %q, want %q", k, got, w)
		}
	}
	if Actions("nope") != nil {
		t.Error("Actions of unknown kind should be nil")
	}
	a := Actions(Filesystem)
	a[0] = "mutated"
	if Actions(Filesystem)[0] != "delete" {
		t.Error("Actions must return a copy")
	}
}

func TestValidAction(t *testing.T) {
	cases := []struct {
		k    Kind
		a    string
		want bool
	}{
		{Filesystem, "read", true}, {Filesystem, "READ", false}, {Filesystem, "spawn", false},
		{Net, "get", true}, {Net, "GET", false}, {Net, "options", false}, {Net, "connect", false},
		{Clipboard, "write", true}, {Env, "write", false}, {Process, "spawn", true},
		{Plugin, "call", true}, {KV, "list", true}, {Secret, "write", false}, {"bogus", "read", false},
	}
	for _, c := range cases {
		if got := ValidAction(c.k, c.a); got != c.want {
			t.Errorf("ValidAction(%s, %q) = %v", c.k, c.a, got)
		}
	}
}

func TestCheckActions(t *testing.T) {
	cases := []struct {
		k       Kind
		acts    []string
		wantSub string // "" means no error
	}{
		{Filesystem, []string{"read", "write"}, ""},
		{Filesystem, nil, "no actions"},
		{Filesystem, []string{}, "no actions"},
		{Filesystem, []string{"read", "exec"}, `"exec" for filesystem (actions[1]); valid actions are delete, list, read, write`},
		{Filesystem, []string{"read", "read"}, `"read" is listed twice`},
		{Net, []string{"get", "POST"}, `"POST"`},
		{"bogus", []string{"read"}, "unknown resource kind"},
	}
	for _, c := range cases {
		err := CheckActions(c.k, c.acts)
		if c.wantSub == "" {
			if err != nil {
				t.Errorf("CheckActions(%s, %v) = %v", c.k, c.acts, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidAction) || !strings.Contains(err.Error(), c.wantSub) {
			t.Errorf("CheckActions(%s, %v) = %v; want ErrInvalidAction containing %q", c.k, c.acts, err, c.wantSub)
		}
	}
}

func TestActionsSubset(t *testing.T) {
	cases := []struct {
		child, parent []string
		want          bool
	}{
		{nil, nil, true},
		{nil, []string{"read"}, true},
		{[]string{"read"}, []string{"read", "write"}, true},
		{[]string{"write", "read"}, []string{"read", "write"}, true},
		{[]string{"delete"}, []string{"read", "write"}, false},
		{[]string{"read"}, nil, false},
	}
	for _, c := range cases {
		if got := ActionsSubset(c.child, c.parent); got != c.want {
			t.Errorf("ActionsSubset(%v, %v) = %v", c.child, c.parent, got)
		}
	}
}
