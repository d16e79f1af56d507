package party

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"runtime"
	"time"

	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/mpc/paillier"
	"github.com/duetwallet/duet/server/metrics"
	"github.com/duetwallet/duet/server/store"
	"github.com/duetwallet/duet/wire"
)

// PrimeReturner is a PrimeSource that takes back a pair a session took but
// never revealed, so that a device leaving mid-session costs the pool
// nothing.
type PrimeReturner interface {
	PrimeSource
	Return(*mpc.Primes)
}

// PrimePool keeps safe-prime pairs ready so that a session never waits for
// the prime search (seconds) unless sessions come faster than the pool
// refills. Its workers search in parallel, one pair each.
type PrimePool struct {
	ready chan *mpc.Primes
}

// PrimePoolConfig configures a PrimePool.
type PrimePoolConfig struct {
	// Size is how many pairs the pool holds ready; 0 → 4.
	Size int
	// Workers search for pairs in parallel; 0 → runtime.NumCPU().
	Workers int
	// Generate finds one pair; mpc.GeneratePrimes on crypto/rand, one
	// goroutine each, if nil.
	Generate func(ctx context.Context) (*mpc.Primes, error)
	Log      *slog.Logger
}

// NewPrimePool starts filling a pool in the background until ctx ends.
func NewPrimePool(ctx context.Context, cfg PrimePoolConfig) *PrimePool {
	if cfg.Size <= 0 {
		cfg.Size = 4
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if cfg.Generate == nil {
		cfg.Generate = func(context.Context) (*mpc.Primes, error) { return mpc.GeneratePrimes(rand.Reader, 1) }
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	p := &PrimePool{ready: make(chan *mpc.Primes, cfg.Size)}
	for range cfg.Workers {
		go p.work(ctx, cfg)
	}
	return p
}

func (p *PrimePool) work(ctx context.Context, cfg PrimePoolConfig) {
	for ctx.Err() == nil {
		primes, err := cfg.Generate(ctx)
		if err != nil {
			if ctx.Err() == nil {
				cfg.Log.Error("safe-prime generation failed", "error", err)
			}
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

// Return puts back a pair whose Paillier modulus never left the server. A
// full pool drops it.
func (p *PrimePool) Return(primes *mpc.Primes) {
	select {
	case p.ready <- primes:
	default:
	}
}

// Len is the number of pairs ready now.
func (p *PrimePool) Len() int { return len(p.ready) }

// Cap is the number of pairs the pool holds when full.
func (p *PrimePool) Cap() int { return cap(p.ready) }

// kindPrimes counts the safe-prime pairs a client's sessions revealed.
const kindPrimes = "primes" // subject: client id

// refreshWithPrimes runs a refresh that makes new aux info. A safe-prime
// pair is taken from the pool only once the device has committed to the
// run, and spent only when the server's opening, which reveals the new
// modulus, goes out:
//
//   - the server waits for the device's round-1 commitment before it takes
//     a pair and answers with its own: a session that ends before (a device
//     that says Hello and leaves, or whose first frame is not a protocol
//     message) takes nothing from the pool;
//   - our round-1 message is a hiding commitment, so a session that ends
//     after the pair was taken but before our opening went out gives a copy
//     of the pair back to the pool;
//   - a pair about to be revealed counts against the client's limit
//     (Limits.PrimePairs), and is refused, unrevealed, over it.
//
// The device commits before it has seen anything of ours, so its
// commitment cannot depend on ours (nor be ours reflected). It sends its
// round 1 without waiting, as wire.Conn.Run does. config makes the run's
// configuration from the pair.
func (s *session) refreshWithPrimes(ctx context.Context, gen uint64, config func(mpc.Config, *mpc.Primes) mpc.RefreshConfig) (*mpc.KeyShare, error) {
	f, err := s.conn.Recv(ctx)
	if err != nil {
		return nil, err
	}
	devR1, err := wire.ParseMPC(f)
	if err != nil {
		return nil, err
	}
	primes, err := s.h.Primes.Primes(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("party: waiting for primes: %w", err)
		}
		return nil, fail(wire.CodeServerError, "no primes available")
	}
	revealed := false
	defer func() {
		if !revealed {
			s.h.returnPrimes(primes)
		}
	}()
	cfg := mpc.Config{
		Self: mpc.Server, Peer: mpc.Device, Rand: s.h.rand(),
		SessionID: mpc.NewSessionID(mpc.ProtocolRefresh, s.walletID, gen, mpc.Device, s.hello.Nonce, mpc.Server, s.nonce),
	}
	r1, out1, err := mpc.Refresh(config(cfg, primes))
	if err != nil {
		return nil, err
	}
	if err := s.conn.Send(ctx, wire.MPCFrame(out1)); err != nil {
		return nil, err
	}
	r2, out2, err := r1.Receive(devR1)
	if err != nil {
		return nil, err
	}
	if r2 == nil {
		return nil, errors.New("party: internal error: refresh returned no round")
	}
	if err := s.admitPrimes(ctx); err != nil {
		return nil, err
	}
	// A device that left while the pair was being admitted never sees the
	// modulus: the pair stays unrevealed.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("party: before revealing the new modulus: %w", err)
	}
	revealed = true
	out, err := s.conn.Run(ctx, r2, out2, nil)
	if err != nil {
		return nil, err
	}
	return out.(*mpc.KeyShare), nil
}

// returnPrimes gives an unrevealed pair back to a pool that takes it. The
// pool gets a copy, so that nothing the abandoned run still references can
// reach the next session.
func (h *Handler) returnPrimes(p *mpc.Primes) {
	pool, ok := h.Primes.(PrimeReturner)
	if !ok || p == nil || p.P.BitLen() != paillier.PrimeBits || p.Q.BitLen() != paillier.PrimeBits {
		return
	}
	pool.Return(&mpc.Primes{P: new(big.Int).Set(p.P), Q: new(big.Int).Set(p.Q)})
}

// admitPrimes counts a revealed pair against the client's limit, or refuses
// it with RATE_LIMITED.
func (s *session) admitPrimes(ctx context.Context) error {
	l := s.h.Limits.withDefaults()
	now := s.h.now()
	retry, err := s.h.Store.TakeEvent(ctx, kindPrimes, s.client.ID, now, l.PrimePairs, l.ShareChangeWindow)
	if errors.Is(err, store.ErrRateLimited) {
		s.h.Metrics.Limited(metrics.LimitPrimes)
		return retryAfter("too many new Paillier keys for this client", retry, now)
	}
	if err != nil {
		return fail(wire.CodeServerError, "checking the client's limits failed")
	}
	return nil
}
