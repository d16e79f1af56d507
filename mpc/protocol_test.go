package mpc

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/duetwallet/duet/internal/fixtures"
	"github.com/duetwallet/duet/mpc/curve"
)

func fixturePrimes(i int) *Primes {
	p, q := fixtures.SafePrimePair(i)
	return &Primes{P: p, Q: q}
}

// refreshPair runs a refresh between two shares of one pair; primes nil
// refreshes without new aux info.
func refreshPair(t testing.TB, d, s *KeyShare, pd, ps *Primes, tamper tamperFn) (*KeyShare, *KeyShare, error, error) {
	t.Helper()
	a, b := pairConfigs(t, ProtocolRefresh)
	outA, outB, errA, errB := runPair(
		func() (Round, *Message, error) { return Refresh(RefreshConfig{Config: a, Share: d, Primes: pd}) },
		func() (Round, *Message, error) { return Refresh(RefreshConfig{Config: b, Share: s, Primes: ps}) },
		tamper)
	if errA != nil || errB != nil {
		return nil, nil, errA, errB
	}
	return outA.(*KeyShare), outB.(*KeyShare), nil, nil
}

var shared struct {
	once sync.Once
	d, s []byte
}

// signingPair returns a signing-ready pair, made once per test binary
// (keygen, then aux-info) and decoded afresh for each caller, so tests can
// consume and tamper with their copy.
func signingPair(t testing.TB) (*KeyShare, *KeyShare) {
	t.Helper()
	shared.once.Do(func() {
		d, s := newSigningPair(t)
		shared.d, _ = d.MarshalBinary()
		shared.s, _ = s.MarshalBinary()
	})
	var d, s KeyShare
	if err := d.UnmarshalBinary(shared.d); err != nil {
		t.Fatal(err)
	}
	if err := s.UnmarshalBinary(shared.s); err != nil {
		t.Fatal(err)
	}
	return &d, &s
}

// newSigningPair makes a signing-ready pair: keygen, then aux-info.
func newSigningPair(t testing.TB) (*KeyShare, *KeyShare) {
	t.Helper()
	d0, s0 := keygenPair(t)
	d, s, errD, errS := refreshPair(t, d0, s0, fixturePrimes(0), fixturePrimes(1), nil)
	if errD != nil || errS != nil {
		t.Fatalf("aux-info: %v / %v", errD, errS)
	}
	return d, s
}

func presignPair(t testing.TB, d, s *KeyShare, tamper tamperFn) (*Presignature, *Presignature, error, error) {
	t.Helper()
	a, b := pairConfigs(t, ProtocolPresign)
	outA, outB, errA, errB := runPair(
		func() (Round, *Message, error) { return Presign(PresignConfig{Config: a, Share: d}) },
		func() (Round, *Message, error) { return Presign(PresignConfig{Config: b, Share: s}) },
		tamper)
	if errA != nil || errB != nil {
		return nil, nil, errA, errB
	}
	return outA.(*Presignature), outB.(*Presignature), nil, nil
}

// signWith makes the signature of digest from both parties' presignatures,
// combined on the device's side.
func signWith(t testing.TB, pd, ps *Presignature, digest [32]byte) (*Signature, error) {
	t.Helper()
	own, err := pd.PartialSign(digest)
	if err != nil {
		return nil, err
	}
	peer, err := ps.PartialSign(digest)
	if err != nil {
		return nil, err
	}
	return pd.Combine(digest, own, peer)
}

// recoversTo checks the signature with go-ethereum's Ecrecover against the
// address of X.
func recoversTo(t testing.TB, sig *Signature, digest [32]byte, X *curve.Point) {
	t.Helper()
	pub, err := crypto.Ecrecover(digest[:], sig.Bytes())
	if err != nil {
		t.Fatalf("ecrecover: %v", err)
	}
	want := Address(X)
	if got := common.BytesToAddress(crypto.Keccak256(pub[1:])[12:]); got != common.Address(want) {
		t.Fatalf("signature recovers to %s, want %s", got, common.Address(want))
	}
	if sig.S.IsOverHalfOrder() {
		t.Fatal("signature is not low-s")
	}
}

func TestSignEndToEnd(t *testing.T) {
	d, s := signingPair(t)
	if d.Generation != 1 || d.Aux == nil || s.Aux == nil {
		t.Fatal("aux-info did not make a signing-ready generation 1")
	}
	if !bytes.Equal(d.PublicDigest(), s.PublicDigest()) {
		t.Fatal("parties disagree on the new pair")
	}
	for i := range 3 {
		pd, ps, errD, errS := presignPair(t, d, s, nil)
		if errD != nil || errS != nil {
			t.Fatalf("presign: %v / %v", errD, errS)
		}
		if !pd.R.Equal(ps.R) {
			t.Fatal("parties disagree on R")
		}
		digest := [32]byte(crypto.Keccak256([]byte{byte(i)}))
		sig, err := signWith(t, pd, ps, digest)
		if err != nil {
			t.Fatal(err)
		}
		recoversTo(t, sig, digest, d.PublicKey)
	}
}

func TestRefreshKeepsTheKey(t *testing.T) {
	d1, s1 := signingPair(t)
	d2, s2, errD, errS := refreshPair(t, d1, s1, fixturePrimes(2), fixturePrimes(3), nil)
	if errD != nil || errS != nil {
		t.Fatal(errD, errS)
	}
	if !d2.PublicKey.Equal(d1.PublicKey) || d2.Generation != 2 {
		t.Fatal("refresh changed X or did not advance the generation")
	}
	if d2.Secret.Equal(d1.Secret) || d2.Aux.Paillier.N().Cmp(d1.Aux.Paillier.N()) == 0 {
		t.Fatal("refresh did not renew the share and the aux info")
	}
	if _, err := Reconstruct(d2, s2); err != nil {
		t.Fatal(err)
	}
	// A share of the old generation does not combine with the new one.
	if _, err := Reconstruct(d1, s2); err == nil {
		t.Fatal("old and new generation shares reconstruct")
	}
	pd, ps, errD, errS := presignPair(t, d2, s2, nil)
	if errD != nil || errS != nil {
		t.Fatal(errD, errS)
	}
	digest := [32]byte(crypto.Keccak256([]byte("after refresh")))
	sig, err := signWith(t, pd, ps, digest)
	if err != nil {
		t.Fatal(err)
	}
	recoversTo(t, sig, digest, d1.PublicKey)
}

// The backup pair is a second sharing of the same x; shares of the two pairs
// do not combine, and a recovery turns the backup pair into a new signing
// pair.
func TestBackupPairAndRecovery(t *testing.T) {
	xD, xP := signingPair(t)
	bD, bC, errD, errS := refreshPair(t, xD, xP, nil, nil, nil)
	if errD != nil || errS != nil {
		t.Fatal(errD, errS)
	}
	if bD.Aux != nil || bC.Aux != nil {
		t.Fatal("backup pair carries aux info")
	}
	x, err := Reconstruct(xD, xP)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Reconstruct(bD, bC)
	if err != nil || !b.Equal(x) {
		t.Fatal("backup pair does not reconstruct to x")
	}
	if _, err := Reconstruct(xD, bC); err == nil {
		t.Fatal("device signing share and custodian share reconstruct")
	}
	if _, err := Reconstruct(bD, xP); err == nil {
		t.Fatal("user backup share and server share reconstruct")
	}
	if bD.Secret.Equal(xD.Secret) || bC.Secret.Equal(xP.Secret) {
		t.Fatal("backup shares equal signing shares")
	}
	// Recovery: the backup pair makes a new signing pair with fresh aux.
	nD, nP, errD, errS := refreshPair(t, bD, bC, fixturePrimes(2), fixturePrimes(3), nil)
	if errD != nil || errS != nil {
		t.Fatal(errD, errS)
	}
	pd, ps, errD, errS := presignPair(t, nD, nP, nil)
	if errD != nil || errS != nil {
		t.Fatal(errD, errS)
	}
	digest := [32]byte(crypto.Keccak256([]byte("recovered")))
	sig, err := signWith(t, pd, ps, digest)
	if err != nil {
		t.Fatal(err)
	}
	recoversTo(t, sig, digest, xD.PublicKey)
	// The lost device's share cannot presign with the new server share.
	if _, _, errD, errS = presignPair(t, xD, nP, nil); errD == nil && errS == nil {
		t.Fatal("old device share presigned with the recovered server share")
	}
}

func TestPresignatureSignsOnce(t *testing.T) {
	d, s := signingPair(t)
	pd, _, errD, errS := presignPair(t, d, s, nil)
	if errD != nil || errS != nil {
		t.Fatal(errD, errS)
	}
	if _, err := pd.PartialSign([32]byte{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := pd.PartialSign([32]byte{2}); !errors.Is(err, ErrPresignatureUsed) {
		t.Fatalf("second use of a presignature: %v", err)
	}
	if _, err := pd.MarshalBinary(); !errors.Is(err, ErrPresignatureUsed) {
		t.Fatal("a used presignature can still be stored")
	}
}

// A partial signature that does not verify blames the peer.
func TestCombineRejectsBadPartial(t *testing.T) {
	d, s := signingPair(t)
	pd, ps, _, _ := presignPair(t, d, s, nil)
	digest := [32]byte{9}
	own, _ := pd.PartialSign(digest)
	peer, _ := ps.PartialSign(digest)
	peer.Sigma = peer.Sigma.Add(curve.ScalarFromUint64(1))
	_, err := pd.Combine(digest, own, peer)
	expectAbort(t, err, Server, "signature validity")
}

func TestShareEncodingRoundTrip(t *testing.T) {
	d, _ := signingPair(t)
	b, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got KeyShare
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	b2, _ := got.MarshalBinary()
	if !bytes.Equal(b, b2) || !bytes.Equal(got.PublicDigest(), d.PublicDigest()) {
		t.Fatal("share does not round-trip")
	}
	// The secret scalar starts after version, generation and the two
	// party ids; a share whose secret does not match X_i is refused.
	off := 1 + 8 + 4 + len(d.Self) + 4 + len(d.Peer)
	b[off+31] ^= 1
	if (&KeyShare{}).UnmarshalBinary(b) == nil {
		t.Fatal("share with a wrong secret accepted")
	}
}
