package mpc

import (
	"bytes"
	"crypto/rand"
	"errors"
	"math/big"
	"testing"

	"github.com/duetwallet/duet/mpc/arith"
	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/mpc/zk/logstar"
	"github.com/duetwallet/duet/mpc/zk/sch"
)

// The backup-pair refresh decrypts the peer's C with the Paillier key that
// presigning uses. A device that sends C = K_S·enc(−t), K_S being the
// server's presigning ciphertext of k_S, must learn nothing about k_S from
// the server's reaction: the server aborts on the unproven C whether k_S is
// above or below t, and tells the device the same words either way.
func TestBackupRefreshIsNoDecryptionOracle(t *testing.T) {
	d, s := signingPair(t)
	_, b := pairConfigs(t, ProtocolPresign)
	r, _, err := Presign(PresignConfig{Config: b, Share: s})
	if err != nil {
		t.Fatal(err)
	}
	server1 := r.(*presignRound1)
	kS := server1.k.BigVarTime()
	KS := server1.K
	serverPK := d.Aux.PeerPaillier

	observe := func(t *testing.T, threshold *big.Int) string {
		t.Helper()
		minusT := arith.IntFromBig(new(big.Int).Neg(threshold))
		encT, _, err := serverPK.Encrypt(rand.Reader, minusT)
		if err != nil {
			t.Fatal(err)
		}
		forged := serverPK.Add(KS, encT)
		tamper := func(m *Message) *Message {
			if m.From != Device || m.Round != 3 {
				return m
			}
			dec := codec.NewDecoder(m.Payload)
			hasAux := dec.Bool()
			dec.Nat(ciphertextBits)
			pLog := logstar.Decode(dec)
			resp := sch.DecodeResponse(dec)
			if err := dec.Finish(); err != nil || hasAux {
				t.Fatalf("unexpected round 3: %v", err)
			}
			e := codec.NewEncoder(len(m.Payload)).Bool(false).Nat(forged)
			pLog.Encode(e)
			resp.Encode(e)
			m2 := *m
			m2.Payload = e.Bytes()
			return &m2
		}
		_, _, _, errS := refreshPair(t, d, s, nil, nil, tamper)
		var abort *AbortError
		if !errors.As(errS, &abort) {
			t.Fatalf("server accepted the forged C: %v", errS)
		}
		if abort.Culprit != Device || !abort.Secret {
			t.Fatalf("abort %+v: want the device blamed, without the check for the peer", abort)
		}
		if bytes.Contains([]byte(abort.PeerMessage()), []byte(abort.Check)) {
			t.Fatalf("the device is told the failed check: %q", abort.PeerMessage())
		}
		return abort.PeerMessage()
	}
	below := observe(t, new(big.Int).Sub(kS, big.NewInt(1000)))
	above := observe(t, new(big.Int).Add(kS, big.NewInt(1000)))
	if below != above {
		t.Fatalf("the device sees %q for t < k_S and %q for t > k_S", below, above)
	}
	// The pair still makes a backup pair and signs after the attempts.
	if _, _, errD, errS := refreshPair(t, d, s, nil, nil, nil); errD != nil || errS != nil {
		t.Fatal(errD, errS)
	}
	pd, ps, errD, errS := presignPair(t, d, s, nil)
	if errD != nil || errS != nil {
		t.Fatal(errD, errS)
	}
	digest := [32]byte{9}
	sig, err := signWith(t, pd, ps, digest)
	if err != nil {
		t.Fatal(err)
	}
	recoversTo(t, sig, digest, d.PublicKey)
}
