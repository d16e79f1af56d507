package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/duetwallet/duet/server/custodian"
	"github.com/duetwallet/duet/server/store"
)

// Device is one device of a wallet, as the organization's backend sees it.
type Device struct {
	// ID is the device's id in hex; empty for the one device of a wallet
	// made before devices existed.
	ID         string     `json:"id"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
	// Generation is the generation of the device's active pair.
	Generation uint64 `json:"generation"`
}

// walletDevices lists the devices of one of the organization's wallets. A
// wallet of another organization is answered as no wallet, like one that
// does not exist.
func (s *Server) walletDevices(w http.ResponseWriter, r *http.Request, o store.Organization) error {
	id := r.PathValue("wallet")
	if !custodian.ValidWalletID(id) {
		return errorf(http.StatusBadRequest, codeBadRequest, "invalid wallet id")
	}
	wallet, err := s.store.Wallet(r.Context(), id)
	var c store.Client
	if err == nil {
		c, err = s.store.Client(r.Context(), wallet.ClientID)
	}
	if errors.Is(err, store.ErrNotFound) || err == nil && (wallet.ActiveGeneration == 0 || c.OrganizationID != o.ID) {
		return errorf(http.StatusNotFound, CodeNoWallet, "no wallet %s", id)
	}
	if err != nil {
		return err
	}
	ds, err := s.store.Devices(r.Context(), wallet.ID)
	if err != nil {
		return err
	}
	out := struct {
		WalletID string   `json:"walletId"`
		Devices  []Device `json:"devices"`
	}{WalletID: wallet.ID, Devices: make([]Device, 0, len(ds))}
	for _, d := range ds {
		x := Device{ID: d.ID, CreatedAt: d.CreatedAt, Generation: d.Generation}
		if !d.LastUsedAt.IsZero() {
			used := d.LastUsedAt
			x.LastUsedAt = &used
		}
		out.Devices = append(out.Devices, x)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
