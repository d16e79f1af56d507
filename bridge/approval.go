package bridge

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/duetwallet/duet/internal/cpace"
	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/mpc/curve"
	"github.com/duetwallet/duet/wire"
)

// Adding a device by approval: the new device shows a short code, the user
// types it on a device that already signs for the wallet, and the two
// derive one key from it with CPace through the server, which relays their
// messages and learns neither the code nor the key. The approving device
// hands the new one its own share shifted by a random δ, sealed under that
// key, and tells the server δ; the new device and the server then refresh
// the starting pair into the new device's own, as a recovery does. The
// server holds x_S and learns δ, never x_A nor the new device's share; a
// server that plays one of the devices gets one guess at the code.

const (
	// approvalWait bounds the new device's wait for an approval; the server
	// gives up on a request after five minutes.
	approvalWait = 6 * time.Minute
	// approverWait bounds the approving device's wait for the new device
	// to open its share; the server gives up after two minutes.
	approverWait = 3 * time.Minute
)

// newApprovalCode draws an 8-digit code uniformly, by rejection sampling.
func newApprovalCode(rand io.Reader) (string, error) {
	const n = 100_000_000
	const limit = (1 << 32) / n * n
	var b [4]byte
	for {
		if _, err := io.ReadFull(rand, b[:]); err != nil {
			return "", err
		}
		v := binary.BigEndian.Uint32(b[:])
		if v < limit {
			clear(b[:])
			return fmt.Sprintf("%08d", v%n), nil
		}
	}
}

// formatCode groups a code's digits for the user: "1234 5678".
func formatCode(code string) string { return code[:4] + " " + code[4:] }

// ParseApprovalCode accepts the code as a user types it: eight digits,
// spaces and dashes anywhere. It returns the digits.
func ParseApprovalCode(s string) (string, error) {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c)
		case c == ' ' || c == '-':
		default:
			return "", codeErr(wire.CodeInvalidArgument, "bridge: an approval code is %d digits", wire.ApprovalCodeDigits)
		}
	}
	if b.Len() != wire.ApprovalCodeDigits {
		return "", codeErr(wire.CodeInvalidArgument, "bridge: an approval code is %d digits", wire.ApprovalCodeDigits)
	}
	return b.String(), nil
}

var errApprovalOpen = errors.New("bridge: the approval did not open: the code did not match, or the approval was not for this device")

// RequestApproval adds this device to the wallet by the approval of a
// device that signs for it: it asks the server for an approval, then calls
// show once with the code the user is to type on the other device ("1234
// 5678"), and waits for the approval (the server gives up after five
// minutes). The starting share it gets is refreshed into this device's own
// signing pair; the approving device keeps its own. Like AddDevice, it is
// for a device that holds no pair of the wallet, or a stale or retired one,
// which the new pair replaces. A code that does not match gives
// APPROVAL_FAILED, and nothing is stored.
func (d *Device) RequestApproval(ctx context.Context, show func(code string)) (*WalletInfo, error) {
	if show == nil {
		return nil, codeErr(wire.CodeInvalidArgument, "bridge: RequestApproval needs a function that shows the code")
	}
	code, err := newApprovalCode(d.rand())
	if err != nil {
		return nil, err
	}
	s, err := d.open(ctx, wire.OpAddDevice, wire.Hello{Method: wire.MethodApproval})
	if err != nil {
		return nil, err
	}
	defer s.close()
	ci, sid := wire.ApprovalChannel(s.welcome.WalletID, s.device, s.welcome.Nonce, s.nonce)
	pake, msg, err := cpace.Start(d.rand(), []byte(code), ci, sid)
	if err != nil {
		return nil, s.fail(ctx, wire.CodeInternal, err)
	}
	defer pake.Wipe()
	if err := s.conn.Send(ctx, (&wire.Data{Kind: "approval-request", Body: msg}).Frame()); err != nil {
		return nil, err
	}
	if _, err := s.conn.RecvData(ctx, "approval-waiting"); err != nil {
		return nil, err
	}
	d.progress(Progress{Phase: "awaiting-approval"})
	show(formatCode(code))
	f, err := s.conn.RecvWithin(ctx, approvalWait)
	if err != nil {
		return nil, err
	}
	data, err := wire.ParseData(f, "approval")
	if err != nil {
		return nil, err
	}
	resp, err := wire.ParseApprovalResponse(data.Body)
	if err != nil {
		return nil, s.fail(ctx, wire.CodeBadFrame, err)
	}
	start, err := openStartShare(pake, resp, ci, sid)
	if err != nil {
		return nil, s.fail(ctx, wire.CodeApprovalFailed, err)
	}
	defer start.Wipe()
	if err := s.conn.Send(ctx, (&wire.Data{Kind: "opened"}).Frame()); err != nil {
		return nil, err
	}
	// The refresh's session id binds the starting pair, so that an approving
	// device that told the server another δ makes it fail at once.
	refreshSID := wire.ApprovalRefreshSessionID(s.welcome.WalletID, resp.Latest, s.nonce, s.welcome.Nonce, start.PublicDigest())
	return s.refreshStart(ctx, start, resp.Latest, refreshSID)
}

// openStartShare derives the key from the approving device's message and
// opens the starting share: a device share of a pair, without aux info, of a
// generation the wallet has had.
func openStartShare(pake *cpace.Initiator, resp *wire.ApprovalResponse, ci, sid []byte) (*mpc.KeyShare, error) {
	isk, err := pake.Finish(resp.Message)
	if err != nil {
		return nil, errApprovalOpen
	}
	plain, err := wire.OpenApproval(isk, ci, sid, resp.Ciphertext)
	clear(isk)
	if err != nil {
		return nil, errApprovalOpen
	}
	start := new(mpc.KeyShare)
	err = start.UnmarshalBinary(plain)
	clear(plain)
	if err != nil {
		return nil, fmt.Errorf("bridge: the starting share: %w", err)
	}
	// UnmarshalBinary checked x·G = SelfPublic and made PublicKey as
	// SelfPublic + PeerPublic.
	if start.Self != mpc.Device || start.Peer != mpc.Server || start.Aux != nil || start.Generation == 0 || start.Generation > resp.Latest {
		start.Wipe()
		return nil, errors.New("bridge: the starting share is not a device share of the wallet's pairs")
	}
	return start, nil
}

// ApproveDevice approves the device that is waiting to join the wallet and
// shows code (eight digits; spaces and dashes are ignored): this device,
// which must hold its signing share, proves so to the server, derives a key
// from the code with the waiting device, and hands it its starting share
// sealed under that key. It returns once the new device opened it; a code
// that does not match gives APPROVAL_FAILED, and nothing is stored. This
// device's own pair is not changed.
func (d *Device) ApproveDevice(ctx context.Context, code string) error {
	code, err := ParseApprovalCode(code)
	if err != nil {
		return err
	}
	s, err := d.open(ctx, wire.OpApproveDevice, wire.Hello{})
	if err != nil {
		return err
	}
	defer s.close()
	share, err := s.proveActive(ctx, wire.ApproveDeviceSessionID)
	if err != nil {
		return err
	}
	data, err := s.conn.RecvData(ctx, "approval-request")
	if err != nil {
		return err
	}
	req, err := wire.ParseApprovalRequest(data.Body)
	if err != nil {
		return s.fail(ctx, wire.CodeBadFrame, err)
	}
	body, err := s.approve(req, code, share)
	if err != nil {
		return s.fail(ctx, wire.CodeApprovalFailed, err)
	}
	err = s.conn.Send(ctx, (&wire.Data{Kind: "approval", Body: body}).Frame())
	clear(body)
	if err != nil {
		return err
	}
	d.progress(Progress{Phase: "awaiting-device"})
	f, err := s.conn.RecvWithin(ctx, approverWait)
	if err != nil {
		return err
	}
	if _, err := wire.ParseDone(f); err != nil {
		return err
	}
	d.progress(Progress{Phase: "done"})
	return nil
}

// approve makes the approval for a request: CPace's answer with the code,
// a fresh δ, and the starting share x_A+δ sealed under the derived key.
func (s *session) approve(req *wire.ApprovalRequest, code string, share *mpc.KeyShare) ([]byte, error) {
	ci, sid := wire.ApprovalChannel(s.welcome.WalletID, req.Device, req.ServerNonce, req.DeviceNonce)
	msg, isk, err := cpace.Respond(s.d.rand(), []byte(code), ci, sid, req.Message)
	if err != nil {
		return nil, fmt.Errorf("bridge: the waiting device's request: %w", err)
	}
	defer clear(isk)
	delta, err := curve.RandomScalar(s.d.rand())
	if err != nil {
		return nil, err
	}
	defer delta.Zero()
	start := share.Shift(delta)
	plain, err := start.MarshalBinary()
	start.Wipe()
	if err != nil {
		return nil, err
	}
	sealed, err := wire.SealApproval(isk, ci, sid, plain)
	clear(plain)
	if err != nil {
		return nil, err
	}
	db := delta.Bytes()
	defer clear(db)
	return (&wire.Approval{Delta: db, Message: msg, Ciphertext: sealed}).Marshal(), nil
}
