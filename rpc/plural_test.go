package rpc

import "testing"

// TestPluralOfEndpointNouns: the unknown-endpoint 404 said "known querys".
func TestPluralOfEndpointNouns(t *testing.T) {
	t.Parallel()
	for noun, want := range map[string]string{"query": "queries", "command": "commands", "thing": "things", "key": "keys", "y": "ys"} {
		if got := plural(noun); got != want {
			t.Errorf("plural(%q) = %q, want %q", noun, got, want)
		}
	}
}
