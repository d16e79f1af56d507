// Package wire is the session protocol between the device party (in the
// browser) and the server party over one WebSocket: versioned binary frames
// with a canonical, strict encoding, shared by both sides.
//
// A session serves one operation. The device opens with Hello (its API key,
// the operation, a fresh nonce, its device id and the generations it
// holds); the server answers Welcome (the wallet, its nonce, the active
// generation and pair of the device, and the wallet's newest generation). Then MPC
// frames carry protocol messages, Data frames carry operation payloads
// (backup ciphertexts, eject material), and a share change ends with the
// two-phase Ack/Commit. Error ends a session from either side.
package wire

import (
	"errors"
	"fmt"

	"github.com/duetwallet/duet/mpc/codec"
)

// Version is the frame format version.
const Version = 1

// MaxFrame caps a frame; the largest honest frame is an aux-info round
// (≈ 50 KB) or a backup ciphertext.
const MaxFrame = 256 << 10

// Type is a frame type.
type Type uint8

const (
	TypeHello   Type = 1
	TypeWelcome Type = 2
	TypeMPC     Type = 3
	TypeAck     Type = 4
	TypeCommit  Type = 5
	TypeData    Type = 6
	TypeDone    Type = 7
	TypeError   Type = 8
)

func (t Type) String() string {
	switch t {
	case TypeHello:
		return "hello"
	case TypeWelcome:
		return "welcome"
	case TypeMPC:
		return "mpc"
	case TypeAck:
		return "ack"
	case TypeCommit:
		return "commit"
	case TypeData:
		return "data"
	case TypeDone:
		return "done"
	case TypeError:
		return "error"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Operations a session can serve.
const (
	OpKeygen  = "keygen"
	OpSign    = "sign"
	OpBackup  = "backup"
	OpRecover = "recover"
	OpEject   = "eject"
	OpRefresh = "refresh"
	// OpRemoveBackup deletes one backup method's pair at the custodian,
	// once the device proved it holds the wallet's active signing share.
	OpRemoveBackup = "remove-backup"
	// OpVerifyBackup is the backup drill: the device proves it can open its
	// backup share of a method, and the server that the custodian's share
	// still makes the wallet's public key with it.
	OpVerifyBackup = "verify-backup"
	// OpPresign makes one presignature for both parties' pools; the server
	// ends it with Done once its copy is stored.
	OpPresign = "presign"
	// OpAddDevice makes a signing pair for one more device of the wallet
	// from a backup pair (Method), as a recovery does, but the wallet's
	// other devices keep theirs.
	OpAddDevice = "add-device"
	// OpListDevices lists the wallet's devices (Data "devices", a
	// DeviceList) to a device that proved it holds its signing share.
	OpListDevices = "list-devices"
	// OpRemoveDevice deletes one device's shares (Data "device" names it),
	// once the calling device proved it holds its own signing share.
	OpRemoveDevice = "remove-device"
	// OpApproveDevice is the existing device's side of adding a device by
	// approval: it answers the new device's pending request (an add-device
	// session with Method MethodApproval) with the new device's starting
	// share, sealed under the key both derive from the short code.
	OpApproveDevice = "approve-device"
)

// MethodApproval is the Method of an add-device session whose new pair
// comes from an existing device's approval, not from a backup pair.
const MethodApproval = "approval"

// DeviceIDSize is the size of a device id. A wallet made before devices
// existed has one device whose id is empty.
const DeviceIDSize = 16

// ErrFrame is returned for a frame that does not decode.
var ErrFrame = errors.New("wire: malformed frame")

// Frame is one WebSocket message.
type Frame struct {
	Type Type
	Body []byte
}

// Marshal encodes the frame.
func (f *Frame) Marshal() []byte {
	out := make([]byte, 0, 2+len(f.Body))
	out = append(out, Version, byte(f.Type))
	return append(out, f.Body...)
}

// ParseFrame decodes a frame's header; the body is decoded by type.
func ParseFrame(b []byte) (*Frame, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: too short", ErrFrame)
	}
	if b[0] != Version {
		return nil, fmt.Errorf("%w: unknown version %d", ErrFrame, b[0])
	}
	t := Type(b[1])
	if t < TypeHello || t > TypeError {
		return nil, fmt.Errorf("%w: unknown type %d", ErrFrame, b[1])
	}
	if len(b) > MaxFrame {
		return nil, fmt.Errorf("%w: %d bytes is over the limit", ErrFrame, len(b))
	}
	return &Frame{Type: t, Body: append([]byte(nil), b[2:]...)}, nil
}

// Generations is what a device holds: its active generation and, after an
// interrupted share change, a pending one.
type Generations struct {
	Active, Pending uint64 // 0 = none; real generations start at 1
}

// Hello opens a session.
type Hello struct {
	APIKey string
	Op     string
	Nonce  []byte // 32 fresh bytes
	Gens   Generations
	Digest []byte // sign: the 32-byte message digest
	Method string // backup, recover, eject: the backup method
	// Presignature (sign) names a pooled presignature by its psid; empty
	// means the session presigns inline.
	Presignature []byte
	// Device is the device's id: DeviceIDSize bytes, or empty for the one
	// device of a wallet made before devices existed. In keygen, recover
	// and add-device it names the device the new pair is for.
	Device []byte
}

const (
	maxKey    = 256
	maxOp     = 16
	maxMethod = 16
)

func (h *Hello) Frame() *Frame {
	e := codec.NewEncoder(128).VarBytes([]byte(h.APIKey)).VarBytes([]byte(h.Op)).Fixed(h.Nonce).
		Uint64(h.Gens.Active).Uint64(h.Gens.Pending).VarBytes(h.Digest).VarBytes([]byte(h.Method)).VarBytes(h.Presignature).
		VarBytes(h.Device)
	return &Frame{Type: TypeHello, Body: e.Bytes()}
}

func ParseHello(f *Frame) (*Hello, error) {
	if f.Type != TypeHello {
		return nil, fmt.Errorf("%w: want hello, got %v", ErrFrame, f.Type)
	}
	d := codec.NewDecoder(f.Body)
	h := &Hello{
		APIKey: string(d.VarBytes(maxKey)),
		Op:     string(d.VarBytes(maxOp)),
		Nonce:  d.Fixed(32),
	}
	h.Gens.Active = d.Uint64()
	h.Gens.Pending = d.Uint64()
	h.Digest = d.VarBytes(32)
	h.Method = string(d.VarBytes(maxMethod))
	h.Presignature = d.VarBytes(32)
	h.Device = d.VarBytes(DeviceIDSize)
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("%w: hello: %v", ErrFrame, err)
	}
	if len(h.Device) != 0 && len(h.Device) != DeviceIDSize {
		return nil, fmt.Errorf("%w: hello: a device id has %d bytes", ErrFrame, DeviceIDSize)
	}
	return h, nil
}

// Welcome answers Hello.
type Welcome struct {
	WalletID string
	Nonce    []byte // 32 fresh bytes
	// Active is the active generation of the device's pair on the server;
	// 0 = none (no wallet yet, or a device that holds no pair of it).
	Active uint64
	// Pair is the digest of the device's active pair's public data
	// (mpc.KeyShare.PublicDigest): 32 bytes with an active generation,
	// empty without. The device reconciles its shares by it.
	Pair []byte
	// Latest is the wallet's newest generation, of any device; a share
	// change in this session makes generation Latest+1.
	Latest uint64
}

func (w *Welcome) Frame() *Frame {
	e := codec.NewEncoder(128).VarBytes([]byte(w.WalletID)).Fixed(w.Nonce).Uint64(w.Active).VarBytes(w.Pair).Uint64(w.Latest)
	return &Frame{Type: TypeWelcome, Body: e.Bytes()}
}

func ParseWelcome(f *Frame) (*Welcome, error) {
	if f.Type != TypeWelcome {
		return nil, unexpected(TypeWelcome, f)
	}
	d := codec.NewDecoder(f.Body)
	w := &Welcome{WalletID: string(d.VarBytes(64)), Nonce: d.Fixed(32), Active: d.Uint64(), Pair: d.VarBytes(32), Latest: d.Uint64()}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("%w: welcome: %v", ErrFrame, err)
	}
	if (w.Active == 0) != (len(w.Pair) == 0) || (len(w.Pair) != 0 && len(w.Pair) != 32) {
		return nil, fmt.Errorf("%w: welcome: an active generation comes with its 32-byte pair digest, and only then", ErrFrame)
	}
	if w.Active > w.Latest {
		return nil, fmt.Errorf("%w: welcome: the device's generation %d is newer than the wallet's newest %d", ErrFrame, w.Active, w.Latest)
	}
	return w, nil
}

// Ack tells the server that the device stored generation Gen durably as
// pending; Digest is the hash of the new pair's public data, which both
// sides must agree on.
type Ack struct {
	Gen    uint64
	Digest []byte
}

func (a *Ack) Frame() *Frame {
	return &Frame{Type: TypeAck, Body: codec.NewEncoder(48).Uint64(a.Gen).VarBytes(a.Digest).Bytes()}
}

func ParseAck(f *Frame) (*Ack, error) {
	if f.Type != TypeAck {
		return nil, unexpected(TypeAck, f)
	}
	d := codec.NewDecoder(f.Body)
	a := &Ack{Gen: d.Uint64(), Digest: d.VarBytes(32)}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("%w: ack: %v", ErrFrame, err)
	}
	return a, nil
}

// Commit tells the device that the server activated generation Gen.
type Commit struct{ Gen uint64 }

func (c *Commit) Frame() *Frame {
	return &Frame{Type: TypeCommit, Body: codec.NewEncoder(8).Uint64(c.Gen).Bytes()}
}

func ParseCommit(f *Frame) (*Commit, error) {
	if f.Type != TypeCommit {
		return nil, unexpected(TypeCommit, f)
	}
	d := codec.NewDecoder(f.Body)
	c := &Commit{Gen: d.Uint64()}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("%w: commit: %v", ErrFrame, err)
	}
	return c, nil
}

// Data carries an operation payload, named by Kind.
type Data struct {
	Kind string
	Body []byte
}

func (x *Data) Frame() *Frame {
	e := codec.NewEncoder(len(x.Body) + 32).VarBytes([]byte(x.Kind)).VarBytes(x.Body)
	return &Frame{Type: TypeData, Body: e.Bytes()}
}

func ParseData(f *Frame, kind string) (*Data, error) {
	if f.Type != TypeData {
		return nil, unexpected(TypeData, f)
	}
	d := codec.NewDecoder(f.Body)
	x := &Data{Kind: string(d.VarBytes(32)), Body: d.VarBytes(MaxFrame)}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("%w: data: %v", ErrFrame, err)
	}
	if x.Kind != kind {
		return nil, fmt.Errorf("%w: want data %q, got %q", ErrFrame, kind, x.Kind)
	}
	return x, nil
}

// BackupPayload is the body of the device's "backup" Data in a backup
// session: the digest of the backup pair's public data, which binds the
// sealed half to the pair the session just made, and the device's half
// sealed under the method's key.
type BackupPayload struct {
	PairDigest []byte
	Sealed     []byte
}

func (b *BackupPayload) Marshal() []byte {
	return codec.NewEncoder(len(b.Sealed) + 40).VarBytes(b.PairDigest).VarBytes(b.Sealed).Bytes()
}

func ParseBackupPayload(body []byte) (*BackupPayload, error) {
	d := codec.NewDecoder(body)
	b := &BackupPayload{PairDigest: d.VarBytes(32), Sealed: d.VarBytes(MaxFrame)}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("%w: backup: %v", ErrFrame, err)
	}
	if len(b.PairDigest) != 32 || len(b.Sealed) == 0 {
		return nil, fmt.Errorf("%w: backup needs a 32-byte pair digest and a sealed share", ErrFrame)
	}
	return b, nil
}

// Done ends a successful session; Body is operation specific.
type Done struct{ Body []byte }

func (x *Done) Frame() *Frame {
	return &Frame{Type: TypeDone, Body: codec.NewEncoder(len(x.Body) + 4).VarBytes(x.Body).Bytes()}
}

func ParseDone(f *Frame) (*Done, error) {
	if f.Type != TypeDone {
		return nil, unexpected(TypeDone, f)
	}
	d := codec.NewDecoder(f.Body)
	x := &Done{Body: d.VarBytes(MaxFrame)}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("%w: done: %v", ErrFrame, err)
	}
	return x, nil
}

// Error ends a session with a stable code and a human message.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func (e *Error) Frame() *Frame {
	b := codec.NewEncoder(len(e.Message) + 32).VarBytes([]byte(e.Code)).VarBytes([]byte(e.Message))
	return &Frame{Type: TypeError, Body: b.Bytes()}
}

func ParseError(f *Frame) (*Error, error) {
	d := codec.NewDecoder(f.Body)
	e := &Error{Code: string(d.VarBytes(64)), Message: string(d.VarBytes(1024))}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("%w: error: %v", ErrFrame, err)
	}
	return e, nil
}

// unexpected turns an Error frame into its error, and anything else into a
// protocol error.
func unexpected(want Type, f *Frame) error {
	if f.Type == TypeError {
		if e, err := ParseError(f); err == nil {
			return e
		}
	}
	return fmt.Errorf("%w: want %v, got %v", ErrFrame, want, f.Type)
}

// Stable error codes, shared with the JavaScript SDK.
const (
	CodeInvalidArgument    = "INVALID_ARGUMENT"
	CodeUnauthorized       = "UNAUTHORIZED"
	CodeForbidden          = "FORBIDDEN"
	CodeNoWallet           = "NO_WALLET"
	CodeWalletExists       = "WALLET_EXISTS"
	CodeWrongPassword      = "WRONG_PASSWORD"
	CodeNotBackedUp        = "NOT_BACKED_UP"
	CodeEjectNotAuthorized = "EJECT_NOT_AUTHORIZED"
	CodeStaleDevice        = "STALE_DEVICE"
	CodeBackupBroken       = "BACKUP_BROKEN"
	CodeNetwork            = "NETWORK"
	CodeProtocolAbort      = "PROTOCOL_ABORT"
	CodeBadFrame           = "BAD_FRAME"
	CodeBusy               = "BUSY"
	CodeRateLimited        = "RATE_LIMITED"
	// CodeNotSigningReady: the wallet's active share has no aux info yet
	// (key generation committed, aux-info not yet run).
	CodeNotSigningReady = "NOT_SIGNING_READY"
	// CodeNoPresignature: the pooled presignature a sign session named is
	// not in the server's pool (used, expired, or of another generation).
	CodeNoPresignature = "NO_PRESIGNATURE"
	// CodeDeviceRemoved: the device holds no pair of the wallet on the
	// server: it was removed, or retired by a recovery on another device.
	// The wallet is not on this device, and recoverable.
	CodeDeviceRemoved = "DEVICE_REMOVED"
	// CodeApprovalFailed: adding a device by approval failed: no request
	// was waiting, it expired or was replaced, the code did not match, or
	// the approving device's pair changed meanwhile. Nothing was stored.
	CodeApprovalFailed = "APPROVAL_FAILED"
	CodeServerError    = "SERVER_ERROR"
	CodeInternal       = "INTERNAL"
)
