package party

import (
	"context"
	"crypto/rand"
	"log/slog"
	"time"

	"github.com/duetwallet/duet/mpc"
)

// PrimePool keeps safe-prime pairs ready so that a session never waits for
// the prime search (seconds) unless sessions come faster than the pool
// refills.
type PrimePool struct {
	ready chan *mpc.Primes
}

// NewPrimePool starts filling a pool of size pairs in the background until
// ctx ends.
func NewPrimePool(ctx context.Context, size int, log *slog.Logger) *PrimePool {
	p := &PrimePool{ready: make(chan *mpc.Primes, size)}
	go func() {
		for ctx.Err() == nil {
			primes, err := mpc.GeneratePrimes(rand.Reader, 0)
			if err != nil {
				log.Error("safe-prime generation failed", "error", err)
				select {
				case <-time.After(time.Second):
				case <-ctx.Done():
				}
				continue
			}
			select {
			case p.ready <- primes:
			case <-ctx.Done():
			}
		}
	}()
	return p
}

// Primes takes a pair from the pool, waiting for one if it is empty.
func (p *PrimePool) Primes(ctx context.Context) (*mpc.Primes, error) {
	select {
	case primes := <-p.ready:
		return primes, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Len is the number of pairs ready now.
func (p *PrimePool) Len() int { return len(p.ready) }
