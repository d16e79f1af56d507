package paillier

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"

	"github.com/cronokirby/saferith"

	"github.com/duetwallet/duet/mpc/arith"
)

func filledPool(t *testing.T, pk *PublicKey, n int) *NoncePool {
	t.Helper()
	pool := NewNoncePool(pk, n)
	added, err := pool.Fill(context.Background(), rand.Reader)
	if err != nil || added != n || pool.Len() != n {
		t.Fatalf("Fill: added %d (len %d), err %v; want %d", added, pool.Len(), err, n)
	}
	return pool
}

// pooledNonces lists the ρ the pool holds, as hex strings.
func pooledNonces(p *NoncePool) map[string]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]bool)
	for _, x := range p.nonces {
		out[x.rho.Big().Text(16)] = true
	}
	return out
}

func TestNoncePoolEncrypts(t *testing.T) {
	sk := testKey(t, 0)
	pool := filledPool(t, sk.Public(), 3)
	held := pooledNonces(pool)
	pk := sk.Public().WithNonces(pool)
	seen := make(map[string]bool)
	for i := range 4 {
		m, _ := arith.SampleSigned(rand.Reader, 1500)
		c, rho, err := pk.Encrypt(rand.Reader, m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := sk.Decrypt(c)
		if err != nil || got.Big().Cmp(m.Big()) != 0 {
			t.Fatalf("encryption %d does not decrypt to its plaintext (err %v)", i, err)
		}
		// The nonce returned is the one in the ciphertext.
		if c.Cmp(sk.EncVarTime(m.Big(), rho.Big())) != 0 {
			t.Fatalf("encryption %d: ciphertext is not enc(m; ρ) for the ρ returned", i)
		}
		key := rho.Big().Text(16)
		if seen[key] {
			t.Fatalf("encryption %d reused a nonce", i)
		}
		seen[key] = true
		// Three from the pool, then one computed inline.
		if fromPool := held[key]; fromPool != (i < 3) {
			t.Fatalf("encryption %d: nonce from the pool %v, want %v", i, fromPool, i < 3)
		}
		if want := max(2-i, 0); pool.Len() != want {
			t.Fatalf("after encryption %d the pool holds %d, want %d", i, pool.Len(), want)
		}
	}
}

func TestNoncePoolWipesPowerAfterUse(t *testing.T) {
	sk := testKey(t, 0)
	pool := filledPool(t, sk.Public(), 1)
	pool.mu.Lock()
	x := pool.nonces[0]
	pool.mu.Unlock()
	m := new(saferith.Int).SetUint64(7)
	c, rho, err := sk.Public().WithNonces(pool).Encrypt(rand.Reader, m)
	if err != nil {
		t.Fatal(err)
	}
	if rho != x.rho {
		t.Fatal("the pool's nonce was not the one used")
	}
	if x.rhoN.EqZero() != 1 {
		t.Fatal("ρ^N was not wiped after its encryption")
	}
	if got, _ := sk.Decrypt(c); got.Big().Int64() != 7 {
		t.Fatal("pooled encryption does not decrypt")
	}
}

// Concurrent encryptions under one pool each get a nonce of their own, and
// every pooled nonce goes to exactly one of them.
func TestNoncePoolConcurrentTakers(t *testing.T) {
	sk := testKey(t, 1)
	const takers, each = 6, 3
	pool := filledPool(t, sk.Public(), takers*each)
	held := pooledNonces(pool)
	pk := sk.Public().WithNonces(pool)
	var mu sync.Mutex
	got := make(map[string]int)
	var wg sync.WaitGroup
	for range takers {
		wg.Go(func() {
			for range each {
				m, _ := arith.SampleSigned(rand.Reader, 256)
				_, rho, err := pk.Encrypt(rand.Reader, m)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got[rho.Big().Text(16)]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(got) != takers*each {
		t.Fatalf("%d distinct nonces for %d encryptions", len(got), takers*each)
	}
	for k, n := range got {
		if n != 1 || !held[k] {
			t.Fatalf("nonce used %d times, from the pool: %v", n, held[k])
		}
	}
	if pool.Len() != 0 {
		t.Fatalf("pool holds %d after every nonce was taken", pool.Len())
	}
}

// A pool is bound to its key: a key with another N never draws from it.
func TestNoncePoolBoundToKey(t *testing.T) {
	sk0, sk1 := testKey(t, 0), testKey(t, 1)
	pool := filledPool(t, sk0.Public(), 2)
	held := pooledNonces(pool)
	pk1 := sk1.Public().WithNonces(pool)
	if pk1 != sk1.Public() {
		t.Fatal("WithNonces attached a pool of another key")
	}
	m := new(saferith.Int).SetUint64(42)
	c, rho, err := pk1.Encrypt(rand.Reader, m)
	if err != nil {
		t.Fatal(err)
	}
	if held[rho.Big().Text(16)] || pool.Len() != 2 {
		t.Fatal("an encryption under N₁ took a nonce made for N₀")
	}
	if got, _ := sk1.Decrypt(c); got.Big().Int64() != 42 {
		t.Fatal("encryption under N₁ does not decrypt")
	}
	if sk0.Public().WithNonces(nil) != sk0.Public() {
		t.Fatal("WithNonces(nil) changed the key")
	}
	// The same N from another PublicKey value shares the pool.
	same, err := NewPublicKey(sk0.N())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := same.WithNonces(pool).Encrypt(rand.Reader, m); err != nil || pool.Len() != 1 {
		t.Fatalf("a key with the pool's N did not draw from it (len %d, err %v)", pool.Len(), err)
	}
}

func TestNoncePoolFill(t *testing.T) {
	sk := testKey(t, 0)
	pool := NewNoncePool(sk.Public(), 4)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n, err := pool.Fill(ctx, rand.Reader); n != 0 || !errors.Is(err, context.Canceled) || pool.Len() != 0 {
		t.Fatalf("Fill with a done context: added %d, err %v", n, err)
	}
	errRead := errors.New("no entropy")
	if n, err := pool.Fill(context.Background(), failingReader{errRead}); n != 0 || !errors.Is(err, errRead) || pool.Len() != 0 {
		t.Fatalf("Fill with a failing reader: added %d, err %v, len %d", n, err, pool.Len())
	}
	// Concurrent fills stop at the cap between them.
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 3 {
		wg.Go(func() {
			n, err := pool.Fill(context.Background(), rand.Reader)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if pool.Len() != 4 || total != 4 || pool.Cap() != 4 {
		t.Fatalf("concurrent fills: len %d, added %d in all; want 4", pool.Len(), total)
	}
	if n, err := pool.Fill(context.Background(), rand.Reader); n != 0 || err != nil {
		t.Fatalf("Fill of a full pool added %d (err %v)", n, err)
	}
	for _, x := range pool.nonces {
		if x.rhoN.Big().Cmp(sk.Public().ModulusSquared().ExpVarTime(x.rho.Big(), sk.N())) != 0 {
			t.Fatal("a pooled power is not ρ^N mod N²")
		}
	}
}

func TestNoncePoolClear(t *testing.T) {
	sk := testKey(t, 0)
	pool := filledPool(t, sk.Public(), 2)
	held := append([]nonce(nil), pool.nonces...)
	pool.Clear()
	if pool.Len() != 0 {
		t.Fatalf("Clear left %d nonces", pool.Len())
	}
	for _, x := range held {
		if x.rho.EqZero() != 1 || x.rhoN.EqZero() != 1 {
			t.Fatal("Clear did not wipe a nonce")
		}
	}
	_, rho, err := sk.Public().WithNonces(pool).Encrypt(rand.Reader, new(saferith.Int).SetUint64(1))
	if err != nil || rho.EqZero() == 1 {
		t.Fatalf("encryption after Clear: nonce zero %v, err %v", rho.EqZero() == 1, err)
	}
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

// The owner fills a pool of its own key through the CRT: the same powers,
// used by its Encrypt; a pool of another key is refused and left alone.
func TestSecretKeyNonces(t *testing.T) {
	sk, other := testKey(t, 0), testKey(t, 1)
	pool := NewNoncePool(sk.Public(), 3)
	if n, err := sk.FillNonces(context.Background(), rand.Reader, pool); err != nil || n != 3 {
		t.Fatalf("FillNonces: %d, %v", n, err)
	}
	for _, x := range pool.nonces {
		if x.rhoN.Big().Cmp(sk.ModulusSquared().ExpVarTime(x.rho.Big(), sk.N())) != 0 {
			t.Fatal("a power made through the CRT is not ρ^N mod N²")
		}
	}
	held := pooledNonces(pool)
	wrong := NewNoncePool(other.Public(), 1)
	if n, err := sk.FillNonces(context.Background(), rand.Reader, wrong); !errors.Is(err, ErrNonceKey) || n != 0 || wrong.Len() != 0 {
		t.Fatalf("FillNonces into another key's pool: %d, %v", n, err)
	}
	if other.WithNonces(pool) != other {
		t.Fatal("WithNonces attached a pool of another key to a secret key")
	}
	k := sk.WithNonces(pool)
	for i := range 4 {
		m, _ := arith.SampleSigned(rand.Reader, 700)
		c, rho, err := k.Encrypt(rand.Reader, m)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := sk.Decrypt(c); got.Big().Cmp(m.Big()) != 0 || c.Cmp(sk.EncVarTime(m.Big(), rho.Big())) != 0 {
			t.Fatalf("encryption %d is not enc(m; ρ)", i)
		}
		if held[rho.Big().Text(16)] != (i < 3) {
			t.Fatalf("encryption %d: nonce from the pool %v, want %v", i, held[rho.Big().Text(16)], i < 3)
		}
	}
	// The key with a pool is the same key.
	if !k.Equal(sk.Public()) || k.P().Eq(sk.P()) != 1 {
		t.Fatal("WithNonces changed the key")
	}
}
