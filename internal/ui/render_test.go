package ui

import "testing"

// Lifetimes from the API are shown as the forms take them.
func TestLifetime(t *testing.T) {
	for in, want := range map[string]string{
		"720h0m0s": "30d", "24h0m0s": "1d", "36h0m0s": "36h", "15m0s": "15m",
		"1h30m0s": "1h30m", "10s": "10s", "0s": "0s", "forever": "forever",
	} {
		if got := lifetime(in); got != want {
			t.Errorf("lifetime(%q) = %q, want %q", in, got, want)
		}
	}
}
