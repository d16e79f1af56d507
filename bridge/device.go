// Package bridge is the device party: it drives Duet's operations (create,
// sign, back up, recover, eject, refresh) over a session with the server
// party, keeps the device share in the store it is given, and applies the
// two-phase commit of share changes. The js/wasm glue in this package turns
// it into Promise-returning JavaScript functions.
package bridge

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/mpc/curve"
	"github.com/duetwallet/duet/wire"
)

// Store keeps the device's sealed data. Get returns nil, nil for a missing
// name. Put must be durable when it returns: the two-phase commit relies on
// it.
type Store interface {
	Get(ctx context.Context, name string) ([]byte, error)
	Put(ctx context.Context, name string, value []byte) error
	Delete(ctx context.Context, name string) error
}

// GenerationStore is a Store that also binds each value it puts to the
// generation of the share the value belongs to, as the SDK's sealed
// IndexedDB store does in the associated data of its encryption. The device
// puts through PutGeneration when its store has it.
type GenerationStore interface {
	PutGeneration(ctx context.Context, name string, value []byte, generation uint64) error
}

// put stores value under name for the share of generation gen.
func (d *Device) put(ctx context.Context, name string, value []byte, gen uint64) error {
	if g, ok := d.Store.(GenerationStore); ok {
		return g.PutGeneration(ctx, name, value, gen)
	}
	return d.Store.Put(ctx, name, value)
}

// Names in the store.
const (
	keyActive  = "share/active"
	keyPending = "share/pending"
	keyWallet  = "wallet"
	// keyStale marks the active share as not of the server's active pair,
	// as the last Welcome showed; the next Welcome decides again. Its value
	// says why: staleMark for a share of another pair than the server's
	// active one for this device, removedMark for a device the server holds
	// no pair of (removed, or retired by a recovery elsewhere).
	keyStale = "share/stale"
	// keyDevice is the device's id (wire.DeviceIDSize bytes), made when the
	// device first gets a share of the wallet. A device without one holds a
	// share from before devices existed, whose id is empty.
	keyDevice = "device"
)

// Values of keyStale.
var (
	staleMark   = []byte{1}
	removedMark = []byte{2}
)

// Progress is one step of an operation, for the app's progress display.
type Progress struct {
	Phase    string `json:"phase"`
	Protocol string `json:"protocol,omitempty"`
	Round    int    `json:"round,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

// Error is an error with a stable code for the app.
type Error struct {
	Code string
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func codeErr(code string, format string, args ...any) *Error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}

// Code returns the stable code of an error.
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var we *wire.Error
	if errors.As(err, &we) {
		return we.Code
	}
	var abort *mpc.AbortError
	if errors.As(err, &abort) {
		return wire.CodeProtocolAbort
	}
	if errors.Is(err, ErrWrongKey) {
		return wire.CodeWrongPassword
	}
	if errors.Is(err, wire.ErrConnection) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return wire.CodeNetwork
	}
	if errors.Is(err, wire.ErrFrame) || errors.Is(err, mpc.ErrMessage) {
		return wire.CodeBadFrame
	}
	return wire.CodeInternal
}

// Device is the device party of one wallet.
type Device struct {
	// URL is the server's base URL (http or https); the session endpoint is
	// /v1/session on the same host.
	URL    string
	APIKey string
	Store  Store
	// Primes returns fresh safe primes for a new Paillier key (from a pool
	// filled in the background where possible).
	Primes   func(ctx context.Context) (*mpc.Primes, error)
	Progress func(Progress)
	Rand     io.Reader
	// FrameTimeout bounds each wait for the server; zero means one minute.
	FrameTimeout time.Duration
	// PoolSize caps the pooled presignatures (default DefaultPoolSize);
	// PoolTTL is how long one stays usable (default DefaultPoolTTL).
	PoolSize int
	PoolTTL  time.Duration
	// Now is the pool's clock; time.Now if nil.
	Now func() time.Time
}

// WalletInfo describes the wallet on this device.
type WalletInfo struct {
	WalletID   string `json:"walletId"`
	Address    string `json:"address"`
	Generation uint64 `json:"generation"`
	// Pair is the hex digest of the share's pair (mpc.KeyShare.PublicDigest).
	Pair string `json:"pair"`
	// Stale reports that the last server this device reached named another
	// active pair, or no pair at all for this device (removed, or retired by
	// a recovery elsewhere): the share is kept, but cannot sign until a
	// recovery or an added device replaces it.
	Stale bool `json:"stale"`
	// Removed reports that the server holds no pair of this device at all
	// (it was removed, or retired by a recovery on another device), as the
	// last server this device reached said; Stale is true too. It survives
	// a reload: operations that need the share give DEVICE_REMOVED.
	Removed bool `json:"removed"`
	// Device is this device's id, in hex; empty for a device holding a
	// share from before devices existed.
	Device string `json:"device"`
}

// DeviceInfo is one device of the wallet, as the server lists it.
type DeviceInfo struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"createdAt"`
	LastUsedAt time.Time `json:"lastUsedAt,omitempty"`
	// Current marks the device this call runs on.
	Current bool `json:"current"`
}

// errStale is the error (STALE_DEVICE) of an operation that needs the
// wallet's active share on a device whose share is not of the server's
// active pair.
var errStale = errors.New("bridge: this device's share is not of the wallet's active pair (the wallet was recovered on another device), so it no longer signs; recover the wallet here to use it again")

// errRemoved is the error (DEVICE_REMOVED) of an operation that needs the
// wallet's active share on a device the server holds no pair of.
var errRemoved = errors.New("bridge: this device was removed from the wallet (or retired by a recovery on another device), so its share no longer signs; add it again or recover the wallet here")

func (d *Device) rand() io.Reader {
	if d.Rand != nil {
		return d.Rand
	}
	return rand.Reader
}

func (d *Device) progress(p Progress) {
	if d.Progress != nil {
		d.Progress(p)
	}
}

func (d *Device) sessionURL() (string, error) {
	u, err := url.Parse(d.URL)
	if err != nil || u.Host == "" {
		return "", codeErr(wire.CodeInvalidArgument, "bridge: bad server URL %q", d.URL)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", codeErr(wire.CodeInvalidArgument, "bridge: bad server URL scheme %q", u.Scheme)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/session"
	return u.String(), nil
}

// session is one open session with the server.
type session struct {
	d       *Device
	conn    *wire.Conn
	welcome *wire.Welcome
	nonce   []byte
	device  []byte // the id the Hello presented
	active  *mpc.KeyShare
	// stale is the device's share when it is not of the server's active
	// pair; active is then nil. removed says the server holds no pair of
	// this device.
	stale   *mpc.KeyShare
	removed bool
}

// needActive returns the session's active share, or the error of a device
// that holds none (NO_WALLET) or a stale one (STALE_DEVICE).
func (s *session) needActive(ctx context.Context) (*mpc.KeyShare, error) {
	switch {
	case s.active != nil:
		return s.active, nil
	case s.stale != nil && s.removed:
		return nil, s.fail(ctx, wire.CodeDeviceRemoved, errRemoved)
	case s.stale != nil:
		return nil, s.fail(ctx, wire.CodeStaleDevice, errStale)
	}
	return nil, s.fail(ctx, wire.CodeNoWallet, errors.New("bridge: no wallet on this device"))
}

// deviceID returns the device's id: empty for a device that has none. With
// mint, a device without one makes one, which the session's commit keeps
// next to the share it gets (a session that fails keeps nothing).
func (d *Device) deviceID(ctx context.Context, mint bool) ([]byte, error) {
	id, err := d.Store.Get(ctx, keyDevice)
	if err != nil {
		return nil, err
	}
	if id != nil && len(id) != wire.DeviceIDSize {
		return nil, codeErr(wire.CodeInternal, "bridge: stored device id has %d bytes", len(id))
	}
	if id != nil || !mint {
		return id, nil
	}
	id = make([]byte, wire.DeviceIDSize)
	if _, err := io.ReadFull(d.rand(), id); err != nil {
		return nil, err
	}
	return id, nil
}

// samePair reports whether share is of the pair a Welcome names.
func samePair(share *mpc.KeyShare, w *wire.Welcome) bool {
	return w.Active == share.Generation && subtle.ConstantTimeCompare(share.PublicDigest(), w.Pair) == 1
}

// open dials the server, says hello, and reconciles the stored shares with
// the server's active pair, by its digest: a pending share of that pair
// becomes active, any other pending share is dropped, and an active share of
// another pair is kept but marked stale, as is a share the server answers
// DEVICE_REMOVED for. A stale share is never deleted on the server's word:
// only a recovery or an added device on this device replaces it, and a
// later Welcome that names its pair makes it active again.
//
// The Hello presents the device's id; keygen, recover and add-device make
// one first if the device has none.
func (d *Device) open(ctx context.Context, op string, hello wire.Hello) (*session, error) {
	if d.APIKey == "" {
		return nil, codeErr(wire.CodeInvalidArgument, "bridge: no API key")
	}
	u, err := d.sessionURL()
	if err != nil {
		return nil, err
	}
	active, pending, err := d.loadShares(ctx)
	if err != nil {
		return nil, err
	}
	// Read before dialing, like the shares: after the Welcome the device
	// touches its store only to change it, so that it reads the server's
	// next frames at once.
	marked, err := d.Store.Get(ctx, keyStale)
	if err != nil {
		return nil, err
	}
	newPair := op == wire.OpKeygen || op == wire.OpRecover || op == wire.OpAddDevice
	device, err := d.deviceID(ctx, newPair)
	if err != nil {
		return nil, err
	}
	d.progress(Progress{Phase: "connecting"})
	timeout := d.FrameTimeout
	if timeout == 0 {
		timeout = time.Minute
	}
	conn, err := wire.Dial(ctx, u, timeout)
	var refused *wire.RefusedError
	if errors.As(err, &refused) {
		return nil, codeErr(wire.CodeRateLimited, "bridge: the server refused the connection for now: try again in %v", max(refused.RetryAfter, time.Second))
	}
	if err != nil {
		return nil, codeErr(wire.CodeNetwork, "bridge: cannot reach the server: %v", err)
	}
	s := &session{d: d, conn: conn, nonce: make([]byte, 32), device: device}
	if _, err := io.ReadFull(d.rand(), s.nonce); err != nil {
		conn.CloseNow()
		return nil, err
	}
	hello.APIKey, hello.Op, hello.Nonce, hello.Device = d.APIKey, op, s.nonce, device
	if active != nil {
		hello.Gens.Active = active.Generation
	}
	if pending != nil {
		hello.Gens.Pending = pending.Generation
	}
	if err := s.conn.Send(ctx, hello.Frame()); err != nil {
		conn.CloseNow()
		return nil, err
	}
	f, err := s.conn.Recv(ctx)
	var w *wire.Welcome
	if err == nil {
		w, err = wire.ParseWelcome(f)
	}
	if err != nil {
		conn.CloseNow()
		if Code(err) == wire.CodeDeviceRemoved && active != nil && !bytes.Equal(marked, removedMark) {
			// The server holds no pair of this device: its share is kept,
			// marked as removed, as a stale one is kept.
			if merr := d.put(ctx, keyStale, removedMark, active.Generation); merr != nil {
				return nil, errors.Join(err, merr)
			}
		}
		return nil, err
	}
	s.welcome = w
	if err := d.reconcile(ctx, s, op, active, pending, marked); err != nil {
		conn.CloseNow()
		return nil, err
	}
	return s, nil
}

// reconcile applies the server's Welcome to the stored shares (see open);
// marked is the stored keyStale value.
func (d *Device) reconcile(ctx context.Context, s *session, op string, active, pending *mpc.KeyShare, marked []byte) error {
	w := s.welcome
	if pending != nil {
		if samePair(pending, w) {
			if err := d.activate(ctx, pending, marked != nil); err != nil {
				return err
			}
			// What the lost Commit would have stored with it: a device
			// whose first share this is (a creation or a recovery) has
			// no record of the wallet yet.
			if err := d.put(ctx, keyWallet, encodeWallet(w.WalletID, pending), pending.Generation); err != nil {
				return err
			}
			active, marked = pending, nil
		} else if err := d.Store.Delete(ctx, keyPending); err != nil {
			return err
		}
	}
	if active == nil {
		return nil
	}
	if samePair(active, w) {
		s.active = active
		if marked != nil {
			return d.Store.Delete(ctx, keyStale)
		}
		return nil
	}
	// A Welcome of the wallet that names no pair of this device (in the
	// sessions the server lets such a device open) says it was removed; a
	// creation's Welcome is of another wallet and says nothing of it.
	mark := staleMark
	if w.Active == 0 && op != wire.OpKeygen {
		mark = removedMark
	}
	s.stale, s.removed = active, bytes.Equal(mark, removedMark)
	if !bytes.Equal(marked, mark) {
		return d.put(ctx, keyStale, mark, active.Generation)
	}
	return nil
}

func (d *Device) loadShares(ctx context.Context) (active, pending *mpc.KeyShare, err error) {
	load := func(name string) (*mpc.KeyShare, error) {
		b, err := d.Store.Get(ctx, name)
		if err != nil || b == nil {
			return nil, err
		}
		s := new(mpc.KeyShare)
		if err := s.UnmarshalBinary(b); err != nil {
			return nil, codeErr(wire.CodeInternal, "bridge: stored share %s: %v", name, err)
		}
		return s, nil
	}
	if active, err = load(keyActive); err != nil {
		return nil, nil, err
	}
	pending, err = load(keyPending)
	return active, pending, err
}

// activate makes s the active share; clearStale also drops the stale mark
// of the share it replaces.
func (d *Device) activate(ctx context.Context, s *mpc.KeyShare, clearStale bool) error {
	b, err := s.MarshalBinary()
	if err != nil {
		return err
	}
	// The share this one replaces, whose nonces go with it; a share that
	// cannot be read has none to wipe.
	prev, _, _ := d.loadShares(ctx)
	if prev != nil {
		defer prev.Wipe()
	}
	if err := d.put(ctx, keyActive, b, s.Generation); err != nil {
		return err
	}
	dropNonces(prev, s)
	if clearStale {
		if err := d.Store.Delete(ctx, keyStale); err != nil {
			return err
		}
	}
	if err := d.Store.Delete(ctx, keyPending); err != nil {
		return err
	}
	// The presignatures of the generation this one replaced sign no more.
	return d.dropPool(ctx)
}

func (s *session) close() { s.conn.Close() }

// fail tells the server why the device ends the session and returns the
// error with its code.
func (s *session) fail(ctx context.Context, code string, err error) error {
	msg := err.Error()
	var abort *mpc.AbortError
	if errors.As(err, &abort) {
		msg = abort.PeerMessage()
	}
	s.conn.Fail(ctx, &wire.Error{Code: code, Message: msg})
	var coded *Error
	if errors.As(err, &coded) {
		return err
	}
	return &Error{Code: code, Err: err}
}

// run drives one protocol over the session.
func (s *session) run(ctx context.Context, protocol string, gen uint64, start func(mpc.Config) (mpc.Round, *mpc.Message, error)) (any, error) {
	cfg := mpc.Config{
		Self: mpc.Device, Peer: mpc.Server, Rand: s.d.rand(),
		SessionID: mpc.NewSessionID(protocol, s.welcome.WalletID, gen, mpc.Device, s.nonce, mpc.Server, s.welcome.Nonce),
	}
	r, first, err := start(cfg)
	if err != nil {
		return nil, err
	}
	out, err := s.conn.Run(ctx, r, first, func(p string, round int) {
		s.d.progress(Progress{Phase: "mpc", Protocol: p, Round: round})
	})
	if err != nil {
		var abort *mpc.AbortError
		if errors.As(err, &abort) {
			return nil, s.fail(ctx, wire.CodeProtocolAbort, err)
		}
		return nil, err
	}
	return out, nil
}

// commit applies the device's side of the two-phase commit for a new share:
// store it as pending, acknowledge, and activate on the server's commit.
func (s *session) commit(ctx context.Context, share *mpc.KeyShare) error {
	b, err := share.MarshalBinary()
	if err != nil {
		return err
	}
	// The id the server keeps the new pair under is kept before the share,
	// so that a device holding the share can always name its pair.
	if err := s.keepDeviceID(ctx); err != nil {
		return s.fail(ctx, wire.CodeInternal, err)
	}
	if err := s.d.put(ctx, keyPending, b, share.Generation); err != nil {
		return s.fail(ctx, wire.CodeInternal, err)
	}
	s.d.progress(Progress{Phase: "commit"})
	if err := s.conn.Send(ctx, (&wire.Ack{Gen: share.Generation, Digest: share.PublicDigest()}).Frame()); err != nil {
		return err
	}
	f, err := s.conn.Recv(ctx)
	if err != nil {
		return err
	}
	c, err := wire.ParseCommit(f)
	if err != nil {
		return err
	}
	if c.Gen != share.Generation {
		return codeErr(wire.CodeProtocolAbort, "bridge: server committed generation %d, not %d", c.Gen, share.Generation)
	}
	if err := s.d.activate(ctx, share, true); err != nil {
		return err
	}
	return s.d.put(ctx, keyWallet, encodeWallet(s.welcome.WalletID, share), share.Generation)
}

// keepDeviceID stores the id the session presented, if the device does not
// hold it yet.
func (s *session) keepDeviceID(ctx context.Context) error {
	if len(s.device) == 0 {
		return nil
	}
	stored, err := s.d.Store.Get(ctx, keyDevice)
	if err != nil || bytes.Equal(stored, s.device) {
		return err
	}
	return s.d.Store.Put(ctx, keyDevice, s.device)
}

func encodeWallet(walletID string, s *mpc.KeyShare) []byte {
	return codec.NewEncoder(64).VarBytes([]byte(walletID)).Point(s.PublicKey).Bytes()
}

// AddressHex returns the EIP-55 checksummed address of a public key.
func AddressHex(X *curve.Point) string {
	a := mpc.Address(X)
	return checksumAddress(a[:])
}

func (d *Device) info(walletID string, device []byte, s *mpc.KeyShare) *WalletInfo {
	return &WalletInfo{
		WalletID: walletID, Address: AddressHex(s.PublicKey), Generation: s.Generation,
		Pair: hex.EncodeToString(s.PublicDigest()), Device: hex.EncodeToString(device),
	}
}

// info describes share, of the session's wallet and device.
func (s *session) info(share *mpc.KeyShare) *WalletInfo {
	return s.d.info(s.welcome.WalletID, s.device, share)
}

func (d *Device) primes(ctx context.Context) (*mpc.Primes, error) {
	if p, err := d.takeSparePrimes(ctx); p != nil || err != nil {
		return p, err
	}
	if d.Primes == nil {
		return nil, codeErr(wire.CodeInternal, "bridge: no prime source")
	}
	d.progress(Progress{Phase: "primes"})
	return d.Primes(ctx)
}

// Keygen creates the wallet: key generation alone, committed as generation
// 1, so the address is known at once. The share is not signing-ready until
// FinishAux runs aux-info; Sign and Backup run it first when it has not.
func (d *Device) Keygen(ctx context.Context) (*WalletInfo, error) {
	s, err := d.open(ctx, wire.OpKeygen, wire.Hello{})
	if err != nil {
		return nil, err
	}
	defer s.close()
	if s.active != nil || s.stale != nil {
		return nil, s.fail(ctx, wire.CodeWalletExists, errors.New("bridge: this device already holds the wallet"))
	}
	out, err := s.run(ctx, mpc.ProtocolKeygen, 0, mpc.Keygen)
	if err != nil {
		return nil, err
	}
	share := out.(*mpc.KeyShare)
	defer share.Wipe()
	share.Generation = 1
	if err := s.commit(ctx, share); err != nil {
		return nil, err
	}
	d.progress(Progress{Phase: "address", Detail: AddressHex(share.PublicKey)})
	d.progress(Progress{Phase: "done"})
	return s.info(share), nil
}

// ensureSigningReady runs aux-info first when the wallet has not had it.
func (d *Device) ensureSigningReady(ctx context.Context) error {
	ready, err := d.IsSigningReady(ctx)
	if err != nil || ready {
		return err
	}
	active, pending, err := d.loadShares(ctx)
	if err != nil {
		return err
	}
	if active == nil && pending == nil {
		return nil // the operation itself reports NO_WALLET
	}
	_, err = d.FinishAux(ctx)
	return err
}

// Sign signs a 32-byte digest: with a pooled presignature when the device
// holds one (one message each way), else with one made in the session. A
// wallet without aux-info gets it first.
func (d *Device) Sign(ctx context.Context, digest [32]byte) (*mpc.Signature, error) {
	if err := d.ensureSigningReady(ctx); err != nil {
		return nil, err
	}
	active, _, err := d.loadShares(ctx)
	if err != nil {
		return nil, err
	}
	if active != nil && active.Aux != nil {
		pre, err := d.takePresignature(ctx, active)
		if err != nil {
			return nil, err
		}
		if pre != nil {
			sig, err := d.signPooled(ctx, digest, pre)
			if Code(err) != wire.CodeNoPresignature {
				return sig, err
			}
			// The server no longer holds it: presign inline.
		}
	}
	return d.signInline(ctx, digest)
}

// signPooled signs with a presignature already taken out of the store.
func (d *Device) signPooled(ctx context.Context, digest [32]byte, pre *mpc.Presignature) (*mpc.Signature, error) {
	s, err := d.open(ctx, wire.OpSign, wire.Hello{Digest: digest[:], Presignature: pre.ID})
	if err != nil {
		return nil, err
	}
	defer s.close()
	share, err := s.needActive(ctx)
	if err != nil {
		return nil, err
	}
	if share.Generation != pre.Generation {
		return nil, s.fail(ctx, wire.CodeNoPresignature, errors.New("bridge: the pooled presignature is of a retired generation"))
	}
	d.progress(Progress{Phase: "sign", Detail: "pooled"})
	return s.finishSign(ctx, digest, pre)
}

func (d *Device) signInline(ctx context.Context, digest [32]byte) (*mpc.Signature, error) {
	s, err := d.open(ctx, wire.OpSign, wire.Hello{Digest: digest[:]})
	if err != nil {
		return nil, err
	}
	defer s.close()
	share, err := s.needActive(ctx)
	if err != nil {
		return nil, err
	}
	peer, own := noncePools(share)
	out, err := s.run(ctx, mpc.ProtocolPresign, share.Generation, func(cfg mpc.Config) (mpc.Round, *mpc.Message, error) {
		return mpc.Presign(mpc.PresignConfig{Config: cfg, Share: share, PeerNonces: peer, OwnNonces: own})
	})
	if err != nil {
		return nil, err
	}
	return s.finishSign(ctx, digest, out.(*mpc.Presignature))
}

// finishSign takes the server's σ and combines it with ours; the device's
// σ never leaves it.
func (s *session) finishSign(ctx context.Context, digest [32]byte, pre *mpc.Presignature) (*mpc.Signature, error) {
	own, err := pre.PartialSign(digest)
	if err != nil {
		return nil, err
	}
	data, err := s.conn.RecvData(ctx, "sigma")
	if err != nil {
		return nil, err
	}
	peer := new(mpc.PartialSignature)
	if err := peer.UnmarshalBinary(data.Body); err != nil {
		return nil, s.fail(ctx, wire.CodeBadFrame, err)
	}
	sig, err := pre.Combine(digest, own, peer)
	if err != nil {
		return nil, s.fail(ctx, wire.CodeProtocolAbort, err)
	}
	s.d.progress(Progress{Phase: "done"})
	return sig, nil
}

// Refresh re-shares the signing key with new aux info (proactive refresh).
func (d *Device) Refresh(ctx context.Context) (*WalletInfo, error) {
	return d.refresh(ctx, false)
}

// refresh runs a refresh session; with auxOnly, it stops without running
// when the share the session starts from already has its aux info (an
// interrupted aux-info whose commit the server had made).
func (d *Device) refresh(ctx context.Context, auxOnly bool) (*WalletInfo, error) {
	primes, err := d.primes(ctx)
	if err != nil {
		return nil, err
	}
	s, err := d.open(ctx, wire.OpRefresh, wire.Hello{})
	if err != nil {
		// Nothing was made from the primes yet: they stay spare for the
		// next try.
		if _, serr := d.AddSparePrimes(ctx, primes); serr != nil {
			return nil, errors.Join(err, serr)
		}
		return nil, err
	}
	defer s.close()
	share, err := s.needActive(ctx)
	if err != nil {
		return nil, err
	}
	if auxOnly && share.Aux != nil {
		// The primes stay spare for the next key.
		if _, err := d.AddSparePrimes(ctx, primes); err != nil {
			return nil, err
		}
		return s.info(share), nil
	}
	// Generation numbers are the wallet's, shared by its devices: the new
	// pair follows the wallet's newest generation, not this share's.
	out, err := s.run(ctx, mpc.ProtocolRefresh, share.Generation, func(cfg mpc.Config) (mpc.Round, *mpc.Message, error) {
		return mpc.Refresh(mpc.RefreshConfig{Config: cfg, Share: share, Primes: primes, Generation: s.welcome.Latest + 1})
	})
	if err != nil {
		return nil, err
	}
	next := out.(*mpc.KeyShare)
	if err := s.commit(ctx, next); err != nil {
		return nil, err
	}
	return s.info(next), nil
}

// Backup makes the backup pair for a method: the device's half is sealed
// under the backup secret and handed, inside this session and named by the
// digest of the pair's public data, through the server to the custodian,
// which also receives the server's half. It counts as done when the server
// reports the custodian confirmed both halves of that one pair.
func (d *Device) Backup(ctx context.Context, secret *BackupSecret) error {
	if err := secret.validate(); err != nil {
		return &Error{Code: wire.CodeInvalidArgument, Err: err}
	}
	if err := d.ensureSigningReady(ctx); err != nil {
		return err
	}
	s, err := d.open(ctx, wire.OpBackup, wire.Hello{Method: secret.Method})
	if err != nil {
		return err
	}
	defer s.close()
	share, err := s.needActive(ctx)
	if err != nil {
		return err
	}
	out, err := s.run(ctx, mpc.ProtocolRefresh, share.Generation, func(cfg mpc.Config) (mpc.Round, *mpc.Message, error) {
		return mpc.Refresh(mpc.RefreshConfig{Config: cfg, Share: share})
	})
	if err != nil {
		return err
	}
	backup := out.(*mpc.KeyShare)
	pair := backup.PublicDigest()
	plain, err := backup.MarshalBinary()
	backup.Wipe()
	if err != nil {
		return err
	}
	d.progress(Progress{Phase: "encrypting"})
	blob, err := SealBackup(d.rand(), secret, s.welcome.WalletID, plain)
	clear(plain)
	if err != nil {
		return s.fail(ctx, wire.CodeInternal, err)
	}
	payload := &wire.BackupPayload{PairDigest: pair, Sealed: blob}
	if err := s.conn.Send(ctx, (&wire.Data{Kind: "backup", Body: payload.Marshal()}).Frame()); err != nil {
		return err
	}
	f, err := s.conn.Recv(ctx)
	if err != nil {
		return err
	}
	if _, err := wire.ParseDone(f); err != nil {
		return err
	}
	d.progress(Progress{Phase: "done"})
	return nil
}

// Recover turns the backup pair of a method into a new signing pair on this
// device; the server retires every other device's pair, so a lost device's
// share no longer signs. A share this device held is replaced.
func (d *Device) Recover(ctx context.Context, secret *BackupSecret) (*WalletInfo, error) {
	return d.pairFromBackup(ctx, wire.OpRecover, secret)
}

// AddDevice makes a signing pair for this device from the backup pair of a
// method, as Recover does, but the wallet's other devices keep theirs. It is
// for a device that holds no pair of the wallet, or a stale or retired one,
// which the new pair replaces; the server refuses a device id it already
// holds a pair of (WALLET_EXISTS), and more devices than its cap.
func (d *Device) AddDevice(ctx context.Context, secret *BackupSecret) (*WalletInfo, error) {
	return d.pairFromBackup(ctx, wire.OpAddDevice, secret)
}

// pairFromBackup runs a recovery or an add-device session: the backup pair
// of a method, refreshed into a new pair for this device.
func (d *Device) pairFromBackup(ctx context.Context, op string, secret *BackupSecret) (*WalletInfo, error) {
	if err := secret.validate(); err != nil {
		return nil, &Error{Code: wire.CodeInvalidArgument, Err: err}
	}
	s, err := d.open(ctx, op, wire.Hello{Method: secret.Method})
	if err != nil {
		return nil, err
	}
	defer s.close()
	data, err := s.conn.RecvData(ctx, "backup")
	if err != nil {
		return nil, err
	}
	d.progress(Progress{Phase: "decrypting"})
	backup, err := openBackupShare(secret, s.welcome.WalletID, data.Body)
	if err != nil {
		return nil, s.fail(ctx, Code(err), err)
	}
	defer backup.Wipe()
	// The prime search comes after the backup opened, so a mistyped
	// password is reported at once.
	return s.refreshStart(ctx, backup, s.welcome.Latest, nil)
}

// refreshStart turns a starting pair (a backup pair's user share, or a share
// an approving device handed over) into this device's own signing pair: it
// searches for its primes, says "ready" (the server waits long enough for
// the search), refreshes the pair into generation latest+1 and commits it.
// sid, when given, is the refresh's session id.
func (s *session) refreshStart(ctx context.Context, start *mpc.KeyShare, latest uint64, sid []byte) (*WalletInfo, error) {
	primes, err := s.d.primes(ctx)
	if err != nil {
		return nil, s.fail(ctx, wire.CodeInternal, err)
	}
	if err := s.conn.Send(ctx, (&wire.Data{Kind: "ready"}).Frame()); err != nil {
		return nil, err
	}
	out, err := s.run(ctx, mpc.ProtocolRefresh, latest, func(cfg mpc.Config) (mpc.Round, *mpc.Message, error) {
		if sid != nil {
			cfg.SessionID = sid
		}
		return mpc.Refresh(mpc.RefreshConfig{Config: cfg, Share: start, Primes: primes, Generation: latest + 1})
	})
	if err != nil {
		return nil, err
	}
	next := out.(*mpc.KeyShare)
	if err := s.commit(ctx, next); err != nil {
		return nil, err
	}
	s.d.progress(Progress{Phase: "done"})
	return s.info(next), nil
}

func openBackupShare(secret *BackupSecret, walletID string, blob []byte) (*mpc.KeyShare, error) {
	plain, err := OpenBackup(secret, walletID, blob)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	share := new(mpc.KeyShare)
	if err := share.UnmarshalBinary(plain); err != nil {
		return nil, codeErr(wire.CodeInternal, "bridge: backup share: %v", err)
	}
	return share, nil
}

// Eject rebuilds the wallet's private key from the backup pair, after the
// organization authorised it: the server passes on the custodian's half with
// the sealed user half. The key is checked against the wallet's public key.
func (d *Device) Eject(ctx context.Context, secret *BackupSecret) ([]byte, error) {
	if err := secret.validate(); err != nil {
		return nil, &Error{Code: wire.CodeInvalidArgument, Err: err}
	}
	s, err := d.open(ctx, wire.OpEject, wire.Hello{Method: secret.Method})
	if err != nil {
		return nil, err
	}
	defer s.close()
	data, err := s.conn.RecvData(ctx, "eject")
	if err != nil {
		return nil, err
	}
	dec := codec.NewDecoder(data.Body)
	blob := dec.VarBytes(wire.MaxFrame)
	custodian := dec.VarBytes(wire.MaxFrame)
	if err := dec.Finish(); err != nil {
		return nil, s.fail(ctx, wire.CodeBadFrame, err)
	}
	user, err := openBackupShare(secret, s.welcome.WalletID, blob)
	if err != nil {
		return nil, s.fail(ctx, Code(err), err)
	}
	defer user.Wipe()
	other := new(mpc.KeyShare)
	if err := other.UnmarshalBinary(custodian); err != nil {
		return nil, s.fail(ctx, wire.CodeBadFrame, fmt.Errorf("bridge: custodian share: %w", err))
	}
	defer other.Wipe()
	x, err := mpc.Reconstruct(user, other)
	if err != nil {
		return nil, s.fail(ctx, wire.CodeProtocolAbort, err)
	}
	key := x.Bytes()
	x.Zero()
	d.progress(Progress{Phase: "done"})
	return key, nil
}

// RemoveBackup deletes the backup pair of a method at the custodian. The
// device proves it holds the wallet's active signing share, with a Schnorr
// proof bound to this session, before the server asks the custodian to
// delete anything.
func (d *Device) RemoveBackup(ctx context.Context, method string) error {
	if !validMethodName(method) {
		return codeErr(wire.CodeInvalidArgument, "bridge: unknown backup method %q", method)
	}
	s, err := d.open(ctx, wire.OpRemoveBackup, wire.Hello{Method: method})
	if err != nil {
		return err
	}
	defer s.close()
	if s.active == nil {
		return s.fail(ctx, wire.CodeNoWallet, errors.New("bridge: no wallet on this device"))
	}
	sid := wire.RemoveBackupSessionID(method, s.welcome.WalletID, s.active.Generation, s.nonce, s.welcome.Nonce)
	if err := s.sendShareProof(ctx, sid, s.active); err != nil {
		return err
	}
	if err := s.recvDone(ctx); err != nil {
		return err
	}
	d.progress(Progress{Phase: "done"})
	return nil
}

// VerifyBackup is the backup drill of one method: the device opens its
// backup share with the secret and proves, to the server, that it knows the
// share's secret b_D for the B_D of the pair; the server checks the
// custodian's half. Neither side learns the other's half, and the wallet's
// key is rebuilt nowhere. A broken pair gives CodeBackupBroken.
func (d *Device) VerifyBackup(ctx context.Context, secret *BackupSecret) error {
	if err := secret.validate(); err != nil {
		return &Error{Code: wire.CodeInvalidArgument, Err: err}
	}
	s, err := d.open(ctx, wire.OpVerifyBackup, wire.Hello{Method: secret.Method})
	if err != nil {
		return err
	}
	defer s.close()
	data, err := s.conn.RecvData(ctx, "backup")
	if err != nil {
		return err
	}
	d.progress(Progress{Phase: "decrypting"})
	backup, err := openBackupShare(secret, s.welcome.WalletID, data.Body)
	if err != nil {
		return s.fail(ctx, Code(err), err)
	}
	defer backup.Wipe()
	if backup.Self != mpc.Device || backup.Peer != mpc.Server {
		return s.fail(ctx, wire.CodeBackupBroken, errors.New("bridge: the backup share is not a device share"))
	}
	sid := wire.VerifyBackupSessionID(secret.Method, s.welcome.WalletID, s.welcome.Latest, s.nonce, s.welcome.Nonce)
	if err := s.sendShareProof(ctx, sid, backup); err != nil {
		return err
	}
	if err := s.recvDone(ctx); err != nil {
		return err
	}
	d.progress(Progress{Phase: "done"})
	return nil
}

// proveActive takes the device's active share and proves to the server that
// the device holds its secret, bound to the session id that sessionID makes
// of the wallet, the share's generation and both nonces. It returns the
// share.
func (s *session) proveActive(ctx context.Context, sessionID func(walletID string, gen uint64, deviceNonce, serverNonce []byte) []byte) (*mpc.KeyShare, error) {
	share, err := s.needActive(ctx)
	if err != nil {
		return nil, err
	}
	sid := sessionID(s.welcome.WalletID, share.Generation, s.nonce, s.welcome.Nonce)
	if err := s.sendShareProof(ctx, sid, share); err != nil {
		return nil, err
	}
	return share, nil
}

func (s *session) sendShareProof(ctx context.Context, sid []byte, share *mpc.KeyShare) error {
	proof, err := mpc.ProveShare(s.d.rand(), sid, share)
	if err != nil {
		return s.fail(ctx, wire.CodeInternal, err)
	}
	body, err := proof.MarshalBinary()
	if err != nil {
		return s.fail(ctx, wire.CodeInternal, err)
	}
	return s.conn.Send(ctx, (&wire.Data{Kind: "proof", Body: body}).Frame())
}

func (s *session) recvDone(ctx context.Context) error {
	f, err := s.conn.Recv(ctx)
	if err != nil {
		return err
	}
	_, err = wire.ParseDone(f)
	return err
}

func validMethodName(m string) bool {
	switch m {
	case MethodPassword, MethodPasskey, MethodCustom, MethodApp:
		return true
	}
	return false
}

// State reports what the device holds, without contacting the server.
func (d *Device) State(ctx context.Context) (*WalletInfo, error) {
	active, _, err := d.loadShares(ctx)
	if err != nil || active == nil {
		return nil, err
	}
	meta, err := d.Store.Get(ctx, keyWallet)
	if err != nil {
		return nil, err
	}
	dec := codec.NewDecoder(meta)
	walletID := string(dec.VarBytes(64))
	dec.Point()
	if dec.Finish() != nil {
		walletID = ""
	}
	stale, err := d.Store.Get(ctx, keyStale)
	if err != nil {
		return nil, err
	}
	device, err := d.deviceID(ctx, false)
	if err != nil {
		return nil, err
	}
	info := d.info(walletID, device, active)
	info.Stale = stale != nil
	info.Removed = bytes.Equal(stale, removedMark)
	return info, nil
}

func checksumAddress(a []byte) string {
	h := hex.EncodeToString(a)
	digest := keccak([]byte(h))
	out := []byte("0x" + h)
	for i := range h {
		c := h[i]
		if c >= 'a' && c <= 'f' {
			nibble := digest[i/2]
			if i%2 == 0 {
				nibble >>= 4
			}
			if nibble&0xf >= 8 {
				out[i+2] = c - 32
			}
		}
	}
	return string(out)
}
