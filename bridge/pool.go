package bridge

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"math/big"
	"time"

	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/mpc/paillier"
	"github.com/duetwallet/duet/wire"
)

// The device's presignature pool and spare primes, kept sealed in its store.
//
// The pool's index (keyPoolIndex) lists the pooled presignatures of the
// active generation, each stored under keyPoolPrefix + its psid in hex. A
// presignature is put before it is listed and deleted before it is used: the
// device deletes its copy durably before it names the presignature to the
// server, so a crash or a cut socket can lose a presignature but never sign
// twice with one. The server deletes its copy before it sends σ.

const (
	keyPoolIndex  = "presig/index"
	keyPoolPrefix = "presig/"
	keySpare      = "primes/spare"

	// DefaultPoolSize is how many presignatures the device keeps.
	DefaultPoolSize = 3
	// DefaultPoolTTL is how long a pooled presignature stays usable; the
	// server keeps its copy as long.
	DefaultPoolTTL = 24 * time.Hour
	maxPoolIndex   = 64
	maxSparePrimes = 8
)

type poolEntry struct {
	id      []byte
	gen     uint64
	created int64 // Unix seconds
}

func (d *Device) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Device) poolSize() int {
	if d.PoolSize > 0 {
		return d.PoolSize
	}
	return DefaultPoolSize
}

func (d *Device) poolTTL() time.Duration {
	if d.PoolTTL > 0 {
		return d.PoolTTL
	}
	return DefaultPoolTTL
}

func (d *Device) poolIndex(ctx context.Context) ([]poolEntry, error) {
	b, err := d.Store.Get(ctx, keyPoolIndex)
	if err != nil || b == nil {
		return nil, err
	}
	dec := codec.NewDecoder(b)
	n := dec.Count(maxPoolIndex)
	out := make([]poolEntry, 0, n)
	for range n {
		out = append(out, poolEntry{id: dec.VarBytes(32), gen: dec.Uint64(), created: int64(dec.Uint64())})
	}
	if err := dec.Finish(); err != nil {
		// An index that does not decode lists nothing usable; the entries
		// it named are lost, never reused.
		return nil, nil
	}
	return out, nil
}

func (d *Device) putPoolIndex(ctx context.Context, entries []poolEntry, gen uint64) error {
	if len(entries) == 0 {
		return d.Store.Delete(ctx, keyPoolIndex)
	}
	e := codec.NewEncoder(64 * len(entries)).Uint32(uint32(len(entries)))
	for _, x := range entries {
		e.VarBytes(x.id).Uint64(x.gen).Uint64(uint64(x.created))
	}
	return d.put(ctx, keyPoolIndex, e.Bytes(), gen)
}

// Pooled reports how many usable presignatures of the active generation
// the device holds.
func (d *Device) Pooled(ctx context.Context) (int, error) {
	active, _, err := d.loadShares(ctx)
	if err != nil || active == nil {
		return 0, err
	}
	entries, err := d.poolIndex(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, x := range entries {
		if d.usable(x, active.Generation) {
			n++
		}
	}
	return n, nil
}

func (d *Device) usable(x poolEntry, gen uint64) bool {
	return x.gen == gen && d.now().Before(time.Unix(x.created, 0).Add(d.poolTTL()))
}

// dropPool deletes every pooled presignature.
func (d *Device) dropPool(ctx context.Context) error {
	entries, err := d.poolIndex(ctx)
	if err != nil {
		return err
	}
	for _, x := range entries {
		if err := d.Store.Delete(ctx, keyPoolPrefix+hex.EncodeToString(x.id)); err != nil {
			return err
		}
	}
	return d.Store.Delete(ctx, keyPoolIndex)
}

// takePresignature removes one usable presignature of share's generation
// from the store, durably, and returns it; nil if the pool has none. Expired
// presignatures and those of other generations are deleted on the way.
func (d *Device) takePresignature(ctx context.Context, share *mpc.KeyShare) (*mpc.Presignature, error) {
	entries, err := d.poolIndex(ctx)
	if err != nil || len(entries) == 0 {
		return nil, err
	}
	var keep []poolEntry
	var pre *mpc.Presignature
	for _, x := range entries {
		name := keyPoolPrefix + hex.EncodeToString(x.id)
		if !d.usable(x, share.Generation) || pre != nil {
			if d.usable(x, share.Generation) {
				keep = append(keep, x)
				continue
			}
			if err := d.Store.Delete(ctx, name); err != nil {
				return nil, err
			}
			continue
		}
		b, err := d.Store.Get(ctx, name)
		if err != nil {
			return nil, err
		}
		// Deleted before anything is made of it.
		if err := d.Store.Delete(ctx, name); err != nil {
			return nil, err
		}
		if b == nil {
			continue
		}
		p := new(mpc.Presignature)
		err = p.UnmarshalBinary(b)
		clear(b)
		if err != nil || !bytes.Equal(p.ID, x.id) || p.Generation != share.Generation || !bytes.Equal(p.SSID, share.SSID) || p.Self != share.Self {
			continue
		}
		pre = p
	}
	if err := d.putPoolIndex(ctx, keep, share.Generation); err != nil {
		return nil, err
	}
	return pre, nil
}

// addPresignature stores a presignature and then lists it.
func (d *Device) addPresignature(ctx context.Context, p *mpc.Presignature) error {
	b, err := p.MarshalBinary()
	if err != nil {
		return err
	}
	err = d.put(ctx, keyPoolPrefix+hex.EncodeToString(p.ID), b, p.Generation)
	clear(b)
	if err != nil {
		return err
	}
	entries, err := d.poolIndex(ctx)
	if err != nil {
		return err
	}
	var keep []poolEntry
	for _, x := range entries {
		if x.gen == p.Generation {
			keep = append(keep, x)
		}
	}
	keep = append(keep, poolEntry{id: bytes.Clone(p.ID), gen: p.Generation, created: d.now().Unix()})
	return d.putPoolIndex(ctx, keep, p.Generation)
}

// IsSigningReady reports whether the device's active share has its aux info
// and was, at the last Welcome, of the device's pair on the server (not
// stale, removed or retired).
func (d *Device) IsSigningReady(ctx context.Context) (bool, error) {
	active, _, err := d.loadShares(ctx)
	if err != nil || active == nil || active.Aux == nil {
		return false, err
	}
	stale, err := d.Store.Get(ctx, keyStale)
	return stale == nil && err == nil, err
}

// FinishAux runs aux-info for a wallet whose key generation committed
// without it (the device's first session after createWallet, or the next
// connect after a tab closed mid-aux-info). It does nothing for a wallet
// that is signing-ready already.
func (d *Device) FinishAux(ctx context.Context) (*WalletInfo, error) {
	active, pending, err := d.loadShares(ctx)
	if err != nil {
		return nil, err
	}
	if active == nil && pending == nil {
		return nil, codeErr(wire.CodeNoWallet, "bridge: no wallet on this device")
	}
	if pending == nil && active.Aux != nil {
		return nil, nil
	}
	d.progress(Progress{Phase: "aux"})
	// A session that ended a moment ago (an aux-info cut by a closed tab,
	// or one that failed) may hold the wallet's lock until the server sees
	// its end: BUSY is retried a few times rather than failing.
	wait := 100 * time.Millisecond
	var info *WalletInfo
	for try := 0; ; try++ {
		info, err = d.refresh(ctx, true)
		if Code(err) != wire.CodeBusy || try == 6 {
			break
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
		wait *= 2
	}
	if err != nil {
		return nil, err
	}
	d.progress(Progress{Phase: "signingReady"})
	return info, nil
}

// FillPool makes presignatures, one session each, until the device holds
// the pool's size. It returns how many it made.
func (d *Device) FillPool(ctx context.Context) (int, error) {
	made := 0
	for {
		n, err := d.Pooled(ctx)
		if err != nil || n >= d.poolSize() {
			return made, err
		}
		if err := d.presignOnce(ctx); err != nil {
			return made, err
		}
		made++
	}
}

func (d *Device) presignOnce(ctx context.Context) error {
	s, err := d.open(ctx, wire.OpPresign, wire.Hello{})
	if err != nil {
		return err
	}
	defer s.close()
	share, err := s.needActive(ctx)
	if err != nil {
		return err
	}
	if share.Aux == nil {
		return s.fail(ctx, wire.CodeNotSigningReady, errors.New("bridge: aux-info has not run"))
	}
	out, err := s.run(ctx, mpc.ProtocolPresign, share.Generation, func(cfg mpc.Config) (mpc.Round, *mpc.Message, error) {
		return mpc.Presign(mpc.PresignConfig{Config: cfg, Share: share})
	})
	if err != nil {
		return err
	}
	pre := out.(*mpc.Presignature)
	// The server's Done says its copy is stored; without it the device
	// keeps nothing, so that the pools differ only by what the server holds
	// in surplus, which it trims.
	f, err := s.conn.Recv(ctx)
	if err != nil {
		return err
	}
	if _, err := wire.ParseDone(f); err != nil {
		return err
	}
	return d.addPresignature(ctx, pre)
}

// Spare primes: safe primes found ahead of time, kept sealed for the next
// Paillier key (a wallet's aux-info, a refresh, a recovery).

func (d *Device) sparePrimes(ctx context.Context) ([]*mpc.Primes, error) {
	b, err := d.Store.Get(ctx, keySpare)
	if err != nil || b == nil {
		return nil, err
	}
	defer clear(b)
	dec := codec.NewDecoder(b)
	n := dec.Count(maxSparePrimes)
	out := make([]*mpc.Primes, 0, n)
	for range n {
		out = append(out, &mpc.Primes{P: dec.Nat(paillier.PrimeBits), Q: dec.Nat(paillier.PrimeBits)})
	}
	if dec.Finish() != nil {
		return nil, nil
	}
	return out, nil
}

func (d *Device) putSparePrimes(ctx context.Context, ps []*mpc.Primes) error {
	if len(ps) == 0 {
		return d.Store.Delete(ctx, keySpare)
	}
	e := codec.NewEncoder(260 * len(ps)).Uint32(uint32(len(ps)))
	for _, p := range ps {
		e.Nat(p.P).Nat(p.Q)
	}
	b := e.Bytes()
	defer clear(b)
	return d.Store.Put(ctx, keySpare, b)
}

// encodePrimes and decodePrimes carry one set of primes between the
// device module and the worker that keeps it.
func encodePrimes(p *mpc.Primes) []byte {
	return codec.NewEncoder(260).Nat(p.P).Nat(p.Q).Bytes()
}

func decodePrimes(b []byte) (*mpc.Primes, error) {
	dec := codec.NewDecoder(b)
	p := &mpc.Primes{P: dec.Nat(paillier.PrimeBits), Q: dec.Nat(paillier.PrimeBits)}
	if err := dec.Finish(); err != nil {
		return nil, codeErr(wire.CodeInvalidArgument, "bridge: primes: %v", err)
	}
	return p, nil
}

// SparePrimes reports how many spare primes the device holds.
func (d *Device) SparePrimes(ctx context.Context) (int, error) {
	ps, err := d.sparePrimes(ctx)
	return len(ps), err
}

// AddSparePrimes keeps a set of primes for a later key, up to the store's
// limit; it reports whether they were kept.
func (d *Device) AddSparePrimes(ctx context.Context, p *mpc.Primes) (bool, error) {
	if p == nil || p.P == nil || p.Q == nil {
		return false, codeErr(wire.CodeInvalidArgument, "bridge: bad primes")
	}
	if _, err := paillier.NewSecretKey(p.P, p.Q); err != nil {
		return false, codeErr(wire.CodeInvalidArgument, "bridge: bad primes: %v", err)
	}
	for _, x := range []*big.Int{p.P, p.Q} {
		if !x.ProbablyPrime(20) || !new(big.Int).Rsh(x, 1).ProbablyPrime(20) {
			return false, codeErr(wire.CodeInvalidArgument, "bridge: bad primes: not safe primes")
		}
	}
	ps, err := d.sparePrimes(ctx)
	if err != nil || len(ps) >= maxSparePrimes {
		return false, err
	}
	return true, d.putSparePrimes(ctx, append(ps, p))
}

// takeSparePrimes removes one set of spare primes from the store, durably,
// so that no two keys are made from one set; nil if none is left.
func (d *Device) takeSparePrimes(ctx context.Context) (*mpc.Primes, error) {
	ps, err := d.sparePrimes(ctx)
	if err != nil || len(ps) == 0 {
		return nil, err
	}
	p := ps[len(ps)-1]
	if err := d.putSparePrimes(ctx, ps[:len(ps)-1]); err != nil {
		return nil, err
	}
	if _, err := paillier.NewSecretKey(p.P, p.Q); err != nil {
		return nil, nil
	}
	return p, nil
}

// StockPrimes searches for one set of safe primes with the device's prime
// source and keeps it as a spare; it reports whether it was kept (the store
// keeps a few at most).
func (d *Device) StockPrimes(ctx context.Context) (bool, error) {
	if n, err := d.SparePrimes(ctx); err != nil || n >= maxSparePrimes {
		return false, err
	}
	if d.Primes == nil {
		return false, codeErr(wire.CodeInternal, "bridge: no prime source")
	}
	p, err := d.Primes(ctx)
	if err != nil {
		return false, err
	}
	return d.AddSparePrimes(ctx, p)
}
