package wire

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/duetwallet/duet/internal/cpace"
	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/mpc/curve"
)

// Adding a device by approval. The new device B opens an add-device session
// with Method MethodApproval and sends its CPace message (Data
// "approval-request"); the server keeps the request and answers
// "approval-waiting", and B shows its code. An existing device A, in an
// approve-device session, gets the request (Data "approval-request", an
// ApprovalRequest), runs CPace with the code the user typed, and answers
// with Data "approval" (an Approval): a random δ for the server, its CPace
// message, and B's starting share — A's share shifted by δ — sealed under
// the key both derived. The server hands the message and the sealed share to
// B (Data "approval", an ApprovalResponse); B opens it, says "opened", and
// B and the server refresh the starting pair into B's own, as a recovery
// does.

// ApprovalCodeDigits is the length of the code a new device shows.
const ApprovalCodeDigits = 8

// MaxApprovalCiphertext bounds the sealed starting share: an encoded share
// without aux info and the AEAD's tag.
const MaxApprovalCiphertext = 1024

// approvalLabel names the protocol in CPace's channel identifier.
const approvalLabel = "duet device approval v1"

// ApprovalChannel returns CPace's channel identifier and session id for an
// approval: the wallet and the new device's id, and the nonces of the new
// device's session (the server's Welcome nonce, the device's Hello nonce).
// The new device computes them from its own session; the approving device
// gets them from the server, so a server that hands it another session's or
// another device's values makes the two keys differ.
func ApprovalChannel(walletID string, device, serverNonce, deviceNonce []byte) (ci, sid []byte) {
	ci = codec.NewEncoder(64).VarBytes([]byte(approvalLabel)).VarBytes([]byte(walletID)).VarBytes(device).Bytes()
	sid = codec.NewEncoder(72).VarBytes(serverNonce).VarBytes(deviceNonce).Bytes()
	return ci, sid
}

// approvalKey derives the AEAD key from CPace's ISK.
func approvalKey(isk []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, isk, nil, "duet device approval share", chacha20poly1305.KeySize)
}

// ErrApprovalOpen is returned for a sealed share that does not open: the
// codes differed, or it was sealed for another channel or session.
var ErrApprovalOpen = errors.New("wire: the approval does not open under this key")

// SealApproval seals the starting share under the key derived from the ISK,
// with the channel identifier and session id as associated data. Each key
// seals one message, so the nonce is zero.
func SealApproval(isk, ci, sid, plain []byte) ([]byte, error) {
	key, err := approvalKey(isk)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	return aead.Seal(nil, nonce, plain, approvalAD(ci, sid)), nil
}

// OpenApproval opens what SealApproval sealed.
func OpenApproval(isk, ci, sid, sealed []byte) ([]byte, error) {
	key, err := approvalKey(isk)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	plain, err := aead.Open(nil, nonce, sealed, approvalAD(ci, sid))
	if err != nil {
		return nil, ErrApprovalOpen
	}
	return plain, nil
}

func approvalAD(ci, sid []byte) []byte {
	return codec.NewEncoder(len(ci) + len(sid) + 8).VarBytes(ci).VarBytes(sid).Bytes()
}

// ParseApprovalMessage checks the body of the new device's
// "approval-request" Data: one CPace message.
func ParseApprovalMessage(body []byte) ([]byte, error) {
	if err := cpace.CheckMessage(body); err != nil {
		return nil, fmt.Errorf("%w: approval-request: %v", ErrFrame, err)
	}
	return body, nil
}

// ApprovalRequest is the body of the server's "approval-request" Data to
// the approving device: the new device's id, the nonces of its session, its
// CPace message, and when the request expires (Unix seconds).
type ApprovalRequest struct {
	Device      []byte
	ServerNonce []byte
	DeviceNonce []byte
	Message     []byte
	Expires     uint64
}

func (r *ApprovalRequest) Marshal() []byte {
	return codec.NewEncoder(160).Fixed(r.Device).Fixed(r.ServerNonce).Fixed(r.DeviceNonce).
		Fixed(r.Message).Uint64(r.Expires).Bytes()
}

// ParseApprovalRequest decodes an ApprovalRequest strictly.
func ParseApprovalRequest(body []byte) (*ApprovalRequest, error) {
	d := codec.NewDecoder(body)
	r := &ApprovalRequest{
		Device: d.Fixed(DeviceIDSize), ServerNonce: d.Fixed(32), DeviceNonce: d.Fixed(32),
		Message: d.Fixed(cpace.MessageSize), Expires: d.Uint64(),
	}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("%w: approval-request: %v", ErrFrame, err)
	}
	if err := cpace.CheckMessage(r.Message); err != nil {
		return nil, fmt.Errorf("%w: approval-request: %v", ErrFrame, err)
	}
	return r, nil
}

// Approval is the body of the approving device's "approval" Data: δ, its
// CPace message, and the sealed starting share.
type Approval struct {
	Delta      []byte // a canonical non-zero scalar, 32 bytes big-endian
	Message    []byte
	Ciphertext []byte
}

func (a *Approval) Marshal() []byte {
	return codec.NewEncoder(len(a.Ciphertext) + 80).Fixed(a.Delta).Fixed(a.Message).VarBytes(a.Ciphertext).Bytes()
}

// ParseApproval decodes an Approval strictly: δ must be a canonical
// non-zero scalar.
func ParseApproval(body []byte) (*Approval, error) {
	d := codec.NewDecoder(body)
	a := &Approval{Delta: d.Fixed(curve.ScalarSize), Message: d.Fixed(cpace.MessageSize), Ciphertext: d.VarBytes(MaxApprovalCiphertext)}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("%w: approval: %v", ErrFrame, err)
	}
	delta, err := curve.ScalarFromBytes(a.Delta)
	if err != nil || delta.IsZero() {
		return nil, fmt.Errorf("%w: approval: δ is not a canonical non-zero scalar", ErrFrame)
	}
	delta.Zero()
	if err := cpace.CheckMessage(a.Message); err != nil {
		return nil, fmt.Errorf("%w: approval: %v", ErrFrame, err)
	}
	if len(a.Ciphertext) == 0 {
		return nil, fmt.Errorf("%w: approval: no sealed share", ErrFrame)
	}
	return a, nil
}

// ApprovalResponse is the body of the server's "approval" Data to the new
// device: the wallet's newest generation, which the new pair follows, the
// approving device's CPace message and the sealed starting share.
type ApprovalResponse struct {
	Latest     uint64
	Message    []byte
	Ciphertext []byte
}

func (r *ApprovalResponse) Marshal() []byte {
	return codec.NewEncoder(len(r.Ciphertext) + 56).Uint64(r.Latest).Fixed(r.Message).VarBytes(r.Ciphertext).Bytes()
}

// ParseApprovalResponse decodes an ApprovalResponse strictly. The message is
// checked for its form only: whether its element is valid is CPace's to
// find, when the new device derives its key.
func ParseApprovalResponse(body []byte) (*ApprovalResponse, error) {
	d := codec.NewDecoder(body)
	r := &ApprovalResponse{Latest: d.Uint64(), Message: d.Fixed(cpace.MessageSize), Ciphertext: d.VarBytes(MaxApprovalCiphertext)}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("%w: approval: %v", ErrFrame, err)
	}
	if r.Latest == 0 || len(r.Ciphertext) == 0 {
		return nil, fmt.Errorf("%w: approval: needs the wallet's generation and a sealed share", ErrFrame)
	}
	return r, nil
}

// Session id labels of the approval.
const (
	labelApproveDevice   = "approve-device"
	labelApprovalRefresh = "refresh/approval"
)

// ApproveDeviceSessionID is the session id of the approving device's proof
// of its signing share, bound as ListDevicesSessionID's is.
func ApproveDeviceSessionID(walletID string, gen uint64, deviceNonce, serverNonce []byte) []byte {
	return mpc.NewSessionID(labelApproveDevice, walletID, gen, mpc.Device, deviceNonce, mpc.Server, serverNonce)
}

// ApprovalRefreshSessionID is the session id of the refresh that turns the
// starting pair into the new device's: the refresh's usual inputs and the
// digest of the starting pair's public data, as each side holds it. An
// approving device that told the two sides different δ gives them different
// starting pairs, so their session ids differ and the refresh fails at its
// first message, before anything is stored.
func ApprovalRefreshSessionID(walletID string, gen uint64, deviceNonce, serverNonce, startPair []byte) []byte {
	server := codec.NewEncoder(72).VarBytes(serverNonce).VarBytes(startPair).Bytes()
	return mpc.NewSessionID(labelApprovalRefresh, walletID, gen, mpc.Device, deviceNonce, mpc.Server, server)
}
