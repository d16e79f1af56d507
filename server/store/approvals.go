package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/duetwallet/duet/server/internal/sqldb"
	"github.com/duetwallet/duet/server/seal"
)

// purposeApprovalDelta seals the δ of a device approval.
const purposeApprovalDelta = "duet/approval-delta"

// approvalGrace is how long after its expiry a request that no session
// deleted (its replica died) stays before PutApproval purges it: longer than
// any session that may still use it.
const approvalGrace = 30 * time.Minute

func approvalBinding(walletID, id string) seal.Binding {
	return seal.Binding{Purpose: purposeApprovalDelta, WalletID: walletID, Item: id}
}

func (s *SQLStore) PutApproval(ctx context.Context, a Approval) error {
	if a.ID == "" || a.WalletID == "" || !validDeviceID(a.Device) || a.Device == "" || len(a.SID) == 0 || len(a.Request) == 0 || !a.CreatedAt.Before(a.ExpiresAt) {
		return errors.New("store: an approval request needs an id, a wallet, a device id, its session's nonces, a message and an expiry after its creation")
	}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`DELETE FROM device_approvals WHERE expires_at < $1`, a.CreatedAt.Add(-approvalGrace).UnixMilli()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`DELETE FROM device_approvals WHERE wallet_id = $1 AND state = 'pending'`, a.WalletID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO device_approvals (id, wallet_id, device_id, sid, request, created_at, expires_at, state)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')`,
			a.ID, a.WalletID, a.Device, a.SID, a.Request, a.CreatedAt.UnixMilli(), a.ExpiresAt.UnixMilli())
		return err
	})
	if sqldb.IsForeignKeyViolation(err) {
		return fmt.Errorf("store: wallet %s: %w", a.WalletID, ErrNotFound)
	}
	if err != nil {
		return wrap("put approval", err)
	}
	return nil
}

const approvalColumns = `id, wallet_id, device_id, sid, request, created_at, expires_at, state,
	approver_device, approver_generation, delta, response, ciphertext`

func (s *SQLStore) scanApproval(row *sql.Row) (Approval, error) {
	var a Approval
	var created, expires, gen int64
	var state string
	var delta []byte
	err := row.Scan(&a.ID, &a.WalletID, &a.Device, &a.SID, &a.Request, &created, &expires, &state,
		&a.ApproverDevice, &gen, &delta, &a.Response, &a.Ciphertext)
	if errors.Is(err, sql.ErrNoRows) {
		return Approval{}, fmt.Errorf("store: approval: %w", ErrNotFound)
	}
	if err != nil {
		return Approval{}, fmt.Errorf("store: read approval: %w", err)
	}
	a.CreatedAt, a.ExpiresAt, a.State, a.ApproverGeneration = fromStamp(created), fromStamp(expires), ApprovalState(state), uint64(gen)
	if len(delta) != 0 {
		a.Delta, err = s.sealer.Open(approvalBinding(a.WalletID, a.ID), delta)
		if err != nil {
			return Approval{}, fmt.Errorf("store: open the δ of approval %s: %w", a.ID, err)
		}
	}
	return a, nil
}

func (s *SQLStore) PendingApproval(ctx context.Context, walletID string, now time.Time) (Approval, error) {
	return s.scanApproval(s.db.QueryRowContext(ctx,
		`SELECT `+approvalColumns+` FROM device_approvals
		 WHERE wallet_id = $1 AND state = 'pending' AND expires_at > $2
		 ORDER BY created_at DESC, id DESC LIMIT 1`, walletID, now.UnixMilli()))
}

func (s *SQLStore) GetApproval(ctx context.Context, id string) (Approval, error) {
	return s.scanApproval(s.db.QueryRowContext(ctx,
		`SELECT `+approvalColumns+` FROM device_approvals WHERE id = $1`, id))
}

func (s *SQLStore) Approve(ctx context.Context, id string, now time.Time, answer Approval) error {
	g, err := generation(answer.ApproverGeneration)
	if err != nil {
		return err
	}
	if len(answer.Delta) == 0 || len(answer.Response) == 0 || len(answer.Ciphertext) == 0 || !validDeviceID(answer.ApproverDevice) {
		return errors.New("store: an approval needs δ, a message, a sealed share and the approving device")
	}
	var walletID string
	err = s.db.QueryRowContext(ctx, `SELECT wallet_id FROM device_approvals WHERE id = $1`, id).Scan(&walletID)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: approval %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: read approval: %w", err)
	}
	sealed, err := s.sealer.Seal(s.rand, approvalBinding(walletID, id), answer.Delta)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	res, err := s.db.ExecContext(ctx,
		`UPDATE device_approvals SET state = 'approved', approver_device = $3, approver_generation = $4,
		   delta = $5, response = $6, ciphertext = $7
		 WHERE id = $1 AND state = 'pending' AND expires_at > $2`,
		id, now.UnixMilli(), answer.ApproverDevice, g, sealed, answer.Response, answer.Ciphertext)
	if err != nil {
		return fmt.Errorf("store: approve: %w", err)
	}
	return s.approvalMoved(ctx, id, res)
}

// approvalMoved turns a conditional update that changed no row into
// ErrNotFound (the request is gone) or ErrApprovalState.
func (s *SQLStore) approvalMoved(ctx context.Context, id string, res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: approval: %w", err)
	}
	if n == 1 {
		return nil
	}
	var one int
	err = s.db.QueryRowContext(ctx, `SELECT 1 FROM device_approvals WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: approval %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: read approval: %w", err)
	}
	return fmt.Errorf("store: approval %s: %w", id, ErrApprovalState)
}

func (s *SQLStore) SetApprovalState(ctx context.Context, id string, from, to ApprovalState) error {
	q := `UPDATE device_approvals SET state = $3 WHERE id = $1 AND state = $2`
	if to == ApprovalOpened || to == ApprovalFailed {
		// Settled: δ and the sealed share are of no more use.
		q = `UPDATE device_approvals SET state = $3, delta = NULL, ciphertext = NULL WHERE id = $1 AND state = $2`
	}
	res, err := s.db.ExecContext(ctx, q, id, string(from), string(to))
	if err != nil {
		return fmt.Errorf("store: set approval state: %w", err)
	}
	return s.approvalMoved(ctx, id, res)
}

func (s *SQLStore) DeleteApproval(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM device_approvals WHERE id = $1`, id); err != nil {
		return fmt.Errorf("store: delete approval: %w", err)
	}
	return nil
}
