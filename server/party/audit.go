package party

import (
	"context"
	"time"

	"github.com/duetwallet/duet/server/metrics"
	"github.com/duetwallet/duet/server/store"
	"github.com/duetwallet/duet/server/webhook"
	"github.com/duetwallet/duet/wire"
)

// auditActions names what each operation does in the audit log.
var auditActions = map[string]string{
	wire.OpKeygen:  store.AuditWalletCreated,
	wire.OpSign:    store.AuditSignature,
	wire.OpBackup:  store.AuditBackup,
	wire.OpRecover: store.AuditRecovery,
	wire.OpRefresh: store.AuditRefresh,
	wire.OpEject:   store.AuditEject,

	wire.OpAddDevice:    store.AuditDeviceAdded,
	wire.OpRemoveDevice: store.AuditDeviceRemoved,
	// The approving device's session; the new device's is its add-device.
	wire.OpApproveDevice: store.AuditDeviceApproved,
}

// audit appends the session's record to its organization's audit log:
// client, wallet, the generation of the session's device after the session
// (of the new pair after a share change), and the outcome (as in
// duet_sessions_total). A session that did not get as far as an
// authenticated client leaves none.
func (h *Handler) audit(ctx context.Context, s *session, err error) {
	action := auditActions[s.op]
	if s.client.ID == "" || action == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	r := store.AuditRecord{
		OrganizationID: s.client.OrganizationID, ClientID: s.client.ID,
		WalletID: s.walletID, Generation: s.gen,
		Action: action, Outcome: metrics.Outcome(err),
	}
	if aerr := h.Store.AppendAudit(ctx, r); aerr != nil {
		h.log().Error("writing the audit record failed", "action", action, "client", s.client.ID, "error", aerr)
	}
	if event := alertEvents[s.op]; event != "" && err == nil {
		webhook.Enqueue(ctx, h.Store, h.log(), webhook.Event{
			Event: event, OrganizationID: r.OrganizationID, ClientID: r.ClientID,
			WalletID: r.WalletID, Generation: r.Generation, Device: s.target,
		})
	}
}

// alertEvents are the webhook events of the operations that raise one when
// they succeed.
var alertEvents = map[string]string{
	wire.OpKeygen:  webhook.EventWalletCreated,
	wire.OpBackup:  webhook.EventWalletBackedUp,
	wire.OpRecover: webhook.EventWalletRecovered,
	wire.OpEject:   webhook.EventWalletEjected,

	wire.OpAddDevice:    webhook.EventDeviceAdded,
	wire.OpRemoveDevice: webhook.EventDeviceRemoved,
}

// alertLockout raises the webhook event of a client locked out after
// repeated protocol aborts.
func (h *Handler) alertLockout(ctx context.Context, clientID string, until time.Time) {
	c, err := h.Store.Client(ctx, clientID)
	if err != nil {
		h.log().Error("loading a locked-out client failed", "client", clientID, "error", err)
		return
	}
	until = until.UTC()
	webhook.Enqueue(ctx, h.Store, h.log(), webhook.Event{
		Event: webhook.EventClientLockedOut, OrganizationID: c.OrganizationID, ClientID: clientID, Until: &until,
	})
}
