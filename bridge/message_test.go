package bridge

import (
	"errors"
	"fmt"
	"testing"
)

func TestMessage(t *testing.T) {
	for in, want := range map[string]string{
		"bridge: no wallet on this device":                                             "no wallet on this device",
		"bridge: cannot reach the server: failed to WebSocket dial: dial tcp: refused": "cannot reach the server: dial tcp: refused",
		"mpc: refresh: round 2: wire: bad frame (codec: short)":                        "refresh: round 2: bad frame (short)",
		"the password is wrong":                                                        "the password is wrong",
		"bridgework: x":                                                                "bridgework: x",
	} {
		if got := Message(errors.New(in)); got != want {
			t.Errorf("Message(%q) = %q, want %q", in, got, want)
		}
	}
	wrapped := fmt.Errorf("bridge: stored share: %w", errors.New("mpc: short"))
	if got := Message(wrapped); got != "stored share: short" {
		t.Errorf("Message(wrapped) = %q", got)
	}
}
