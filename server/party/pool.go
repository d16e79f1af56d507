package party

import (
	"context"
	"encoding/hex"
	"errors"
	"time"

	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/server/store"
	"github.com/duetwallet/duet/wire"
)

// The presignature pool. After aux-info and after each signature the device
// asks, in presign sessions of their own, for presignatures that both parties
// keep: the server in its store, sealed and bound to the wallet and the
// generation, the device in its sealed store. Both name a presignature by its
// psid, which both derive from the session. A sign session that names a psid
// takes the server's copy out of the store (read and delete in one
// statement) before σ is computed and sent, so a presignature signs at most
// once whatever fails after; a name the pool does not hold ends the session
// with NO_PRESIGNATURE and the device presigns inline. Activating a new
// generation deletes the older generations' presignatures.

const (
	defaultPoolSize = 3
	defaultPoolTTL  = 24 * time.Hour
)

func (h *Handler) poolSize() int {
	if h.PoolSize > 0 {
		return h.PoolSize
	}
	return defaultPoolSize
}

func (h *Handler) poolTTL() time.Duration {
	if h.PoolTTL > 0 {
		return h.PoolTTL
	}
	return defaultPoolTTL
}

// presign makes one presignature with the device and stores the server's
// copy. The pool keeps at most poolSize: an expired presignature, and the
// oldest when the pool is full, make room first (the device asks only when
// its own pool lacks one, so the server's surplus is what the device lost).
// Done tells the device that the server's copy is stored.
func (s *session) presign(ctx context.Context) error {
	share, err := s.signingShare(ctx)
	if share == nil {
		return err
	}
	defer share.Wipe()
	gen := share.Generation
	if err := s.h.Store.TrimPresignatures(ctx, s.walletID, gen, s.h.poolSize()-1, s.h.now().Add(-s.h.poolTTL())); err != nil {
		return fail(wire.CodeServerError, "trimming the presignature pool failed")
	}
	out, err := s.run(ctx, mpc.ProtocolPresign, gen, func(cfg mpc.Config) (mpc.Round, *mpc.Message, error) {
		return mpc.Presign(mpc.PresignConfig{Config: cfg, Share: share})
	})
	if err != nil {
		return err
	}
	// The device asks for presignatures when it is idle; so is the wallet.
	s.h.fillNonces(share)
	pre := out.(*mpc.Presignature)
	data, err := pre.MarshalBinary()
	if err != nil {
		return err
	}
	err = s.h.Store.PutPresignature(ctx, s.walletID, gen, hex.EncodeToString(pre.ID), data)
	clear(data)
	if errors.Is(err, store.ErrNoActiveShare) {
		return fail(wire.CodeBusy, "generation %d is no longer active", gen)
	}
	if err != nil {
		return fail(wire.CodeServerError, "storing the presignature failed")
	}
	return s.conn.Send(ctx, (&wire.Done{}).Frame())
}

// signPooled signs the session's digest with the pooled presignature the
// device named: one σ, sent only after the store deleted the presignature.
func (s *session) signPooled(ctx context.Context, share *mpc.KeyShare) error {
	id := hex.EncodeToString(s.hello.Presignature)
	if err := s.h.Store.TrimPresignatures(ctx, s.walletID, share.Generation, s.h.poolSize(), s.h.now().Add(-s.h.poolTTL())); err != nil {
		return fail(wire.CodeServerError, "trimming the presignature pool failed")
	}
	data, err := s.h.Store.TakePresignature(ctx, s.walletID, share.Generation, id)
	if errors.Is(err, store.ErrNotFound) {
		return fail(wire.CodeNoPresignature, "no pooled presignature %s of generation %d", id, share.Generation)
	}
	if err != nil {
		return fail(wire.CodeServerError, "taking the presignature failed")
	}
	pre := new(mpc.Presignature)
	err = pre.UnmarshalBinary(data)
	clear(data)
	if err != nil {
		return fail(wire.CodeServerError, "stored presignature is corrupt")
	}
	if pre.Generation != share.Generation || string(pre.SSID) != string(share.SSID) || pre.Self != mpc.Server {
		return fail(wire.CodeServerError, "stored presignature is of another share")
	}
	return s.sendSigma(ctx, pre)
}
