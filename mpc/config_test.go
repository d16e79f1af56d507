package mpc

import (
	"crypto/rand"
	"strings"
	"testing"
)

// Every protocol starts by checking its Config; each field's check refuses
// on its own, at one past its bound, and the bound itself is accepted.
func TestConfigValidation(t *testing.T) {
	sid := make([]byte, 32)
	long := PartyID(strings.Repeat("p", maxPartyID))
	good := Config{Self: Device, Peer: Server, SessionID: sid, Rand: rand.Reader}
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"empty self", func(c *Config) { c.Self = "" }, "party ids"},
		{"empty peer", func(c *Config) { c.Peer = "" }, "party ids"},
		{"self is peer", func(c *Config) { c.Peer = c.Self }, "party ids"},
		{"self too long", func(c *Config) { c.Self = long + "x" }, "party ids"},
		{"peer too long", func(c *Config) { c.Peer = long + "x" }, "party ids"},
		{"short session id", func(c *Config) { c.SessionID = sid[:31] }, "session id"},
		{"long session id", func(c *Config) { c.SessionID = append(sid, 0) }, "session id"},
		{"no randomness", func(c *Config) { c.Rand = nil }, "randomness"},
		{"longest ids", func(c *Config) { c.Self, c.Peer = long, long[1:]+"q" }, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := good
			c.edit(&cfg)
			err := cfg.validate()
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error about %s", err, c.want)
			}
			// The same refusal comes from every protocol's start.
			if _, _, err := Keygen(cfg); err == nil {
				t.Fatal("Keygen started with a bad config")
			}
		})
	}
}

// A round handed no message at all aborts naming the peer, at every round
// of every protocol that checks its envelope.
func TestNilMessageAborts(t *testing.T) {
	start := func() (Round, *Message) {
		t.Helper()
		a, b := pairConfigs(t, ProtocolKeygen)
		rA, _, err := Keygen(a)
		if err != nil {
			t.Fatal(err)
		}
		_, mB, err := Keygen(b)
		if err != nil {
			t.Fatal(err)
		}
		return rA, mB
	}
	r1, _ := start()
	_, _, err := r1.Receive(nil)
	expectCheck(t, err, Server, 1, "message presence")
	// Round 2 and on go through the same envelope check.
	r1, m := start()
	r2, _, err := r1.Receive(m)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = r2.Receive(nil)
	expectCheck(t, err, Server, 2, "message presence")
}
