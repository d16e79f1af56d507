package party

import (
	"context"
	"errors"
	"time"

	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/server/store"
	"github.com/duetwallet/duet/wire"
)

// Limits bound how often a wallet's shares change and how many aborted
// sessions a client may cause. Every share change of the server's share is
// a chance for a lying device to probe the server's secrets (a backup, a
// refresh and a recovery each run a refresh with the device's messages), and
// every abort is a failed probe: both are counted in the store, so a restart
// or another replica on the same database does not reset them.
//
// The aux-info that follows key generation (a refresh of a share without
// aux info) completes the wallet's creation and is not counted; like key
// generation, it is bounded by the abort limit alone.
//
// Share changes are counted in fixed windows: a window opens with the
// wallet's first backup, refresh or recovery after the previous window
// ended, and at most ShareChanges sessions start in it. Adding a device
// (by a backup or by approval, whose approving session counts as well),
// removing one and removing a backup method count too; the backup drill, which changes nothing, does not. Every session that
// gets past its wallet lookup counts, whatever its outcome.
//
// Aborts are counted the same way per client: a protocol abort the device
// is to blame for, a frame that does not decode, a wrong acknowledgement.
// The Aborts-th abort within one AbortWindow locks the client out for
// Lockout; then its count starts over. Failures the client is not to blame
// for (a dropped socket, our own errors, an Error frame from the device) do
// not count.
//
// A refused session ends with RATE_LIMITED before any expensive work (no
// primes taken, no protocol message sent) and changes nothing stored but the
// counters.
type Limits struct {
	ShareChanges      int           // backup, refresh, recovery, add-device, device-removal and backup-removal sessions allowed per wallet per ShareChangeWindow; 0 → default 6
	ShareChangeWindow time.Duration // 0 → 1h
	Aborts            int           // protocol aborts (and bad frames) a client may cause per AbortWindow before it is locked out; 0 → default 5
	AbortWindow       time.Duration // 0 → 10m
	Lockout           time.Duration // how long a locked-out client is refused; 0 → 15m
	// PrimePairs is how many safe-prime pairs a client's sessions may
	// reveal per ShareChangeWindow (a creation and each refresh and
	// recovery make a new Paillier key); 0 → 2·ShareChanges + 2.
	PrimePairs int
	// Devices caps the devices of one wallet: an add-device beyond it is
	// refused with FORBIDDEN; 0 → 10.
	Devices int
}

// Kinds of events counted in the store.
const (
	kindShareChange = "share_change" // subject: wallet id
	kindAbort       = "abort"        // subject: client id
)

func (l Limits) withDefaults() Limits {
	if l.ShareChanges <= 0 {
		l.ShareChanges = 6
	}
	if l.PrimePairs <= 0 {
		l.PrimePairs = 2*l.ShareChanges + 2
	}
	if l.ShareChangeWindow <= 0 {
		l.ShareChangeWindow = time.Hour
	}
	if l.Aborts <= 0 {
		l.Aborts = 5
	}
	if l.AbortWindow <= 0 {
		l.AbortWindow = 10 * time.Minute
	}
	if l.Lockout <= 0 {
		l.Lockout = 15 * time.Minute
	}
	if l.Devices <= 0 {
		l.Devices = 10
	}
	return l
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// retryAfter is a refusal's message for a person: what happened and when to
// try again.
func retryAfter(what string, at, now time.Time) *wire.Error {
	wait := at.Sub(now)
	if r := wait % time.Second; r != 0 {
		wait += time.Second - r
	}
	return fail(wire.CodeRateLimited, "%s: try again after %s (in %v)", what, at.UTC().Format(time.RFC3339), wait)
}

// admitClient refuses a client that is locked out.
func (h *Handler) admitClient(ctx context.Context, clientID string) error {
	now := h.now()
	until, err := h.Store.LockedUntil(ctx, kindAbort, clientID, now)
	if err != nil {
		return fail(wire.CodeServerError, "checking the client's limits failed")
	}
	if !until.IsZero() {
		return retryAfter("too many failed sessions for this client", until, now)
	}
	return nil
}

// admitShareChange counts a backup, refresh, recovery, add-device or
// removal session of the wallet, once per session, and refuses it if the wallet has had its share
// of changes in the current window. Other operations pass.
func (s *session) admitShareChange(ctx context.Context, walletID string) error {
	switch s.op {
	case wire.OpBackup, wire.OpRefresh, wire.OpRecover, wire.OpRemoveBackup, wire.OpAddDevice, wire.OpRemoveDevice, wire.OpApproveDevice:
	default:
		return nil
	}
	if s.admitted {
		return nil
	}
	l := s.h.Limits.withDefaults()
	now := s.h.now()
	retry, err := s.h.Store.TakeEvent(ctx, kindShareChange, walletID, now, l.ShareChanges, l.ShareChangeWindow)
	if errors.Is(err, store.ErrRateLimited) {
		return retryAfter("too many backups, refreshes and recoveries of this wallet", retry, now)
	}
	if err != nil {
		return fail(wire.CodeServerError, "checking the wallet's limits failed")
	}
	s.admitted = true
	return nil
}

// clientFault is a failure the client is to blame for, which counts against
// its abort limit.
type clientFault struct{ err *wire.Error }

func (e *clientFault) Error() string { return e.err.Error() }
func (e *clientFault) Unwrap() error { return e.err }

func blame(code, format string, args ...any) error {
	return &clientFault{fail(code, format, args...)}
}

// causedByClient reports whether a session's failure counts as an abort of
// its client: a failed check on the device's protocol messages, a frame that
// did not decode, or a check of ours that the device's frame failed.
func causedByClient(err error) bool {
	var cf *clientFault
	var abort *mpc.AbortError
	switch {
	case errors.As(err, &cf):
		return true
	case errors.As(err, &abort):
		return abort.Culprit == mpc.Device
	}
	return errors.Is(err, wire.ErrFrame) || errors.Is(err, mpc.ErrMessage)
}

// countAbort counts an abort of the client and locks it out at the limit.
// It runs after the session's context may have ended, so it has its own.
func (h *Handler) countAbort(ctx context.Context, clientID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	l := h.Limits.withDefaults()
	until, err := h.Store.CountFailure(ctx, kindAbort, clientID, h.now(), l.Aborts, l.AbortWindow, l.Lockout)
	switch {
	case err != nil:
		h.log().Error("counting an abort failed", "client", clientID, "error", err)
	case !until.IsZero():
		h.log().Warn("client locked out after repeated aborts", "client", clientID, "until", until)
		h.alertLockout(ctx, clientID, until)
	}
}
