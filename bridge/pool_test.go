package bridge

import (
	"context"
	"math/big"
	"testing"

	"github.com/duetwallet/duet/internal/fixtures"
	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/wire"
)

func TestSparePrimes(t *testing.T) {
	ctx := context.Background()
	st := &memStore{}
	searched := 0
	d := &Device{Store: st, Primes: func(context.Context) (*mpc.Primes, error) {
		searched++
		p, q := fixtures.SafePrimePair(1)
		return &mpc.Primes{P: p, Q: q}, nil
	}}
	p, q := fixtures.SafePrimePair(0)
	if kept, err := d.AddSparePrimes(ctx, &mpc.Primes{P: p, Q: q}); err != nil || !kept {
		t.Fatalf("add: %v, %v", kept, err)
	}
	// Primes that make no Paillier key are refused and change nothing.
	before := st.m[keySpare]
	if _, err := d.AddSparePrimes(ctx, &mpc.Primes{P: p, Q: new(big.Int).Add(q, big.NewInt(4))}); Code(err) != wire.CodeInvalidArgument {
		t.Fatalf("bad primes: %v", err)
	}
	if string(st.m[keySpare]) != string(before) {
		t.Fatal("bad primes changed the store")
	}
	if n, err := d.SparePrimes(ctx); err != nil || n != 1 {
		t.Fatalf("spare: %d, %v", n, err)
	}
	// The next key takes the spare set, which leaves the store first.
	got, err := d.primes(ctx)
	if err != nil || got.P.Cmp(p) != 0 || got.Q.Cmp(q) != 0 || searched != 0 {
		t.Fatalf("primes: %v, searched %d", err, searched)
	}
	if _, ok := st.m[keySpare]; ok {
		t.Fatal("the spare set stayed in the store")
	}
	// With none left, the device searches.
	if got, err := d.primes(ctx); err != nil || got.P.Cmp(p) == 0 || searched != 1 {
		t.Fatalf("primes without a spare set: %v, searched %d", err, searched)
	}
	if kept, err := d.StockPrimes(ctx); err != nil || !kept || searched != 2 {
		t.Fatalf("stock: %v, %v, searched %d", kept, err, searched)
	}
	if n, _ := d.SparePrimes(ctx); n != 1 {
		t.Fatalf("spare after stocking: %d", n)
	}
}

func TestPrimesEncoding(t *testing.T) {
	p, q := fixtures.SafePrimePair(2)
	got, err := decodePrimes(encodePrimes(&mpc.Primes{P: p, Q: q}))
	if err != nil || got.P.Cmp(p) != 0 || got.Q.Cmp(q) != 0 {
		t.Fatalf("round trip: %v", err)
	}
	for _, bad := range [][]byte{nil, {1, 2, 3}, append(encodePrimes(&mpc.Primes{P: p, Q: q}), 0)} {
		if _, err := decodePrimes(bad); Code(err) != wire.CodeInvalidArgument {
			t.Errorf("decodePrimes(%x…): %v", bad[:min(len(bad), 4)], err)
		}
	}
}
