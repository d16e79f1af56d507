package mpc

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/mpc/hash"
	"github.com/duetwallet/duet/mpc/zk/affg"
	"github.com/duetwallet/duet/mpc/zk/enc"
	"github.com/duetwallet/duet/mpc/zk/fac"
	"github.com/duetwallet/duet/mpc/zk/logstar"
	"github.com/duetwallet/duet/mpc/zk/mod"
	"github.com/duetwallet/duet/mpc/zk/sch"
)

// fromServer returns a tamper hook that rewrites the server's message of one
// protocol round with f.
func fromServer(round uint8, f func(payload []byte) []byte) tamperFn {
	return func(m *Message) *Message {
		if m.From != Server || m.Round != round {
			return m
		}
		m2 := *m
		m2.Payload = f(bytes.Clone(m.Payload))
		return &m2
	}
}

// A server whose Πprm does not verify (committed to honestly, so the
// commitment opens) is caught by the Πprm check, before the device uses its
// ring-Pedersen parameters.
func TestRefreshRejectsBadPrm(t *testing.T) {
	d0, s0 := keygenPair(t)
	a, b := pairConfigs(t, ProtocolRefresh)
	_, _, errD, _ := runPair(
		func() (Round, *Message, error) {
			return Refresh(RefreshConfig{Config: a, Share: d0, Primes: fixturePrimes(0)})
		},
		func() (Round, *Message, error) {
			r, _, err := Refresh(RefreshConfig{Config: b, Share: s0, Primes: fixturePrimes(1)})
			if err != nil {
				return nil, nil, err
			}
			r1 := r.(*refreshRound1)
			r1.prm.Z[7] = new(big.Int).Add(r1.prm.Z[7], big.NewInt(1))
			r1.opening = r1.encodeOpening()
			r1.V = refreshCommit(b.SessionID, b.Self, r1.opening)
			return r1, r1.h.message(1, r1.V), nil
		}, nil)
	expectAbort(t, errD, Server, "Πprm")
}

// A server that swaps in a different modulus after committing fails the
// commitment check; one that commits to parameters with s = t fails the
// parameter check.
func TestRefreshRejectsBadAuxParameters(t *testing.T) {
	d0, s0 := keygenPair(t)
	a, b := pairConfigs(t, ProtocolRefresh)
	_, _, errD, _ := runPair(
		func() (Round, *Message, error) {
			return Refresh(RefreshConfig{Config: a, Share: d0, Primes: fixturePrimes(0)})
		},
		func() (Round, *Message, error) {
			return Refresh(RefreshConfig{Config: b, Share: s0, Primes: fixturePrimes(1)})
		},
		fromServer(2, func(p []byte) []byte { p[len(p)/2] ^= 1; return p }))
	expectAbort(t, errD, Server, "commitment opening")
}

// A peer that reuses the device's own Paillier modulus (reflection) is
// refused.
func TestRefreshRejectsReflectedModulus(t *testing.T) {
	d0, s0 := keygenPair(t)
	a, b := pairConfigs(t, ProtocolRefresh)
	_, _, errD, _ := runPair(
		func() (Round, *Message, error) {
			return Refresh(RefreshConfig{Config: a, Share: d0, Primes: fixturePrimes(0)})
		},
		func() (Round, *Message, error) {
			return Refresh(RefreshConfig{Config: b, Share: s0, Primes: fixturePrimes(0)})
		},
		nil)
	expectAbort(t, errD, Server, "reflection")
}

// presignRound1Payload is the decoded round-1 message of presigning.
type presignRound1Payload struct {
	ssid  []byte
	K, G  *big.Int
	proof *enc.Proof
}

func decodePresign1(t *testing.T, b []byte) *presignRound1Payload {
	d := codec.NewDecoder(b)
	p := &presignRound1Payload{ssid: d.Fixed(hash.DigestSize), K: d.Nat(ciphertextBits), G: d.Nat(ciphertextBits)}
	p.proof = enc.Decode(d)
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *presignRound1Payload) encode() []byte {
	e := codec.NewEncoder(4096).Fixed(p.ssid).Nat(p.K).Nat(p.G)
	p.proof.Encode(e)
	return e.Bytes()
}

func TestPresignRejectsTampering(t *testing.T) {
	d, s := signingPair(t)
	cases := []struct {
		name   string
		round  uint8
		tamper func(t *testing.T, p []byte) []byte
		check  string
	}{
		{"ciphertext K replaced", 1, func(t *testing.T, b []byte) []byte {
			p := decodePresign1(t, b)
			p.K = s.Aux.Paillier.PublicKey.EncVarTime(big.NewInt(12345), big.NewInt(7))
			return p.encode()
		}, "Πenc"},
		{"Πenc response", 1, func(t *testing.T, b []byte) []byte {
			p := decodePresign1(t, b)
			p.proof.Z1 = new(big.Int).Add(p.proof.Z1, big.NewInt(1))
			return p.encode()
		}, "Πenc"},
		{"Πenc response out of range", 1, func(t *testing.T, b []byte) []byte {
			p := decodePresign1(t, b)
			// Just past I_ε = ±2^(ℓ+ε), within the decoder's size cap.
			p.proof.Z1 = new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 768), big.NewInt(1))
			return p.encode()
		}, "Πenc"},
		{"ciphertext not a unit", 1, func(t *testing.T, b []byte) []byte {
			p := decodePresign1(t, b)
			p.G = new(big.Int).Set(s.Aux.Paillier.PublicKey.N())
			return p.encode()
		}, "ciphertext G"},
		{"MtA ciphertext D", 2, func(t *testing.T, b []byte) []byte {
			return tamperPresign2(t, b, func(D *big.Int, _ *affg.Proof) { D.Add(D, big.NewInt(1)) })
		}, "Πaff-g"},
		{"MtA proof response", 2, func(t *testing.T, b []byte) []byte {
			return tamperPresign2(t, b, func(_ *big.Int, p *affg.Proof) {
				p.Z2 = new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 1792), big.NewInt(1))
			})
		}, "Πaff-g"},
		{"δ share", 3, func(t *testing.T, b []byte) []byte { b[0] ^= 1; return b }, "δ·G = Δ"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, errD, _ := presignPair(t, d, s, fromServer(c.round, func(p []byte) []byte { return c.tamper(t, p) }))
			expectAbort(t, errD, Server, c.check)
		})
	}
}

// tamperPresign2 decodes the round-2 message, lets f change D of the δ MtA
// and its proof, and re-encodes it.
func tamperPresign2(t *testing.T, b []byte, f func(D *big.Int, p *affg.Proof)) []byte {
	d := codec.NewDecoder(b)
	gamma := d.Point()
	D, F, DHat, FHat := d.Nat(ciphertextBits), d.Nat(ciphertextBits), d.Nat(ciphertextBits), d.Nat(ciphertextBits)
	p1, p2, p3 := affg.Decode(d), affg.Decode(d), logstar.Decode(d)
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	f(D, p1)
	e := codec.NewEncoder(len(b)).Point(gamma).Nat(D).Nat(F).Nat(DHat).Nat(FHat)
	p1.Encode(e)
	p2.Encode(e)
	p3.Encode(e)
	return e.Bytes()
}

// Messages recorded in one presigning session are refused in another.
func TestPresignRejectsReplay(t *testing.T) {
	d, s := signingPair(t)
	var recorded []*Message
	if _, _, errD, errS := presignPair(t, d, s, func(m *Message) *Message {
		if m.From == Server {
			recorded = append(recorded, m)
		}
		return m
	}); errD != nil || errS != nil {
		t.Fatal(errD, errS)
	}
	a, _ := pairConfigs(t, ProtocolPresign)
	r, _, err := Presign(PresignConfig{Config: a, Share: d})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = r.Receive(recorded[0])
	expectAbort(t, err, Server, "session id")
}

// A server presigning with another generation of the key is refused before
// any proof is checked.
func TestPresignRejectsGenerationMismatch(t *testing.T) {
	d1, s1 := signingPair(t)
	_, s2, errD, errS := refreshPair(t, d1, s1, fixturePrimes(2), fixturePrimes(3), nil)
	if errD != nil || errS != nil {
		t.Fatal(errD, errS)
	}
	_, _, errD, _ = presignPair(t, d1, s2, nil)
	expectAbort(t, errD, Server, "key generation")
}

// tamperRefresh3 decodes the round-3 message of an aux-info refresh, lets f
// change the Πmod and Πfac proofs, and re-encodes it. Round 3 is not under a
// commitment, so a malicious peer can send any proofs here.
func tamperRefresh3(t *testing.T, b []byte, f func(pm *mod.Proof, pf *fac.Proof)) []byte {
	d := codec.NewDecoder(b)
	if !d.Bool() {
		t.Fatal("round 3 without aux proofs")
	}
	pm, pf := mod.Decode(d), fac.Decode(d)
	c := d.Nat(ciphertextBits)
	pLog := logstar.Decode(d)
	resp := sch.DecodeResponse(d)
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	f(pm, pf)
	e := codec.NewEncoder(len(b)).Bool(true)
	pm.Encode(e)
	pf.Encode(e)
	e.Nat(c)
	pLog.Encode(e)
	resp.Encode(e)
	return e.Bytes()
}

// The proofs that rule out BitForge moduli are checked in the protocol and
// a failure blames the peer: a Πmod that does not hold (as for a non-Blum
// modulus, zk/mod's attacker tests) and a Πfac whose response is out of
// range (as for a modulus with a small factor, zk/fac's attacker tests).
func TestRefreshRejectsBadModulusProofs(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(pm *mod.Proof, pf *fac.Proof)
		check  string
	}{
		{"Πmod fourth root", func(pm *mod.Proof, _ *fac.Proof) {
			pm.X[3] = new(big.Int).Add(pm.X[3], big.NewInt(1))
		}, "Πmod"},
		{"Πmod w not a unit", func(pm *mod.Proof, _ *fac.Proof) { pm.W = big.NewInt(0) }, "Πmod"},
		{"Πfac factor out of range", func(_ *mod.Proof, pf *fac.Proof) {
			// Just past ±2^(ℓ+ε)·√N₀ for the server's N₀, within the
			// decoder's size cap.
			sp := fixturePrimes(1)
			root := new(big.Int).Sqrt(new(big.Int).Mul(sp.P, sp.Q))
			pf.Z2 = new(big.Int).Add(root.Lsh(root, 768), big.NewInt(1))
		}, "Πfac"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d0, s0 := keygenPair(t)
			_, _, errD, _ := refreshPair(t, d0, s0, fixturePrimes(0), fixturePrimes(1),
				fromServer(3, func(p []byte) []byte { return tamperRefresh3(t, p, c.tamper) }))
			expectAbort(t, errD, Server, c.check)
		})
	}
}
