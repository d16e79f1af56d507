package bridge

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"time"

	"github.com/duetwallet/duet/wire"
)

// ListDevices lists the wallet's devices, as the server holds them, once
// this device proved it holds its signing share.
func (d *Device) ListDevices(ctx context.Context) ([]DeviceInfo, error) {
	s, err := d.open(ctx, wire.OpListDevices, wire.Hello{})
	if err != nil {
		return nil, err
	}
	defer s.close()
	if _, err := s.proveActive(ctx, wire.ListDevicesSessionID); err != nil {
		return nil, err
	}
	data, err := s.conn.RecvData(ctx, "devices")
	if err != nil {
		return nil, err
	}
	list, err := wire.ParseDeviceList(data.Body)
	if err != nil {
		return nil, s.fail(ctx, wire.CodeBadFrame, err)
	}
	out := make([]DeviceInfo, 0, len(list))
	for _, x := range list {
		info := DeviceInfo{
			ID:        hex.EncodeToString(x.ID),
			CreatedAt: time.Unix(int64(x.CreatedAt), 0).UTC(),
			Current:   bytes.Equal(x.ID, s.device),
		}
		if x.LastUsedAt != 0 {
			info.LastUsedAt = time.Unix(int64(x.LastUsedAt), 0).UTC()
		}
		out = append(out, info)
	}
	d.progress(Progress{Phase: "done"})
	return out, nil
}

// RemoveDevice deletes a device of the wallet, named by its hex id (empty
// for the device of a wallet from before devices), at the server: its
// shares and presignatures go, and it can no longer sign. This device
// proves it holds its own signing share first. A device may remove itself:
// once the server confirmed, its local shares are deleted too.
func (d *Device) RemoveDevice(ctx context.Context, id string) error {
	target, err := hex.DecodeString(id)
	if err != nil || (len(target) != 0 && len(target) != wire.DeviceIDSize) {
		return codeErr(wire.CodeInvalidArgument, "bridge: a device id is %d bytes in hex", wire.DeviceIDSize)
	}
	s, err := d.open(ctx, wire.OpRemoveDevice, wire.Hello{})
	if err != nil {
		return err
	}
	defer s.close()
	if _, err := s.proveActive(ctx, wire.RemoveDeviceSessionID); err != nil {
		return err
	}
	if err := s.conn.Send(ctx, (&wire.Data{Kind: "device", Body: target}).Frame()); err != nil {
		return err
	}
	if err := s.recvDone(ctx); err != nil {
		return err
	}
	if bytes.Equal(target, s.device) {
		if err := d.forget(ctx); err != nil {
			return err
		}
	}
	d.progress(Progress{Phase: "done"})
	return nil
}

// forget deletes what the device holds of the wallet: its shares, its
// presignatures and its id. Spare primes stay: they belong to no wallet.
func (d *Device) forget(ctx context.Context) error {
	if active, _, err := d.loadShares(ctx); err == nil && active != nil {
		dropNonces(active, nil)
		active.Wipe()
	}
	var errs []error
	errs = append(errs, d.dropPool(ctx))
	for _, name := range []string{keyPending, keyActive, keyStale, keyWallet, keyDevice} {
		errs = append(errs, d.Store.Delete(ctx, name))
	}
	return errors.Join(errs...)
}
