package mpc

import (
	"crypto/rand"
	"errors"
	"sync"
	"testing"
)

// starter begins one party's run.
type starter func(cfg Config) (Round, *Message, error)

// tamperFn may change a message in flight; it sees every message of both
// parties, and returns the message to deliver.
type tamperFn func(m *Message) *Message

// pairConfigs returns the two parties' configs for a fresh session.
func pairConfigs(t testing.TB, protocol string) (Config, Config) {
	t.Helper()
	n1, n2 := make([]byte, 32), make([]byte, 32)
	rand.Read(n1)
	rand.Read(n2)
	sid := NewSessionID(protocol, "wallet-1", 0, Device, n1, Server, n2)
	return Config{Self: Device, Peer: Server, SessionID: sid, Rand: rand.Reader},
		Config{Self: Server, Peer: Device, SessionID: sid, Rand: rand.Reader}
}

// runPair drives two parties whose rounds both send one message per round,
// delivering each message through tamper. It returns each party's output or
// error; a party that failed stops.
func runPair(startA, startB func() (Round, *Message, error), tamper tamperFn) (outA, outB any, errA, errB error) {
	var rA, rB Round
	var mA, mB *Message
	var wg sync.WaitGroup
	wg.Go(func() { rA, mA, errA = startA() })
	wg.Go(func() { rB, mB, errB = startB() })
	wg.Wait()
	if errA != nil || errB != nil {
		return nil, nil, errA, errB
	}
	for {
		doneA, okA := rA.(*Done)
		doneB, okB := rB.(*Done)
		if okA && okB {
			return doneA.Output, doneB.Output, nil, nil
		}
		if tamper != nil {
			if mA != nil {
				mA = tamper(mA)
			}
			if mB != nil {
				mB = tamper(mB)
			}
		}
		// The parties work at the same time, as on two machines.
		var nA, nB Round
		var oA, oB *Message
		var wg sync.WaitGroup
		if !okA {
			wg.Go(func() { nA, oA, errA = rA.Receive(mB) })
		}
		if !okB {
			wg.Go(func() { nB, oB, errB = rB.Receive(mA) })
		}
		wg.Wait()
		if errA != nil || errB != nil {
			return nil, nil, errA, errB
		}
		if !okA {
			rA, mA = nA, oA
		}
		if !okB {
			rB, mB = nB, oB
		}
		if okA {
			mA = nil
		}
		if okB {
			mB = nil
		}
		if mA == nil && mB == nil {
			_, dA := rA.(*Done)
			_, dB := rB.(*Done)
			if !dA || !dB {
				return nil, nil, errors.New("stalled"), errors.New("stalled")
			}
		}
	}
}

// expectAbort checks that err is an *AbortError blaming culprit whose check
// mentions want.
func expectAbort(t *testing.T, err error, culprit PartyID, want string) {
	t.Helper()
	var abort *AbortError
	if !errors.As(err, &abort) {
		t.Fatalf("want an abort naming %q, got %v", culprit, err)
	}
	if abort.Culprit != culprit {
		t.Fatalf("abort blames %q, want %q: %v", abort.Culprit, culprit, err)
	}
	if want != "" && !contains(abort.Check, want) {
		t.Fatalf("abort check %q does not mention %q: %v", abort.Check, want, err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// keygenPair runs keygen between device and server.
func keygenPair(t testing.TB) (*KeyShare, *KeyShare) {
	t.Helper()
	a, b := pairConfigs(t, ProtocolKeygen)
	outA, outB, errA, errB := runPair(func() (Round, *Message, error) { return Keygen(a) },
		func() (Round, *Message, error) { return Keygen(b) }, nil)
	if errA != nil || errB != nil {
		t.Fatalf("keygen: %v / %v", errA, errB)
	}
	return outA.(*KeyShare), outB.(*KeyShare)
}
