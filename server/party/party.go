// Package party is the server party of Duet: the WebSocket endpoint where a
// client's device runs each operation (create, sign, back up, recover, eject,
// refresh) with the server's share, and where share changes commit in two
// phases (docs/ARCHITECTURE.md §3). It keeps nothing between sessions but what it puts
// in the store; a bad frame, a lying peer or a dropped socket ends the
// session and changes nothing stored.
package party

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/server/apikey"
	"github.com/duetwallet/duet/server/custodian"
	"github.com/duetwallet/duet/server/metrics"
	"github.com/duetwallet/duet/server/store"
	"github.com/duetwallet/duet/wire"
)

// PrimeSource hands out fresh safe primes for new Paillier keys.
type PrimeSource interface {
	Primes(ctx context.Context) (*mpc.Primes, error)
}

// CustodianFor returns the client of an organization's custodian store.
type CustodianFor func(ctx context.Context, orgID string) (*custodian.Client, error)

// Handler serves /v1/session.
type Handler struct {
	Store     store.Store
	Custodian CustodianFor
	Primes    PrimeSource
	Log       *slog.Logger
	Rand      io.Reader
	// OriginPatterns lists the page origins allowed to open sessions
	// (websocket.AcceptOptions.OriginPatterns); same-origin is always allowed.
	OriginPatterns []string
	// FrameTimeout bounds each wait for the device (default one minute).
	FrameTimeout time.Duration
	// MaxSessionsPerClient caps concurrent sessions of one client (default
	// 4), across every replica on the database (store.SessionSlots).
	MaxSessionsPerClient int
	// Sockets cap the open sockets of this process and the wait for Hello.
	Sockets SocketLimits
	// PrimeTimeout bounds the wait for a device that searches for its
	// Paillier primes mid-session (a recovery); default five minutes.
	PrimeTimeout time.Duration
	// BaseContext, when it ends, ends every session (server shutdown).
	BaseContext context.Context
	// Limits bound share changes per wallet and aborts per client.
	Limits Limits
	// Now is the clock of the limits; time.Now if nil.
	Now func() time.Time
	// LockLease is how long the wallet's change lock, which a refresh or
	// recovery holds in the database, and a session's slot among its
	// client's, outlive a session that stops renewing them (a crashed
	// replica); default two minutes. A live session renews them every third
	// of the lease.
	LockLease time.Duration
	// Metrics, if set, records each session's operation, outcome and time.
	Metrics *metrics.Sessions
	// PoolSize caps the presignatures kept per wallet and generation
	// (default 3); PoolTTL is how long one stays usable (default 24 hours).
	PoolSize int
	PoolTTL  time.Duration
	// ApprovalTTL is how long a new device's request to be approved waits
	// for an approving device (default five minutes); ApprovalWait how long
	// the approving device's session waits for the new device to open the
	// approval (default two minutes).
	ApprovalTTL  time.Duration
	ApprovalWait time.Duration
	// Nonces is how many presigning runs' worth of Paillier nonces the
	// server precomputes per wallet for its next inline signatures (default
	// 1; negative: none).
	Nonces int

	socks sockets

	nonces nonceRegistry
}

func (h *Handler) rand() io.Reader {
	if h.Rand != nil {
		return h.Rand
	}
	return rand.Reader
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

// ServeHTTP upgrades the request and serves one session.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	gate := h.admitSocket(w, r)
	if gate == nil {
		return
	}
	defer gate.close()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	ws, err := websocket.Accept(gate.watch(w, cancel), r, &websocket.AcceptOptions{OriginPatterns: h.OriginPatterns})
	if err != nil {
		return
	}
	defer ws.CloseNow()
	timeout := h.FrameTimeout
	if timeout == 0 {
		timeout = time.Minute
	}
	if h.BaseContext != nil {
		stop := context.AfterFunc(h.BaseContext, cancel)
		defer stop()
	}
	conn := wire.NewConn(ws, timeout)
	s := &session{h: h, conn: conn, cancel: cancel, gate: gate}
	start := time.Now()
	err = gate.leftEarly(s.serve(ctx))
	h.Metrics.Observe(s.op, start, err)
	h.audit(ctx, s, err)
	we := sessionError(err)
	switch {
	case err == nil:
		conn.Close()
	case we != nil:
		// Our log keeps the whole error, the failed check included; the
		// peer gets only we.Message.
		h.log().Info("session failed", "op", s.op, "wallet", s.walletID, "client", s.client.ID, "code", we.Code, "error", err)
		// Counted before the device hears of it, so that its next session
		// already sees the count.
		if s.client.ID != "" && causedByClient(err) {
			h.countAbort(ctx, s.client.ID)
		}
		conn.Fail(ctx, we)
	default:
		h.log().Info("session ended", "op", s.op, "wallet", s.walletID, "client", s.client.ID, "error", err)
	}
}

// primeTimeout bounds the wait for a device searching for its primes.
func (h *Handler) primeTimeout() time.Duration {
	if h.PrimeTimeout != 0 {
		return h.PrimeTimeout
	}
	return 5 * time.Minute
}

// sessionError gives a failure the code the device is told: the session's
// own coded errors, a failed protocol check, or a frame that did not decode.
// Socket failures get none: there is nobody left to tell.
func sessionError(err error) *wire.Error {
	var we *wire.Error
	var abort *mpc.AbortError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &we):
		return we
	case errors.As(err, &abort):
		return fail(wire.CodeProtocolAbort, "%s", abort.PeerMessage())
	case errors.Is(err, wire.ErrFrame) || errors.Is(err, mpc.ErrMessage):
		return fail(wire.CodeBadFrame, "%v", err)
	}
	return nil
}

func (h *Handler) lockLease() time.Duration {
	if h.LockLease > 0 {
		return h.LockLease
	}
	return 2 * time.Minute
}

// lockWallet takes the wallet's change lock in the store, shared by every
// replica, and renews it until the session releases it. If a renewal finds
// the lock taken by another holder, the session is ended: its share change
// is no longer the only one.
func (s *session) lockWallet(ctx context.Context, walletID string) error {
	holder := make([]byte, 16)
	if _, err := io.ReadFull(s.h.rand(), holder); err != nil {
		return err
	}
	id, lease := fmt.Sprintf("%x", holder), s.h.lockLease()
	err := s.h.Store.LockWallet(ctx, walletID, id, lease)
	if errors.Is(err, store.ErrLocked) {
		return fail(wire.CodeBusy, "another change of this wallet is running")
	}
	if err != nil {
		return fail(wire.CodeServerError, "locking the wallet failed")
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(lease / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if err := s.h.Store.LockWallet(ctx, walletID, id, lease); errors.Is(err, store.ErrLocked) {
					s.h.log().Warn("wallet lock lost", "wallet", walletID)
					s.cancel()
					return
				}
			}
		}
	}()
	s.unlock = func() {
		close(stop)
		<-done
		// The session's context may be over; the release must still run.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := s.h.Store.UnlockWallet(uctx, walletID, id); err != nil {
			s.h.log().Warn("releasing the wallet lock failed; it lapses with its lease", "wallet", walletID, "error", err)
		}
	}
	return nil
}

// awaitLock takes a lock for a device that may be reconnecting after a
// dropped socket (with a pending share, or to create its wallet again): the
// session it left may not have seen the drop yet, so a held lock is tried
// again for a moment before the device is told BUSY.
func (s *session) awaitLock(ctx context.Context, walletID string) error {
	for try := 0; ; try++ {
		err := s.lockWallet(ctx, walletID)
		var we *wire.Error
		if err == nil || !errors.As(err, &we) || we.Code != wire.CodeBusy || try == 20 {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// heldShare loads the wallet and the server's active share, for a session
// of a device that holds the active generation. It returns a nil share when
// the session ends here: with err, or with nil when the device holds
// another generation (the Welcome told it which, and it reconciles).
func (s *session) heldShare(ctx context.Context) (*mpc.KeyShare, error) {
	if err := s.loadWallet(ctx, false); err != nil {
		return nil, err
	}
	if !s.deviceHolds() {
		return nil, nil
	}
	return s.activeShare(ctx)
}

// signingShare is heldShare for presigning, which needs the aux-info that
// follows key generation.
func (s *session) signingShare(ctx context.Context) (*mpc.KeyShare, error) {
	share, err := s.heldShare(ctx)
	if share == nil {
		return nil, err
	}
	if share.Aux == nil {
		share.Wipe()
		return nil, fail(wire.CodeNotSigningReady, "aux-info of this wallet has not run yet")
	}
	return share, nil
}

// release gives back the wallet lock, if the session holds it.
func (s *session) release() {
	if s.unlock != nil {
		s.unlock()
		s.unlock = nil
	}
}

func fail(code, format string, args ...any) *wire.Error {
	return &wire.Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

type session struct {
	h        *Handler
	conn     *wire.Conn
	gate     *socketGate
	cancel   context.CancelFunc
	unlock   func() // releases the wallet lock; nil when not held
	op       string
	hello    *wire.Hello
	client   store.Client
	wallet   store.Wallet
	walletID string
	// device is the id (hex) the Hello presented; active is that device's
	// active share, named in Welcome, and gen its generation (0: none).
	device string
	active *store.Share
	gen    uint64
	// target is the device an add-device or remove-device session is
	// about, for the audit log and the webhook event.
	target   string
	nonce    []byte
	admitted bool // the session counts against the wallet's share changes
}

func (s *session) serve(ctx context.Context) error {
	// Whatever ends the session, a failed send included, gives the
	// wallet lock back.
	defer s.release()
	f, err := s.recvHello(ctx)
	if err != nil {
		return err
	}
	hello, err := wire.ParseHello(f)
	if err != nil {
		return err
	}
	s.hello, s.op, s.device = hello, hello.Op, hex.EncodeToString(hello.Device)
	client, err := s.h.Store.AuthenticateClient(ctx, hello.APIKey)
	if err != nil {
		if errors.Is(err, store.ErrTokenExpired) {
			return fail(wire.CodeUnauthorized, "the session token has expired")
		}
		if errors.Is(err, store.ErrUnauthenticated) || errors.Is(err, store.ErrNotFound) {
			return fail(wire.CodeUnauthorized, "invalid client API key")
		}
		return fail(wire.CodeServerError, "authentication failed")
	}
	s.client = client
	if err := s.h.admitClient(ctx, client.ID); err != nil {
		return err
	}
	leave, err := s.takeSessionSlot(ctx)
	if err != nil {
		return err
	}
	defer leave()
	// Redundant: wire.ParseHello reads the nonce with codec's Fixed(32), so
	// every Hello that parses has a 32-byte nonce; kept so that the session
	// id's freshness does not rest on the decoder alone.
	if len(hello.Nonce) != 32 {
		return blame(wire.CodeBadFrame, "nonce must be 32 bytes")
	}
	s.nonce = make([]byte, 32)
	if _, err := io.ReadFull(s.h.rand(), s.nonce); err != nil {
		return err
	}
	switch hello.Op {
	case wire.OpKeygen:
		return s.keygen(ctx)
	case wire.OpSign:
		return s.sign(ctx)
	case wire.OpBackup:
		return s.backup(ctx)
	case wire.OpRecover:
		return s.pairFromBackup(ctx)
	case wire.OpEject:
		return s.eject(ctx)
	case wire.OpRefresh:
		return s.refresh(ctx)
	case wire.OpRemoveBackup:
		return s.removeBackup(ctx)
	case wire.OpVerifyBackup:
		return s.verifyBackup(ctx)
	case wire.OpPresign:
		return s.presign(ctx)
	case wire.OpAddDevice:
		if hello.Method == wire.MethodApproval {
			return s.addByApproval(ctx)
		}
		return s.pairFromBackup(ctx)
	case wire.OpApproveDevice:
		return s.approveDevice(ctx)
	case wire.OpListDevices:
		return s.listDevices(ctx)
	case wire.OpRemoveDevice:
		return s.removeDevice(ctx)
	}
	return fail(wire.CodeInvalidArgument, "unknown operation %q", hello.Op)
}

// loadWallet finds the client's committed wallet and the active share of
// the session's device, and answers Welcome. With lock, the session takes
// the wallet's change lock first and drops a pending generation, which only
// an interrupted share change can have left while nobody holds the lock;
// without it, a pending generation is left to the share change that may
// still be running, unless the device holds a pending share: then the
// session takes the lock for its Welcome alone.
//
// A device the wallet has no pair of (removed, retired by a recovery, or
// never added) gets DEVICE_REMOVED, except in the sessions that need no
// pair of it: a recovery or an added device, which make one, and the
// backup drill and eject, which use the backup pair.
func (s *session) loadWallet(ctx context.Context, lock bool) error {
	w, err := s.h.Store.WalletByClient(ctx, s.client.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && w.ActiveGeneration == 0) {
		return fail(wire.CodeNoWallet, "no wallet for this client")
	}
	if err != nil {
		return fail(wire.CodeServerError, "loading the wallet failed")
	}
	// A refresh is admitted once its share is loaded: the aux-info that
	// follows key generation completes the wallet's creation and is not
	// counted.
	if s.op != wire.OpRefresh {
		if err := s.admitShareChange(ctx, w.ID); err != nil {
			return err
		}
	}
	// A device that holds a pending share activates or drops it by our
	// Welcome. The share change that made it may still be running and
	// commit it (its device dropped the socket after its Ack and came
	// back, faster than the change stored or activated its generation): a
	// Welcome naming the older pair would make the device drop the share
	// about to become active. Such a session takes the lock as a share
	// change does, so that its Welcome names the outcome (BUSY while the
	// change runs), and gives it back once the Welcome is out.
	brief := !lock && s.hello.Gens.Pending != 0
	if lock {
		if err := s.lockWallet(ctx, w.ID); err != nil {
			return err
		}
	}
	if brief {
		if err := s.awaitLock(ctx, w.ID); err != nil {
			return err
		}
		defer s.release()
	}
	if lock || brief {
		// Read again under the lock: a change that held it may have
		// committed since.
		if w, err = s.h.Store.Wallet(ctx, w.ID); err != nil {
			return fail(wire.CodeServerError, "loading the wallet failed")
		}
	}
	if (lock || brief) && w.PendingGeneration != 0 {
		// The device acknowledged nothing we activated: whatever it holds
		// as pending, it drops when it sees our active generation.
		if err := s.h.Store.DropPending(ctx, w.ID, w.PendingGeneration); err != nil && !errors.Is(err, store.ErrNotPending) {
			return fail(wire.CodeServerError, "dropping a pending generation failed")
		}
		w.PendingGeneration = 0
	}
	s.wallet, s.walletID = w, w.ID
	sh, err := s.h.Store.DeviceShare(ctx, w.ID, s.device)
	switch {
	case errors.Is(err, store.ErrNotFound):
		switch s.op {
		case wire.OpRecover, wire.OpAddDevice, wire.OpVerifyBackup, wire.OpEject:
		default:
			return fail(wire.CodeDeviceRemoved, "this device holds no pair of the wallet: it was removed, or retired by a recovery on another device; recover the wallet or add this device again")
		}
	case err != nil:
		return fail(wire.CodeServerError, "loading the server share failed")
	case s.op == wire.OpAddDevice:
		return fail(wire.CodeWalletExists, "this device already has a signing pair of the wallet")
	default:
		s.active, s.gen = &sh, sh.Generation
	}
	if s.op == wire.OpAddDevice {
		if err := s.admitDevice(ctx); err != nil {
			return err
		}
	}
	// Welcome names the device's active pair by its digest, by which the
	// device reconciles its shares.
	var pair []byte
	if s.active != nil {
		pair = s.active.Digest
		if len(pair) != 32 {
			// A share stored before shares carried their digest.
			share, err := s.activeShare(ctx)
			if err != nil {
				return err
			}
			pair = share.PublicDigest()
			share.Wipe()
		}
	}
	return s.conn.Send(ctx, (&wire.Welcome{WalletID: w.ID, Nonce: s.nonce, Active: s.gen, Pair: pair, Latest: w.ActiveGeneration}).Frame())
}

// deviceHolds reports whether the device, after reconciling with our
// Welcome, holds its active generation.
func (s *session) deviceHolds() bool {
	g := s.gen
	return g != 0 && (s.hello.Gens.Active == g || s.hello.Gens.Pending == g)
}

// activeShare opens the active share of the session's device.
func (s *session) activeShare(ctx context.Context) (*mpc.KeyShare, error) {
	sh := s.active
	// Redundant: every caller runs after loadWallet, which puts the
	// device's active share in s.active or ends the session; kept so that
	// a new caller that skips it fails here and not on a nil share.
	if sh == nil {
		return nil, errors.New("party: internal error: no share of the device loaded")
	}
	share := new(mpc.KeyShare)
	if err := share.UnmarshalBinary(sh.Data); err != nil {
		return nil, fail(wire.CodeServerError, "stored server share is corrupt")
	}
	return share, nil
}

func (s *session) run(ctx context.Context, protocol string, gen uint64, start func(mpc.Config) (mpc.Round, *mpc.Message, error)) (any, error) {
	cfg := mpc.Config{
		Self: mpc.Server, Peer: mpc.Device, Rand: s.h.rand(),
		SessionID: mpc.NewSessionID(protocol, s.walletID, gen, mpc.Device, s.hello.Nonce, mpc.Server, s.nonce),
	}
	r, first, err := start(cfg)
	if err != nil {
		return nil, err
	}
	return s.conn.Run(ctx, r, first, nil)
}

// awaitAck waits for the device's acknowledgement that it stored the new
// generation as pending, and checks both sides made the same pair.
func (s *session) awaitAck(ctx context.Context, share *mpc.KeyShare) error {
	f, err := s.conn.Recv(ctx)
	if err != nil {
		return err
	}
	ack, err := wire.ParseAck(f)
	if err != nil {
		return err
	}
	if ack.Gen != share.Generation || subtle.ConstantTimeCompare(ack.Digest, share.PublicDigest()) != 1 {
		return blame(wire.CodeProtocolAbort, "device acknowledged another generation or pair")
	}
	return nil
}

// commit activates the share this session stored, named by its pair's
// digest, and tells the device.
func (s *session) commit(ctx context.Context, share *mpc.KeyShare) error {
	gen := share.Generation
	err := s.h.Store.Activate(ctx, s.walletID, gen, share.PublicDigest())
	if errors.Is(err, store.ErrNotPending) {
		return fail(wire.CodeBusy, "generation %d of this session is no longer pending", gen)
	}
	if err != nil {
		return fail(wire.CodeServerError, "activating generation %d failed", gen)
	}
	s.gen = gen
	// The change is complete once activated: the lock goes before the
	// Commit, so that the device's next change, which may follow the
	// Commit at once, does not find it still held.
	s.release()
	return s.conn.Send(ctx, (&wire.Commit{Gen: gen}).Frame())
}

// needDeviceID refuses a session that makes a new pair without naming the
// device it is for.
func (s *session) needDeviceID() error {
	// Redundant bound: wire.ParseHello refuses a device id of any length
	// but 0 and DeviceIDSize, so no longer id gets here; the check
	// refuses the empty one.
	if len(s.hello.Device) != wire.DeviceIDSize {
		return fail(wire.CodeInvalidArgument, "%s needs the device's %d-byte id", s.op, wire.DeviceIDSize)
	}
	return nil
}

func (s *session) keygen(ctx context.Context) error {
	if err := s.needDeviceID(); err != nil {
		return err
	}
	// One creation per client at a time, across replicas, under a lock of
	// the client's (the wallet has no id yet): a creation whose device
	// dropped the socket after its Ack may still commit, and the device's
	// next creation must not make it drop that share before it does.
	if err := s.awaitLock(ctx, "client/"+s.client.ID); err != nil {
		return err
	}
	existing, err := s.h.Store.WalletByClient(ctx, s.client.ID)
	switch {
	case err == nil && existing.ActiveGeneration != 0:
		return fail(wire.CodeWalletExists, "this client already has a wallet")
	case err == nil:
		// An earlier creation never committed: start over.
		err := s.h.Store.DropPending(ctx, existing.ID, existing.PendingGeneration)
		if errors.Is(err, store.ErrNotPending) {
			// Its session committed it since we looked (one that
			// outlived its lock's lease): the device may hold the
			// wallet's share as pending, which our Welcome would drop.
			w, lerr := s.h.Store.WalletByClient(ctx, s.client.ID)
			if lerr != nil && !errors.Is(lerr, store.ErrNotFound) {
				return fail(wire.CodeServerError, "loading the wallet failed")
			}
			if lerr == nil && w.ActiveGeneration != 0 {
				return fail(wire.CodeWalletExists, "this client already has a wallet")
			}
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fail(wire.CodeServerError, "dropping an unfinished wallet failed")
		}
	case !errors.Is(err, store.ErrNotFound):
		return fail(wire.CodeServerError, "loading the wallet failed")
	}
	id, err := apikey.NewID(s.h.rand())
	if err != nil {
		return err
	}
	s.walletID = id
	if err := s.conn.Send(ctx, (&wire.Welcome{WalletID: id, Nonce: s.nonce}).Frame()); err != nil {
		return err
	}
	// Key generation alone commits as generation 1: the address is the
	// wallet's from here on. Aux-info follows in a refresh session of its
	// own, which the device runs next, or on its next connect if this one
	// ends first.
	out, err := s.run(ctx, mpc.ProtocolKeygen, 0, mpc.Keygen)
	if err != nil {
		return err
	}
	share := out.(*mpc.KeyShare)
	defer share.Wipe()
	share.Generation = 1
	data, _ := share.MarshalBinary()
	addr := mpc.Address(share.PublicKey)
	w := store.Wallet{ID: id, ClientID: s.client.ID, PublicKey: share.PublicKey.Bytes(), Address: fmt.Sprintf("0x%x", addr)}
	first := store.NewShare{Device: s.device, Generation: share.Generation, Data: data, Digest: share.PublicDigest()}
	err = s.h.Store.CreateDeviceWallet(ctx, w, first)
	if errors.Is(err, store.ErrWalletExists) {
		// An earlier creation of this client that never committed (its
		// session stored the wallet after this one looked): start over.
		if ex, lerr := s.h.Store.WalletByClient(ctx, s.client.ID); lerr == nil && ex.ActiveGeneration == 0 {
			if derr := s.h.Store.DropPending(ctx, ex.ID, ex.PendingGeneration); derr == nil || errors.Is(derr, store.ErrNotFound) || errors.Is(derr, store.ErrNotPending) {
				err = s.h.Store.CreateDeviceWallet(ctx, w, first)
			}
		}
	}
	if err != nil {
		if errors.Is(err, store.ErrWalletExists) {
			return fail(wire.CodeWalletExists, "this client already has a wallet")
		}
		return fail(wire.CodeServerError, "storing the wallet failed")
	}
	if err := s.awaitAck(ctx, share); err != nil {
		return err
	}
	return s.commit(ctx, share)
}

func (s *session) sign(ctx context.Context) error {
	// Redundant bound: wire.ParseHello reads the digest with VarBytes(32),
	// so no longer digest gets here; the check refuses the shorter ones.
	if len(s.hello.Digest) != 32 {
		return fail(wire.CodeInvalidArgument, "sign needs a 32-byte digest")
	}
	share, err := s.signingShare(ctx)
	if share == nil {
		return err
	}
	if len(s.hello.Presignature) != 0 {
		return s.signPooled(ctx, share)
	}
	peer, own := s.h.noncePools(share)
	out, err := s.run(ctx, mpc.ProtocolPresign, share.Generation, func(cfg mpc.Config) (mpc.Round, *mpc.Message, error) {
		return mpc.Presign(mpc.PresignConfig{Config: cfg, Share: share, PeerNonces: peer, OwnNonces: own})
	})
	s.h.fillNonces(share)
	if err != nil {
		return err
	}
	pre := out.(*mpc.Presignature)
	// The presignature lives only in this session; PartialSign erases it
	// before σ leaves, so it signs exactly this digest.
	return s.sendSigma(ctx, pre)
}

// sendSigma sends our σ for the session's digest and records the device's
// use.
func (s *session) sendSigma(ctx context.Context, pre *mpc.Presignature) error {
	partial, err := pre.PartialSign([32]byte(s.hello.Digest))
	if err != nil {
		return err
	}
	b, _ := partial.MarshalBinary()
	if err := s.conn.Send(ctx, (&wire.Data{Kind: "sigma", Body: b}).Frame()); err != nil {
		return err
	}
	if err := s.h.Store.TouchDevice(ctx, s.walletID, s.device); err != nil {
		s.h.log().Warn("recording the device's last use failed", "wallet", s.walletID, "error", err)
	}
	return nil
}

func (s *session) refresh(ctx context.Context) error {
	if err := s.loadWallet(ctx, true); err != nil {
		return err
	}
	if !s.deviceHolds() {
		return nil
	}
	share, err := s.activeShare(ctx)
	if err != nil {
		return err
	}
	if share.Aux != nil {
		if err := s.admitShareChange(ctx, s.walletID); err != nil {
			return err
		}
	}
	// Generation numbers are the wallet's: the new pair follows the
	// wallet's newest generation, which may be another device's.
	next, err := s.refreshWithPrimes(ctx, share.Generation, func(cfg mpc.Config, primes *mpc.Primes) mpc.RefreshConfig {
		return mpc.RefreshConfig{Config: cfg, Share: share, Primes: primes, Generation: s.wallet.ActiveGeneration + 1}
	})
	if err != nil {
		return err
	}
	return s.storeAndCommit(ctx, next)
}

// storeAndCommit stores the session's new share as the pending generation
// of the session's device (a recovery's retiring every other device's on
// activation) and commits it in two phases.
func (s *session) storeAndCommit(ctx context.Context, next *mpc.KeyShare) error {
	data, _ := next.MarshalBinary()
	sh := store.NewShare{Device: s.device, Generation: next.Generation, Data: data, Digest: next.PublicDigest(), RetiresOthers: s.op == wire.OpRecover}
	err := s.h.Store.PutPendingShare(ctx, s.walletID, sh)
	clear(data)
	if err != nil {
		return fail(wire.CodeServerError, "storing the pending generation failed")
	}
	if err := s.awaitAck(ctx, next); err != nil {
		return err
	}
	return s.commit(ctx, next)
}

func (s *session) custodian(ctx context.Context) (*custodian.Client, error) {
	c, err := s.h.Custodian(ctx, orgOf(s.client))
	if err != nil {
		return nil, fail(wire.CodeServerError, "custodian store unavailable")
	}
	return c, nil
}

func orgOf(c store.Client) string { return c.OrganizationID }

func validMethod(m string) bool { return custodian.ValidMethod(m) }

func (s *session) backup(ctx context.Context) error {
	if !validMethod(s.hello.Method) {
		return fail(wire.CodeInvalidArgument, "unknown backup method %q", s.hello.Method)
	}
	if err := s.loadWallet(ctx, false); err != nil {
		return err
	}
	if !s.deviceHolds() {
		return nil
	}
	cust, err := s.custodian(ctx)
	if err != nil {
		return err
	}
	share, err := s.activeShare(ctx)
	if err != nil {
		return err
	}
	if share.Aux == nil {
		return fail(wire.CodeNotSigningReady, "aux-info of this wallet has not run yet")
	}
	out, err := s.run(ctx, mpc.ProtocolRefresh, share.Generation, func(cfg mpc.Config) (mpc.Round, *mpc.Message, error) {
		return mpc.Refresh(mpc.RefreshConfig{Config: cfg, Share: share})
	})
	if err != nil {
		return err
	}
	custodianShare := out.(*mpc.KeyShare)
	pair := custodianShare.PublicDigest()
	data, _ := custodianShare.MarshalBinary()
	custodianShare.Wipe()
	// b_C goes to the custodian and nowhere else: the server keeps no copy.
	// The custodian stores it unconfirmed under a generation of its own; the
	// method's previous backup stays in force until this pair completes.
	backupGen, err := cust.StartBackup(ctx, s.walletID, s.hello.Method, data, pair)
	clear(data)
	if err != nil {
		return fail(wire.CodeServerError, "the custodian store did not take the share")
	}
	// The device's half arrives on this session only, for the pair this
	// session made: the device names the pair by its digest.
	d, err := s.conn.RecvData(ctx, "backup")
	if err != nil {
		return err
	}
	payload, err := wire.ParseBackupPayload(d.Body)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(payload.PairDigest, pair) != 1 {
		return fail(wire.CodeProtocolAbort, "device sealed another backup pair")
	}
	err = cust.CompleteBackup(ctx, s.walletID, s.hello.Method, backupGen, payload.Sealed, pair)
	if errors.Is(err, custodian.ErrNotFound) {
		return fail(wire.CodeBusy, "a newer %s backup of this wallet completed first", s.hello.Method)
	}
	if err != nil {
		return fail(wire.CodeServerError, "the custodian store did not confirm the backup")
	}
	return s.conn.Send(ctx, (&wire.Done{}).Frame())
}

// loadBackup finds the client's committed wallet and fetches the confirmed
// backup of the session's method from the organization's custodian.
func (s *session) loadBackup(ctx context.Context) (*custodian.Client, custodian.Backup, error) {
	if !validMethod(s.hello.Method) {
		return nil, custodian.Backup{}, fail(wire.CodeInvalidArgument, "unknown backup method %q", s.hello.Method)
	}
	w, err := s.h.Store.WalletByClient(ctx, s.client.ID)
	if err != nil || w.ActiveGeneration == 0 {
		return nil, custodian.Backup{}, fail(wire.CodeNoWallet, "no wallet for this client")
	}
	s.walletID = w.ID
	if err := s.admitShareChange(ctx, w.ID); err != nil {
		return nil, custodian.Backup{}, err
	}
	cust, err := s.custodian(ctx)
	if err != nil {
		return nil, custodian.Backup{}, err
	}
	b, err := cust.Backup(ctx, s.walletID, s.hello.Method)
	if errors.Is(err, custodian.ErrNotFound) || (err == nil && !b.Confirmed) {
		return nil, custodian.Backup{}, fail(wire.CodeNotBackedUp, "no complete %s backup pair", s.hello.Method)
	}
	if err != nil {
		return nil, custodian.Backup{}, fail(wire.CodeServerError, "custodian store unavailable")
	}
	return cust, b, nil
}

// pairFromBackup serves a recovery and an add-device: the backup pair of a
// method, refreshed into a new pair for the session's device. A recovery's
// pair retires every other device's when it activates; an added device's
// leaves them.
func (s *session) pairFromBackup(ctx context.Context) error {
	// Redundant: loadBackup below refuses an unknown method with the same
	// code and message; asked first here so that a Hello with an unknown
	// method is refused for it before its device id is looked at.
	if !validMethod(s.hello.Method) {
		return fail(wire.CodeInvalidArgument, "unknown backup method %q", s.hello.Method)
	}
	if err := s.needDeviceID(); err != nil {
		return err
	}
	cust, b, err := s.loadBackup(ctx)
	if err != nil {
		return err
	}
	shareBytes, err := cust.Share(ctx, s.walletID, b.Generation)
	if err != nil {
		return fail(wire.CodeNotBackedUp, "the custodian share of this backup is missing")
	}
	pairB := new(mpc.KeyShare)
	if err := pairB.UnmarshalBinary(shareBytes); err != nil {
		return fail(wire.CodeServerError, "the custodian share is corrupt")
	}
	clear(shareBytes)
	defer pairB.Wipe()
	if subtle.ConstantTimeCompare(pairB.PublicDigest(), b.PairDigest) != 1 {
		return fail(wire.CodeNotBackedUp, "the custodian's share is not of the %s backup's pair", s.hello.Method)
	}
	if err := s.loadWallet(ctx, true); err != nil {
		return err
	}
	if err := s.conn.Send(ctx, (&wire.Data{Kind: "backup", Body: b.Ciphertext}).Frame()); err != nil {
		return err
	}
	// The device opens the backup, then searches for its primes (up to a
	// minute or more in a browser) before it answers.
	f, err := s.conn.RecvWithin(ctx, s.h.primeTimeout())
	if err != nil {
		return err
	}
	if _, err := wire.ParseData(f, "ready"); err != nil {
		return err
	}
	gen := s.wallet.ActiveGeneration + 1
	next, err := s.refreshWithPrimes(ctx, s.wallet.ActiveGeneration, func(cfg mpc.Config, primes *mpc.Primes) mpc.RefreshConfig {
		return mpc.RefreshConfig{Config: cfg, Share: pairB, Primes: primes, Generation: gen}
	})
	if err != nil {
		return err
	}
	if err := s.storeAndCommit(ctx, next); err != nil {
		return err
	}
	if s.op == wire.OpAddDevice {
		s.target = s.device
	}
	return nil
}

func (s *session) eject(ctx context.Context) error {
	cust, b, err := s.loadBackup(ctx)
	if err != nil {
		return err
	}
	share, err := cust.EjectShare(ctx, s.walletID, b.Generation)
	if errors.Is(err, custodian.ErrEjectNotAuthorized) {
		return fail(wire.CodeEjectNotAuthorized, "the organization has not authorised eject for this wallet")
	}
	if err != nil {
		var re *custodian.ResponseError
		if errors.As(err, &re) && re.Status == http.StatusForbidden {
			return fail(wire.CodeEjectNotAuthorized, "the organization has not authorised eject for this wallet")
		}
		return fail(wire.CodeServerError, "custodian store unavailable")
	}
	defer clear(share)
	pairB := new(mpc.KeyShare)
	if err := pairB.UnmarshalBinary(share); err != nil {
		return fail(wire.CodeServerError, "the custodian share is corrupt")
	}
	match := subtle.ConstantTimeCompare(pairB.PublicDigest(), b.PairDigest) == 1
	pairB.Wipe()
	if !match {
		return fail(wire.CodeNotBackedUp, "the custodian's share is not of the %s backup's pair", s.hello.Method)
	}
	if err := s.loadWallet(ctx, false); err != nil {
		return err
	}
	body := codec.NewEncoder(len(b.Ciphertext) + len(share) + 8).VarBytes(b.Ciphertext).VarBytes(share).Bytes()
	defer clear(body)
	return s.conn.Send(ctx, (&wire.Data{Kind: "eject", Body: body}).Frame())
}
