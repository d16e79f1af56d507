// Package mpc is two-party threshold ECDSA on secp256k1 after Canetti,
// Gennaro, Goldfeder, Makriyannis and Peled, "UC Non-Interactive, Proactive,
// Threshold ECDSA with Identifiable Aborts" (CGGMP21), for exactly two
// parties holding additive shares x = x₁ + x₂.
//
// Every protocol is a chain of rounds with no I/O: a run starts with a first
// message to send, and each Receive takes the peer's message for the current
// round, checks it without side effects, and returns the next round and the
// message to send, or the output. The device (in the browser) and the server
// drive the same code over their own transport. A failed check returns an
// *AbortError naming the peer and the check.
package mpc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/mpc/hash"
)

// PartyID names a party. The two parties of a run must have distinct ids.
type PartyID string

const maxPartyID = 64

// Party ids used by Duet.
const (
	Device PartyID = "device"
	Server PartyID = "server"
)

// Protocol names, also used in session ids and message envelopes.
const (
	ProtocolKeygen  = "keygen"
	ProtocolRefresh = "refresh"
	ProtocolPresign = "presign"
	ProtocolSign    = "sign"
)

// Message is one protocol message from one party to the other.
type Message struct {
	SessionID []byte
	Protocol  string
	Round     uint8
	From      PartyID
	Payload   []byte
}

const messageVersion = 1

// Caps on message fields, so a peer cannot make us allocate without bound.
const (
	MaxPayload  = 1 << 20
	maxProtocol = 32
)

// MarshalBinary encodes the envelope canonically.
func (m *Message) MarshalBinary() ([]byte, error) {
	e := codec.NewEncoder(len(m.Payload) + 128)
	e.Uint8(messageVersion).VarBytes(m.SessionID).VarBytes([]byte(m.Protocol)).
		Uint8(m.Round).VarBytes([]byte(m.From)).VarBytes(m.Payload)
	return e.Bytes(), nil
}

// ErrMessage is returned for an envelope that does not decode.
var ErrMessage = errors.New("mpc: malformed message")

// UnmarshalBinary decodes an envelope strictly.
func (m *Message) UnmarshalBinary(b []byte) error {
	d := codec.NewDecoder(b)
	if v := d.Uint8(); d.Err() == nil && v != messageVersion {
		return fmt.Errorf("%w: unknown version %d", ErrMessage, v)
	}
	m.SessionID = d.VarBytes(hash.DigestSize)
	m.Protocol = string(d.VarBytes(maxProtocol))
	m.Round = d.Uint8()
	m.From = PartyID(d.VarBytes(maxPartyID))
	m.Payload = d.VarBytes(MaxPayload)
	if err := d.Finish(); err != nil {
		return fmt.Errorf("%w: %v", ErrMessage, err)
	}
	return nil
}

// Round is a protocol state waiting for the peer's message of its round.
type Round interface {
	// Receive checks the peer's message and returns the next round together
	// with the message to send (nil when there is none). The last round
	// returns a *Done. On error the run is over: nothing is to be retried.
	Receive(msg *Message) (Round, *Message, error)
}

// Done is the final state of a run; Output holds the protocol's result.
type Done struct {
	Output any
}

// Receive on a finished run is an error.
func (d *Done) Receive(*Message) (Round, *Message, error) {
	return nil, nil, fmt.Errorf("%w: the run is already finished", ErrRoundSpent)
}

// ErrRoundSpent is returned by a second Receive on a round, or a Receive
// after the run finished. A round answers once: answering again from the
// same secrets to a different message would hand the peer a second equation
// in them (two δ's for one γ give γ·k). It is a driver's bug, never the
// peer's, so nothing is sent.
var ErrRoundSpent = errors.New("mpc: internal error: round already received its message")

// once makes a round single-use: its first Receive takes it, whatever the
// outcome, and any later one fails with ErrRoundSpent.
type once struct{ used atomic.Bool }

func (o *once) take(h *header, round int) error {
	if o.used.Swap(true) {
		return fmt.Errorf("%w (%s round %d)", ErrRoundSpent, h.protocol, round)
	}
	return nil
}

// AbortError reports a failed check and names the party to blame. Error()
// is for our own log; PeerMessage is all the peer may be told.
type AbortError struct {
	Culprit  PartyID
	Protocol string
	Round    int
	Check    string
	Err      error
	// Secret marks a step in which some check depends on a value we
	// decrypted or derived from our secrets. Which of that step's checks
	// failed would tell the peer something about those secrets, so the peer
	// is told only that the step aborted (docs/ARCHITECTURE.md §3).
	Secret bool
}

// PeerMessage is the abort as the peer may see it: the protocol, the round
// and the culprit always, the check only where the step's checks are all on
// public values. It is the only description of an abort sent to a peer.
func (e *AbortError) PeerMessage() string {
	if e.Secret {
		return fmt.Sprintf("%s round %d: party %q aborted the run", e.Protocol, e.Round, e.Culprit)
	}
	return fmt.Sprintf("%s round %d: party %q failed %s", e.Protocol, e.Round, e.Culprit, e.Check)
}

func (e *AbortError) Error() string {
	s := fmt.Sprintf("mpc: %s round %d: party %q failed %s", e.Protocol, e.Round, e.Culprit, e.Check)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *AbortError) Unwrap() error { return e.Err }

// Config is what every run needs.
type Config struct {
	Self, Peer PartyID
	// SessionID is the run's sid, from NewSessionID over both parties' fresh
	// nonces.
	SessionID []byte
	// Rand is the source of all randomness (crypto/rand.Reader in production).
	Rand io.Reader
}

func (c *Config) validate() error {
	if c.Self == "" || c.Peer == "" || c.Self == c.Peer || len(c.Self) > maxPartyID || len(c.Peer) > maxPartyID {
		return errors.New("mpc: party ids must be distinct, non-empty and short")
	}
	if len(c.SessionID) != hash.DigestSize {
		return errors.New("mpc: session id must be 32 bytes")
	}
	if c.Rand == nil {
		return errors.New("mpc: no randomness source")
	}
	return nil
}

// NewSessionID derives a run's sid from the protocol, the wallet, its
// generation, both party ids and a fresh 32-byte nonce from each party, so
// that no message of one run is accepted in another.
func NewSessionID(protocol, walletID string, generation uint64, a PartyID, nonceA []byte, b PartyID, nonceB []byte) []byte {
	// Order the parties so both sides derive the same id.
	if bytes.Compare([]byte(a), []byte(b)) > 0 {
		a, b = b, a
		nonceA, nonceB = nonceB, nonceA
	}
	return hash.New("sid").String(protocol).String(walletID).Uint(generation).
		String(string(a)).String(string(b)).Bytes(nonceA).Bytes(nonceB).Digest()
}

// header checks the envelope of a peer message against the expected run and
// round; a failure blames the sender.
type header struct {
	cfg      *Config
	protocol string
}

func (h *header) abort(round int, check string, err error) *AbortError {
	return &AbortError{Culprit: h.cfg.Peer, Protocol: h.protocol, Round: round, Check: check, Err: err}
}

// abortSecret is abort for a step in which some check depends on a value we
// decrypted or derived from our secrets: the peer is told only that the step
// aborted (see AbortError.Secret).
func (h *header) abortSecret(round int, check string, err error) *AbortError {
	a := h.abort(round, check, err)
	a.Secret = true
	return a
}

func (h *header) check(msg *Message, round int) error {
	switch {
	case msg == nil:
		return h.abort(round, "message presence", errors.New("no message"))
	case msg.From != h.cfg.Peer:
		return h.abort(round, "sender", fmt.Errorf("message from %q", msg.From))
	case !bytes.Equal(msg.SessionID, h.cfg.SessionID):
		return h.abort(round, "session id", errors.New("message belongs to another session"))
	case msg.Protocol != h.protocol:
		return h.abort(round, "protocol", fmt.Errorf("message of protocol %q", msg.Protocol))
	case int(msg.Round) != round:
		return h.abort(round, "round", fmt.Errorf("message of round %d", msg.Round))
	}
	return nil
}

// commitment checks the round-1 message of a commit-then-open protocol: a
// 32-byte commitment that is not our own echoed back. It returns a copy.
func (h *header) commitment(msg *Message, own []byte) ([]byte, error) {
	if err := h.check(msg, 1); err != nil {
		return nil, err
	}
	if len(msg.Payload) != hash.DigestSize {
		return nil, h.abort(1, "commitment size", fmt.Errorf("%d bytes", len(msg.Payload)))
	}
	if bytes.Equal(msg.Payload, own) {
		return nil, h.abort(1, "commitment reflection", errors.New("peer echoed our commitment"))
	}
	return bytes.Clone(msg.Payload), nil
}

func (h *header) message(round int, payload []byte) *Message {
	return &Message{SessionID: h.cfg.SessionID, Protocol: h.protocol, Round: uint8(round), From: h.cfg.Self, Payload: payload}
}

// ordered returns (a, b) in the canonical party order, with the flag telling
// whether self is first.
func ordered(cfg *Config) (first, second PartyID, selfFirst bool) {
	if bytes.Compare([]byte(cfg.Self), []byte(cfg.Peer)) < 0 {
		return cfg.Self, cfg.Peer, true
	}
	return cfg.Peer, cfg.Self, false
}
