package party

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/mpc/curve"
	"github.com/duetwallet/duet/server/store"
	"github.com/duetwallet/duet/wire"
)

// A device joins a wallet by approval in two sessions, which may run on two
// replicas and meet in the store. The new device B's add-device session
// (Method "approval") stores B's CPace message as a request and waits; an
// existing device A's approve-device session proves A holds its signing
// share, hands A the request, and stores A's answer: δ, A's CPace message
// and B's starting share x_A+δ sealed under the key B and A derive from the
// code. B's session then takes the wallet's lock, makes the server's
// starting share x_S−δ from its share of A's pair (which must still be the
// pair A answered for), hands B the answer, and once B opened it refreshes
// the starting pair into B's own and commits it as a recovery does, leaving
// A's pair alone. The server never sees the code, the key, x_A or B's share;
// it learns δ, which it wipes once used. The request row goes when B's
// session ends, or, once B's session settled it as opened or failed (which
// drops δ and the sealed share from it), when A's session has read that
// outcome; one neither session deleted is purged later.

// approvalPoll is how often a session waiting for the other one reads the
// request.
const approvalPoll = 250 * time.Millisecond

func (h *Handler) approvalTTL() time.Duration {
	if h.ApprovalTTL > 0 {
		return h.ApprovalTTL
	}
	return 5 * time.Minute
}

func (h *Handler) approvalWait() time.Duration {
	if h.ApprovalWait > 0 {
		return h.ApprovalWait
	}
	return 2 * time.Minute
}

// addByApproval is the new device's session.
func (s *session) addByApproval(ctx context.Context) error {
	if err := s.needDeviceID(); err != nil {
		return err
	}
	if err := s.loadWallet(ctx, false); err != nil {
		return err
	}
	d, err := s.conn.RecvData(ctx, "approval-request")
	if err != nil {
		return err
	}
	msg, err := wire.ParseApprovalMessage(d.Body)
	if err != nil {
		return err
	}
	rid := make([]byte, 16)
	if _, err := io.ReadFull(s.h.rand(), rid); err != nil {
		return err
	}
	id, now := hex.EncodeToString(rid), s.h.now()
	req := store.Approval{
		ID: id, WalletID: s.walletID, Device: s.device,
		SID:     append(append([]byte(nil), s.nonce...), s.hello.Nonce...),
		Request: msg, CreatedAt: now, ExpiresAt: now.Add(s.h.approvalTTL()),
	}
	if err := s.h.Store.PutApproval(ctx, req); err != nil {
		return fail(wire.CodeServerError, "storing the approval request failed")
	}
	// A request this session settled (opened or failed) is left for the
	// approving device's session, which deletes it once it read the
	// outcome; any other goes with this session.
	settled := false
	defer func() {
		if !settled {
			s.dropApproval(ctx, id)
		}
	}()
	if err := s.conn.Send(ctx, (&wire.Data{Kind: "approval-waiting"}).Frame()); err != nil {
		return err
	}
	a, err := s.awaitApproval(ctx, id)
	if err != nil {
		return err
	}
	defer clear(a.Delta)
	start, err := s.approvedStart(ctx, a)
	if err != nil {
		return err
	}
	defer start.Wipe()
	resp := &wire.ApprovalResponse{Latest: s.wallet.ActiveGeneration, Message: a.Response, Ciphertext: a.Ciphertext}
	if err := s.conn.Send(ctx, (&wire.Data{Kind: "approval", Body: resp.Marshal()}).Frame()); err != nil {
		return err
	}
	f, err := s.conn.Recv(ctx)
	if err != nil {
		var we *wire.Error
		if errors.As(err, &we) && we.Code == wire.CodeApprovalFailed {
			settled = s.moveApproval(ctx, id, store.ApprovalFailed) == nil
		}
		return err
	}
	if _, err := wire.ParseData(f, "opened"); err != nil {
		return err
	}
	if err := s.moveApproval(ctx, id, store.ApprovalOpened); err != nil {
		return err
	}
	settled = true
	// The device searches for its primes before it answers.
	if f, err = s.conn.RecvWithin(ctx, s.h.primeTimeout()); err != nil {
		return err
	}
	if _, err := wire.ParseData(f, "ready"); err != nil {
		return err
	}
	gen, startPair := s.wallet.ActiveGeneration, start.PublicDigest()
	next, err := s.refreshWithPrimes(ctx, gen, func(cfg mpc.Config, primes *mpc.Primes) mpc.RefreshConfig {
		cfg.SessionID = wire.ApprovalRefreshSessionID(s.walletID, gen, s.hello.Nonce, s.nonce, startPair)
		return mpc.RefreshConfig{Config: cfg, Share: start, Primes: primes, Generation: gen + 1}
	})
	if err != nil {
		return err
	}
	if err := s.storeAndCommit(ctx, next); err != nil {
		return err
	}
	s.target = s.device
	return nil
}

// dropApproval deletes the session's request; the session's context may be
// over.
func (s *session) dropApproval(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.h.Store.DeleteApproval(ctx, id); err != nil {
		s.h.log().Warn("deleting an approval request failed; it is purged later", "wallet", s.walletID, "error", err)
	}
}

// moveApproval moves the request on from approved, for the approving
// device's session to see.
func (s *session) moveApproval(ctx context.Context, id string, to store.ApprovalState) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := s.h.Store.SetApprovalState(ctx, id, store.ApprovalApproved, to)
	if err != nil {
		s.h.log().Warn("recording the approval's outcome failed", "wallet", s.walletID, "state", to, "error", err)
		return fail(wire.CodeServerError, "recording the approval's outcome failed")
	}
	return nil
}

// awaitApproval reads the request until a device approved it, it expired,
// a newer one replaced it, or the session ends.
func (s *session) awaitApproval(ctx context.Context, id string) (store.Approval, error) {
	t := time.NewTicker(approvalPoll)
	defer t.Stop()
	for {
		a, err := s.h.Store.GetApproval(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return a, fail(wire.CodeApprovalFailed, "a newer request replaced this one")
		case err != nil && ctx.Err() != nil:
			return a, fmt.Errorf("party: waiting for an approval: %w", ctx.Err())
		case err != nil:
			return a, fail(wire.CodeServerError, "reading the approval request failed")
		case a.State == store.ApprovalApproved:
			return a, nil
		case a.State != store.ApprovalPending:
			return a, fail(wire.CodeApprovalFailed, "the approval request ended")
		case !s.h.now().Before(a.ExpiresAt):
			return a, fail(wire.CodeApprovalFailed, "no device approved this request in time")
		}
		select {
		case <-ctx.Done():
			return a, fmt.Errorf("party: waiting for an approval: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// approvedStart takes the wallet's lock, as a share change does, and makes
// the server's starting share from its share of the approving device's pair
// shifted by −δ. The approving device must still hold the pair it answered
// for, and the new device still none.
func (s *session) approvedStart(ctx context.Context, a store.Approval) (*mpc.KeyShare, error) {
	if err := s.awaitLock(ctx, s.walletID); err != nil {
		return nil, err
	}
	w, err := s.h.Store.Wallet(ctx, s.walletID)
	if err != nil {
		return nil, fail(wire.CodeServerError, "loading the wallet failed")
	}
	if w.PendingGeneration != 0 {
		// Left by an interrupted share change: nobody else holds the lock.
		if err := s.h.Store.DropPending(ctx, w.ID, w.PendingGeneration); err != nil && !errors.Is(err, store.ErrNotPending) {
			return nil, fail(wire.CodeServerError, "dropping a pending generation failed")
		}
		w.PendingGeneration = 0
	}
	s.wallet = w
	switch _, err := s.h.Store.DeviceShare(ctx, w.ID, s.device); {
	case err == nil:
		return nil, fail(wire.CodeWalletExists, "this device already has a signing pair of the wallet")
	case !errors.Is(err, store.ErrNotFound):
		return nil, fail(wire.CodeServerError, "loading the server share failed")
	}
	if err := s.admitDevice(ctx); err != nil {
		return nil, err
	}
	sh, err := s.h.Store.DeviceShare(ctx, w.ID, a.ApproverDevice)
	if errors.Is(err, store.ErrNotFound) || (err == nil && sh.Generation != a.ApproverGeneration) {
		return nil, fail(wire.CodeApprovalFailed, "the approving device's pair changed; approve again")
	}
	if err != nil {
		return nil, fail(wire.CodeServerError, "loading the server share failed")
	}
	own := new(mpc.KeyShare)
	if err := own.UnmarshalBinary(sh.Data); err != nil {
		return nil, fail(wire.CodeServerError, "stored server share is corrupt")
	}
	defer own.Wipe()
	delta, err := curve.ScalarFromBytes(a.Delta)
	if err != nil {
		return nil, fail(wire.CodeServerError, "the stored approval is corrupt")
	}
	neg := delta.Negate()
	delta.Zero()
	defer neg.Zero()
	return own.Shift(neg), nil
}

// approveDevice is the approving device's session.
func (s *session) approveDevice(ctx context.Context) error {
	share, err := s.heldShare(ctx)
	if share == nil {
		return err
	}
	defer share.Wipe()
	sid := wire.ApproveDeviceSessionID(s.walletID, share.Generation, s.hello.Nonce, s.nonce)
	if err := s.proveHeld(ctx, share, sid); err != nil {
		return err
	}
	a, err := s.h.Store.PendingApproval(ctx, s.walletID, s.h.now())
	if errors.Is(err, store.ErrNotFound) {
		return fail(wire.CodeApprovalFailed, "no device is waiting for approval")
	}
	if err != nil {
		return fail(wire.CodeServerError, "loading the approval request failed")
	}
	dev, err := hex.DecodeString(a.Device)
	if err != nil || len(dev) != wire.DeviceIDSize || len(a.SID) != 64 {
		return fail(wire.CodeServerError, "the stored approval request is corrupt")
	}
	s.target = a.Device
	req := &wire.ApprovalRequest{Device: dev, ServerNonce: a.SID[:32], DeviceNonce: a.SID[32:], Message: a.Request, Expires: uint64(a.ExpiresAt.Unix())}
	if err := s.conn.Send(ctx, (&wire.Data{Kind: "approval-request", Body: req.Marshal()}).Frame()); err != nil {
		return err
	}
	d, err := s.conn.RecvData(ctx, "approval")
	if err != nil {
		return err
	}
	ap, err := wire.ParseApproval(d.Body)
	clear(d.Body)
	if err != nil {
		return err
	}
	answer := store.Approval{ApproverDevice: s.device, ApproverGeneration: share.Generation, Delta: ap.Delta, Response: ap.Message, Ciphertext: ap.Ciphertext}
	err = s.h.Store.Approve(ctx, a.ID, s.h.now(), answer)
	clear(ap.Delta)
	if errors.Is(err, store.ErrApprovalState) || errors.Is(err, store.ErrNotFound) {
		return fail(wire.CodeApprovalFailed, "the request is no longer waiting: it expired, a newer one replaced it, or another device approved it first")
	}
	if err != nil {
		return fail(wire.CodeServerError, "storing the approval failed")
	}
	return s.awaitOpened(ctx, a.ID)
}

// awaitOpened reads the request until the new device opened its share or
// could not, its session ended, or it did not answer in time.
func (s *session) awaitOpened(ctx context.Context, id string) error {
	t := time.NewTicker(approvalPoll)
	defer t.Stop()
	deadline := time.Now().Add(s.h.approvalWait())
	for {
		a, err := s.h.Store.GetApproval(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return fail(wire.CodeApprovalFailed, "the new device's session ended before it opened the approval")
		case err != nil && ctx.Err() != nil:
			return fmt.Errorf("party: waiting for the new device: %w", ctx.Err())
		case err != nil:
			return fail(wire.CodeServerError, "reading the approval request failed")
		case a.State == store.ApprovalOpened:
			s.dropApproval(ctx, id)
			return s.conn.Send(ctx, (&wire.Done{}).Frame())
		case a.State == store.ApprovalFailed:
			s.dropApproval(ctx, id)
			return fail(wire.CodeApprovalFailed, "the new device could not open the approval: the code did not match")
		case time.Now().After(deadline):
			return fail(wire.CodeApprovalFailed, "the new device did not answer")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("party: waiting for the new device: %w", ctx.Err())
		case <-t.C:
		}
	}
}
