package wire

import (
	"fmt"

	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/mpc/codec"
)

// MaxDevices bounds a DeviceList; the server's own cap per wallet is lower.
const MaxDevices = 64

// DeviceEntry is one device of a wallet as the server lists it.
type DeviceEntry struct {
	ID []byte // DeviceIDSize bytes, or empty for a wallet's device from before devices
	// CreatedAt is when the device's first pair was activated, in Unix
	// seconds; LastUsedAt when it last signed, or 0 for never.
	CreatedAt  uint64
	LastUsedAt uint64
}

// DeviceList is the body of the server's "devices" Data in a list-devices
// session.
type DeviceList []DeviceEntry

func (l DeviceList) Marshal() []byte {
	e := codec.NewEncoder(4 + len(l)*40).Uint32(uint32(len(l)))
	for _, x := range l {
		e.VarBytes(x.ID).Uint64(x.CreatedAt).Uint64(x.LastUsedAt)
	}
	return e.Bytes()
}

// ParseDeviceList decodes a DeviceList strictly: every id is empty or
// DeviceIDSize bytes, and no id appears twice.
func ParseDeviceList(body []byte) (DeviceList, error) {
	d := codec.NewDecoder(body)
	n := d.Count(MaxDevices)
	l := make(DeviceList, 0, n)
	seen := make(map[string]bool, n)
	for range n {
		x := DeviceEntry{ID: d.VarBytes(DeviceIDSize), CreatedAt: d.Uint64(), LastUsedAt: d.Uint64()}
		if d.Err() != nil {
			break
		}
		if len(x.ID) != 0 && len(x.ID) != DeviceIDSize {
			return nil, fmt.Errorf("%w: devices: a device id has %d bytes", ErrFrame, DeviceIDSize)
		}
		if seen[string(x.ID)] {
			return nil, fmt.Errorf("%w: devices: device %x listed twice", ErrFrame, x.ID)
		}
		seen[string(x.ID)] = true
		l = append(l, x)
	}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("%w: devices: %v", ErrFrame, err)
	}
	return l, nil
}

// ParseDeviceID decodes the body of a device's "device" Data in a
// remove-device session: the id of the device to remove.
func ParseDeviceID(body []byte) ([]byte, error) {
	if len(body) != 0 && len(body) != DeviceIDSize {
		return nil, fmt.Errorf("%w: device: a device id has %d bytes", ErrFrame, DeviceIDSize)
	}
	return body, nil
}

// Session id labels of the share proofs of the device operations.
const (
	labelListDevices  = "list-devices"
	labelRemoveDevice = "remove-device"
)

// ListDevicesSessionID is the session id the device's proof of its signing
// share is bound to in a list-devices session, bound as
// RemoveBackupSessionID's is.
func ListDevicesSessionID(walletID string, gen uint64, deviceNonce, serverNonce []byte) []byte {
	return mpc.NewSessionID(labelListDevices, walletID, gen, mpc.Device, deviceNonce, mpc.Server, serverNonce)
}

// RemoveDeviceSessionID is the session id of the calling device's proof of
// its signing share in a remove-device session.
func RemoveDeviceSessionID(walletID string, gen uint64, deviceNonce, serverNonce []byte) []byte {
	return mpc.NewSessionID(labelRemoveDevice, walletID, gen, mpc.Device, deviceNonce, mpc.Server, serverNonce)
}
