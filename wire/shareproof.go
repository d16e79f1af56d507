package wire

import "github.com/duetwallet/duet/mpc"

// Session id labels of the share proofs a device makes outside a protocol
// run. The method is part of the label, so a proof for one method's removal
// or drill proves nothing about another's.
const (
	labelRemoveBackup = "remove-backup/"
	labelVerifyBackup = "verify-backup/"
)

// RemoveBackupSessionID is the session id the device's proof of its signing
// share is bound to in a remove-backup session: the operation, the method,
// the wallet, its active generation and both sides' fresh nonces, so that a
// proof from one session is worth nothing in another.
func RemoveBackupSessionID(method, walletID string, gen uint64, deviceNonce, serverNonce []byte) []byte {
	return mpc.NewSessionID(labelRemoveBackup+method, walletID, gen, mpc.Device, deviceNonce, mpc.Server, serverNonce)
}

// VerifyBackupSessionID is the session id of the device's proof of its
// backup share in a backup drill, bound as RemoveBackupSessionID's is.
func VerifyBackupSessionID(method, walletID string, gen uint64, deviceNonce, serverNonce []byte) []byte {
	return mpc.NewSessionID(labelVerifyBackup+method, walletID, gen, mpc.Device, deviceNonce, mpc.Server, serverNonce)
}
