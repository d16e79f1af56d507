// Package zktest is what the tests of the proof packages share: Paillier
// keys on the fixture primes and ring-Pedersen parameters on them, made once
// per test binary, and the encoding of a proof. Fixtures only: the primes are
// public.
package zktest

import (
	"crypto/rand"
	"math/big"
	"sync"

	"github.com/duetwallet/duet/internal/fixtures"
	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/mpc/paillier"
	"github.com/duetwallet/duet/mpc/pedersen"
)

var (
	mu        sync.Mutex
	keys      = map[int]*paillier.SecretKey{}
	pedersens = map[[2]int]*pedersen.Own{}
)

// Key returns the Paillier key on fixture prime pair i.
func Key(i int) *paillier.SecretKey {
	mu.Lock()
	defer mu.Unlock()
	return key(i)
}

func key(i int) *paillier.SecretKey {
	if sk, ok := keys[i]; ok {
		return sk
	}
	p, q := fixtures.SafePrimePair(i)
	sk, err := paillier.NewSecretKey(p, q)
	if err != nil {
		panic("zktest: fixture key: " + err.Error())
	}
	keys[i] = sk
	return sk
}

// Pedersen returns ring-Pedersen parameter set number set on the key of
// fixture pair i; different sets on one key are independent.
func Pedersen(i, set int) *pedersen.Own {
	mu.Lock()
	defer mu.Unlock()
	k := [2]int{i, set}
	if own, ok := pedersens[k]; ok {
		return own
	}
	own, _, err := pedersen.Generate(rand.Reader, key(i))
	if err != nil {
		panic("zktest: ring-Pedersen parameters: " + err.Error())
	}
	pedersens[k] = own
	return own
}

// Encode returns a proof's encoding.
func Encode(p interface{ Encode(*codec.Encoder) }) []byte {
	e := codec.NewEncoder(0)
	p.Encode(e)
	return e.Bytes()
}

// OddModulus returns an odd number of the given size made from n's top bits
// (or n shifted up): a modulus of that size for the size checks, not a
// Paillier–Blum one.
func OddModulus(n *big.Int, bits int) *big.Int {
	m := new(big.Int)
	if shift := bits - n.BitLen(); shift >= 0 {
		m.Lsh(n, uint(shift))
	} else {
		m.Rsh(n, uint(-shift))
	}
	return m.SetBit(m, 0, 1)
}
