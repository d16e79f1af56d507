package party

import (
	"context"
	"encoding/hex"
	"errors"

	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/server/store"
	"github.com/duetwallet/duet/wire"
)

// A wallet lives on one device or several: each device holds its own
// signing pair with the server, under its own id, and the server keeps one
// active share per device. Key generation makes the first device; an
// add-device session, through a backup method, makes one more and leaves
// the others; a recovery makes one and retires every other. A device asks
// for the list, and removes a device (itself included), only after proving
// it holds its own signing share.

// admitDevice refuses an added device beyond the wallet's cap. It runs
// under the wallet's lock, which orders every change of its devices.
func (s *session) admitDevice(ctx context.Context) error {
	ds, err := s.h.Store.Devices(ctx, s.walletID)
	if err != nil {
		return fail(wire.CodeServerError, "loading the wallet's devices failed")
	}
	if max := s.h.Limits.withDefaults().Devices; len(ds) >= max {
		return fail(wire.CodeForbidden, "this wallet has %d devices, the most it may have: remove one first", len(ds))
	}
	return nil
}

// proveHeld reads the device's proof that it holds the secret of its active
// share, bound to sid, and checks it.
func (s *session) proveHeld(ctx context.Context, share *mpc.KeyShare, sid []byte) error {
	proof, err := s.recvShareProof(ctx)
	if err != nil {
		return err
	}
	if err := mpc.VerifyShareProof(sid, mpc.Device, mpc.Server, share.PeerPublic, proof); err != nil {
		return blame(wire.CodeProtocolAbort, "the device did not prove it holds its signing share")
	}
	return nil
}

// listDevices sends the wallet's devices to a device that proved it holds
// its signing share.
func (s *session) listDevices(ctx context.Context) error {
	share, err := s.heldShare(ctx)
	if share == nil {
		return err
	}
	defer share.Wipe()
	sid := wire.ListDevicesSessionID(s.walletID, share.Generation, s.hello.Nonce, s.nonce)
	if err := s.proveHeld(ctx, share, sid); err != nil {
		return err
	}
	ds, err := s.h.Store.Devices(ctx, s.walletID)
	if err != nil {
		return fail(wire.CodeServerError, "loading the wallet's devices failed")
	}
	list := make(wire.DeviceList, 0, len(ds))
	for _, d := range ds {
		id, err := hex.DecodeString(d.ID)
		if err != nil {
			return fail(wire.CodeServerError, "a stored device id is corrupt")
		}
		x := wire.DeviceEntry{ID: id, CreatedAt: uint64(d.CreatedAt.Unix())}
		if !d.LastUsedAt.IsZero() {
			x.LastUsedAt = uint64(d.LastUsedAt.Unix())
		}
		list = append(list, x)
	}
	return s.conn.Send(ctx, (&wire.Data{Kind: "devices", Body: list.Marshal()}).Frame())
}

// removeDevice deletes one device of the wallet: its shares and their
// presignatures, in one transaction, under the wallet's lock. The calling
// device proves it holds its own signing share first; it may name itself.
func (s *session) removeDevice(ctx context.Context) error {
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
	defer share.Wipe()
	sid := wire.RemoveDeviceSessionID(s.walletID, share.Generation, s.hello.Nonce, s.nonce)
	if err := s.proveHeld(ctx, share, sid); err != nil {
		return err
	}
	d, err := s.conn.RecvData(ctx, "device")
	if err != nil {
		return err
	}
	target, err := wire.ParseDeviceID(d.Body)
	if err != nil {
		return err
	}
	id := hex.EncodeToString(target)
	err = s.h.Store.RemoveDevice(ctx, s.walletID, id)
	if errors.Is(err, store.ErrNotFound) {
		return fail(wire.CodeInvalidArgument, "the wallet has no device %q", id)
	}
	if err != nil {
		return fail(wire.CodeServerError, "removing the device failed")
	}
	s.target = id
	s.release()
	return s.conn.Send(ctx, (&wire.Done{}).Frame())
}
