package party

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"

	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/mpc/curve"
	"github.com/duetwallet/duet/server/custodian"
	"github.com/duetwallet/duet/wire"
)

// recvShareProof reads the device's share proof.
func (s *session) recvShareProof(ctx context.Context) (*mpc.ShareProof, error) {
	d, err := s.conn.RecvData(ctx, "proof")
	if err != nil {
		return nil, err
	}
	p := new(mpc.ShareProof)
	if err := p.UnmarshalBinary(d.Body); err != nil {
		return nil, blame(wire.CodeBadFrame, "malformed share proof")
	}
	return p, nil
}

// removeBackup deletes one method's backup pair at the custodian. No client
// API key alone can do this: the device must prove, on a session id with our
// fresh nonce, that it knows the secret of the wallet's active device share
// X_D, which only the device that signs for the wallet holds. It counts as a
// share change for the rate limits.
func (s *session) removeBackup(ctx context.Context) error {
	if !validMethod(s.hello.Method) {
		return fail(wire.CodeInvalidArgument, "unknown backup method %q", s.hello.Method)
	}
	share, err := s.heldShare(ctx)
	if share == nil {
		return err
	}
	defer share.Wipe()
	proof, err := s.recvShareProof(ctx)
	if err != nil {
		return err
	}
	sid := wire.RemoveBackupSessionID(s.hello.Method, s.walletID, share.Generation, s.hello.Nonce, s.nonce)
	if err := mpc.VerifyShareProof(sid, mpc.Device, mpc.Server, share.PeerPublic, proof); err != nil {
		return blame(wire.CodeProtocolAbort, "the device did not prove it holds the wallet's signing share")
	}
	cust, err := s.custodian(ctx)
	if err != nil {
		return err
	}
	if err := cust.RemoveMethod(ctx, s.walletID, s.hello.Method); err != nil {
		return fail(wire.CodeServerError, "the custodian store did not remove the %s backup", s.hello.Method)
	}
	return s.conn.Send(ctx, (&wire.Done{}).Frame())
}

// verifyBackup is the backup drill of one method. The server checks the
// custodian's half b_C: it is of the method's confirmed pair (its digest),
// b_C·G = B_C, and B_C + B_D = X, the wallet's public key. The device opens
// its half b_D and proves knowledge of it for the B_D recorded in the pair.
// x is rebuilt nowhere. A pass is recorded at the custodian with its time;
// any failed check is BACKUP_BROKEN. The drill changes no share, so it does
// not count against the wallet's share changes.
func (s *session) verifyBackup(ctx context.Context) error {
	cust, b, err := s.loadBackup(ctx)
	if err != nil {
		return err
	}
	w, err := s.h.Store.WalletByClient(ctx, s.client.ID)
	if err != nil {
		return fail(wire.CodeServerError, "loading the wallet failed")
	}
	shareBytes, err := cust.Share(ctx, s.walletID, b.Generation)
	var re *custodian.ResponseError
	switch {
	case errors.As(err, &re):
		// The custodian answered, and has no readable share of the pair.
		return fail(wire.CodeBackupBroken, "the custodian cannot produce its share of the %s backup", s.hello.Method)
	case err != nil:
		return fail(wire.CodeServerError, "custodian store unavailable")
	}
	pairB := new(mpc.KeyShare)
	err = pairB.UnmarshalBinary(shareBytes)
	clear(shareBytes)
	if err != nil {
		return fail(wire.CodeBackupBroken, "the custodian's share of the %s backup is corrupt", s.hello.Method)
	}
	defer pairB.Wipe()
	if err := checkCustodianHalf(pairB, b.PairDigest, w.PublicKey); err != nil {
		return fail(wire.CodeBackupBroken, "the %s backup is broken: %v", s.hello.Method, err)
	}
	if err := s.loadWallet(ctx, false); err != nil {
		return err
	}
	if err := s.conn.Send(ctx, (&wire.Data{Kind: "backup", Body: b.Ciphertext}).Frame()); err != nil {
		return err
	}
	proof, err := s.recvShareProof(ctx)
	if err != nil {
		return err
	}
	sid := wire.VerifyBackupSessionID(s.hello.Method, s.walletID, s.wallet.ActiveGeneration, s.hello.Nonce, s.nonce)
	if err := mpc.VerifyShareProof(sid, mpc.Device, mpc.Server, pairB.PeerPublic, proof); err != nil {
		return blame(wire.CodeBackupBroken, "the device's backup share is not the %s backup pair's", s.hello.Method)
	}
	if err := cust.RecordVerified(ctx, s.walletID, s.hello.Method, b.Generation); err != nil {
		if errors.Is(err, custodian.ErrNotFound) {
			return fail(wire.CodeBusy, "the %s backup changed during the drill", s.hello.Method)
		}
		return fail(wire.CodeServerError, "the custodian store did not record the drill")
	}
	return s.conn.Send(ctx, (&wire.Done{}).Frame())
}

var (
	errPairDigest  = errors.New("the custodian's share is not of the backup's pair")
	errOwnPublic   = errors.New("the custodian's secret does not give its public share")
	errPublicKey   = errors.New("the pair's public shares do not add up to the wallet's public key")
	errMissingPart = errors.New("the custodian's share is incomplete")
)

// checkCustodianHalf checks b_C against the pair and the wallet's key.
func checkCustodianHalf(pairB *mpc.KeyShare, pairDigest, walletPublicKey []byte) error {
	if pairB.Secret == nil || pairB.SelfPublic == nil || pairB.PeerPublic == nil || pairB.PublicKey == nil {
		return errMissingPart
	}
	if subtle.ConstantTimeCompare(pairB.PublicDigest(), pairDigest) != 1 {
		return errPairDigest
	}
	if !curve.BaseMul(pairB.Secret).Equal(pairB.SelfPublic) {
		return errOwnPublic
	}
	if !pairB.SelfPublic.Add(pairB.PeerPublic).Equal(pairB.PublicKey) || !bytes.Equal(pairB.PublicKey.Bytes(), walletPublicKey) {
		return errPublicKey
	}
	return nil
}
