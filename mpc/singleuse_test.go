package mpc

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/cronokirby/saferith"

	"github.com/duetwallet/duet/mpc/curve"
	"github.com/duetwallet/duet/mpc/zk/sch"
)

// stepPair drives two parties in lock step like runPair, and after every
// Receive hands the same round the same message again: the second Receive
// must fail with ErrRoundSpent and send nothing. After each Receive the spent
// round must hold no secret either. It returns the outputs.
func stepPair(t *testing.T, startA, startB func() (Round, *Message, error)) (any, any) {
	t.Helper()
	rA, mA, err := startA()
	if err != nil {
		t.Fatal(err)
	}
	rB, mB, err := startB()
	if err != nil {
		t.Fatal(err)
	}
	receive := func(r Round, m *Message) (Round, *Message) {
		t.Helper()
		next, out, err := r.Receive(m)
		if err != nil {
			t.Fatalf("%T: %v", r, err)
		}
		again, out2, err := r.Receive(m)
		if !errors.Is(err, ErrRoundSpent) || again != nil || out2 != nil {
			t.Fatalf("%T: second Receive gave (%v, %v, %v), want ErrRoundSpent and nothing to send", r, again, out2, err)
		}
		if held := heldSecrets(r); len(held) > 0 {
			t.Fatalf("%T: spent round still holds %v", r, held)
		}
		return next, out
	}
	rounds := 0
	for {
		dA, okA := rA.(*Done)
		dB, okB := rB.(*Done)
		if okA && okB {
			for _, d := range []*Done{dA, dB} {
				if _, _, err := d.Receive(mA); !errors.Is(err, ErrRoundSpent) {
					t.Fatalf("Receive after the output: %v, want ErrRoundSpent", err)
				}
			}
			if rounds == 0 {
				t.Fatal("no round was played")
			}
			return dA.Output, dB.Output
		}
		nA, oA := receive(rA, mB)
		nB, oB := receive(rB, mA)
		rA, mA, rB, mB = nA, oA, nB, oB
		rounds++
	}
}

// heldSecrets lists the secret-typed fields (scalars, saferith numbers,
// Schnorr commitments) of a round, embedded structs included, that are not
// nil.
func heldSecrets(r Round) []string {
	var held []string
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		for i := 0; i < v.NumField(); i++ {
			f, sf := v.Field(i), v.Type().Field(i)
			switch f.Type() {
			case reflect.TypeFor[*curve.Scalar](), reflect.TypeFor[*saferith.Nat](), reflect.TypeFor[*saferith.Int](), reflect.TypeFor[*sch.Commitment]():
				if !f.IsNil() {
					held = append(held, path+sf.Name)
				}
				continue
			}
			if sf.Anonymous && f.Kind() == reflect.Struct {
				walk(f, path+sf.Name+".")
			}
		}
	}
	walk(reflect.ValueOf(r).Elem(), "")
	return held
}

func TestRoundsAreSingleUse(t *testing.T) {
	d0, s0 := keygenPair(t)
	t.Run("keygen", func(t *testing.T) {
		a, b := pairConfigs(t, ProtocolKeygen)
		stepPair(t, func() (Round, *Message, error) { return Keygen(a) }, func() (Round, *Message, error) { return Keygen(b) })
	})
	var d1, s1 *KeyShare
	t.Run("aux-info refresh", func(t *testing.T) {
		a, b := pairConfigs(t, ProtocolRefresh)
		outA, outB := stepPair(t,
			func() (Round, *Message, error) {
				return Refresh(RefreshConfig{Config: a, Share: d0, Primes: fixturePrimes(0)})
			},
			func() (Round, *Message, error) {
				return Refresh(RefreshConfig{Config: b, Share: s0, Primes: fixturePrimes(1)})
			})
		d1, s1 = outA.(*KeyShare), outB.(*KeyShare)
	})
	if d1 == nil {
		t.FailNow()
	}
	t.Run("backup-pair refresh", func(t *testing.T) {
		a, b := pairConfigs(t, ProtocolRefresh)
		stepPair(t,
			func() (Round, *Message, error) { return Refresh(RefreshConfig{Config: a, Share: d1}) },
			func() (Round, *Message, error) { return Refresh(RefreshConfig{Config: b, Share: s1}) })
	})
	t.Run("presign and sign", func(t *testing.T) {
		a, b := pairConfigs(t, ProtocolPresign)
		outA, outB := stepPair(t,
			func() (Round, *Message, error) { return Presign(PresignConfig{Config: a, Share: d1}) },
			func() (Round, *Message, error) { return Presign(PresignConfig{Config: b, Share: s1}) })
		pd, ps := outA.(*Presignature), outB.(*Presignature)
		digest := [32]byte{1, 2, 3}
		sigD, err := pd.PartialSign(digest)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pd.PartialSign([32]byte{4, 5, 6}); !errors.Is(err, ErrPresignatureUsed) {
			t.Fatalf("second PartialSign: %v, want ErrPresignatureUsed", err)
		}
		sigS, err := ps.PartialSign(digest)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := pd.Combine(digest, sigD, sigS)
		if err != nil {
			t.Fatal(err)
		}
		recoversTo(t, sig, digest, d1.PublicKey)
	})
}

// A round refuses a second message even when the first one made it abort:
// an aborted round is spent too.
func TestAbortedRoundIsSpent(t *testing.T) {
	a, b := pairConfigs(t, ProtocolKeygen)
	rA, _, err := Keygen(a)
	if err != nil {
		t.Fatal(err)
	}
	_, mB, err := Keygen(b)
	if err != nil {
		t.Fatal(err)
	}
	bad := *mB
	bad.Payload = []byte("short")
	if _, _, err := rA.Receive(&bad); err == nil {
		t.Fatal("a malformed commitment was accepted")
	}
	if _, out, err := rA.Receive(mB); !errors.Is(err, ErrRoundSpent) || out != nil {
		t.Fatalf("Receive after an abort: (%v, %v), want ErrRoundSpent", out, err)
	}
	if held := heldSecrets(rA); len(held) > 0 {
		t.Fatalf("aborted round still holds %v", held)
	}
}

// What the peer is told of an abort names the check only in steps whose
// checks are all on public values.
func TestPeerMessage(t *testing.T) {
	public := &AbortError{Culprit: Device, Protocol: ProtocolPresign, Round: 1, Check: "range proof of K (Πenc)", Err: errors.New("x")}
	secret := &AbortError{Culprit: Device, Protocol: ProtocolRefresh, Round: 3, Check: "zero-sharing consistency", Err: errors.New("ciphertext does not match U"), Secret: true}
	if got := public.PeerMessage(); got != `presign round 1: party "device" failed range proof of K (Πenc)` {
		t.Fatalf("public abort: %q", got)
	}
	got := secret.PeerMessage()
	if got != `refresh round 3: party "device" aborted the run` {
		t.Fatalf("secret abort: %q", got)
	}
	if want := fmt.Sprint(secret); !contains(want, "zero-sharing consistency") {
		t.Fatalf("our own log loses the check: %q", want)
	}
}
