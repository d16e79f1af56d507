package api

import (
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/duetwallet/duet/server/apikey"
	"github.com/duetwallet/duet/server/custodian"
	"github.com/duetwallet/duet/server/internal/httpjson"
	"github.com/duetwallet/duet/server/store"
	"github.com/duetwallet/duet/server/webhook"
)

func (s *Server) routes() {
	// The device, with its client API key. These routes only read: a
	// backup is written inside the backup session (/v1/session), never
	// over HTTP.
	s.handleClient("GET /v1/wallet", s.clientWallet)
	s.handleClient("GET /v1/wallets/{wallet}", s.wallet)
	s.handleClient("GET /v1/wallets/{wallet}/backup", s.backupStatus)
	s.handleClient("GET /v1/wallets/{wallet}/backups/{method}", s.backup)
	s.handleClient("GET /v1/wallets/{wallet}/eject/shares/{gen}", s.ejectShare)

	// The organization's backend, with its org API key.
	s.handleOrg("POST /v1/clients", s.createClient)
	s.handleOrg("POST /v1/clients/{client}/eject", s.authorizeEject)
	s.handleOrg("GET /v1/audit", s.auditLog)
	s.handleOrg("POST /v1/webhooks", s.setWebhook)
	s.handleOrg("POST /v1/clients/{client}/session-tokens", s.mintSessionToken)
	s.handleOrg("GET /v1/wallets/{wallet}/devices", s.walletDevices)

	// The operator's probes.
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, status{"ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)

	if s.dev != nil {
		s.mux.HandleFunc("GET /dev/client-key", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, s.dev)
		})
		s.handleClient("POST /dev/eject", s.devEject)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) { httpjson.Write(w, status, v) }

type status struct {
	Status string `json:"status"`
}

// readyz answers 200 when the server can serve sessions, 503 with the reason
// when it cannot.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.ready != nil {
		if err := s.ready(r.Context()); err != nil {
			writeError(w, errorf(http.StatusServiceUnavailable, httpjson.CodeUnavailable, "not ready: %v", err))
			return
		}
	}
	writeJSON(w, http.StatusOK, status{"ready"})
}

// WalletInfo is what the SDK learns about a wallet.
type WalletInfo struct {
	// Exists is false until the wallet's creation has committed.
	Exists            bool   `json:"exists"`
	WalletID          string `json:"walletId,omitempty"`
	Address           string `json:"address,omitempty"`
	PublicKey         string `json:"publicKey,omitempty"`
	Generation        uint64 `json:"generation,omitempty"`
	PendingGeneration uint64 `json:"pendingGeneration,omitempty"`
}

func walletInfo(w store.Wallet) WalletInfo {
	if w.ActiveGeneration == 0 {
		return WalletInfo{Exists: false}
	}
	return WalletInfo{
		Exists:            true,
		WalletID:          w.ID,
		Address:           w.Address,
		PublicKey:         hex.EncodeToString(w.PublicKey),
		Generation:        w.ActiveGeneration,
		PendingGeneration: w.PendingGeneration,
	}
}

// clientWallet answers whether the client has a wallet. "No" is a normal
// answer, not an error.
func (s *Server) clientWallet(w http.ResponseWriter, r *http.Request, c store.Client) error {
	wallet, err := s.store.WalletByClient(r.Context(), c.ID)
	if errors.Is(err, store.ErrNotFound) {
		writeJSON(w, http.StatusOK, WalletInfo{Exists: false})
		return nil
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, walletInfo(wallet))
	return nil
}

// ownWallet returns the wallet named in the path if it belongs to client c:
// 404 if there is no such committed wallet, 403 if it is another client's.
func (s *Server) ownWallet(r *http.Request, c store.Client) (store.Wallet, error) {
	id := r.PathValue("wallet")
	if !custodian.ValidWalletID(id) {
		return store.Wallet{}, errorf(http.StatusBadRequest, codeBadRequest, "invalid wallet id")
	}
	wallet, err := s.store.Wallet(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || err == nil && wallet.ActiveGeneration == 0 && wallet.ClientID == c.ID {
		return store.Wallet{}, errorf(http.StatusNotFound, CodeNoWallet, "no wallet %s", id)
	}
	if err != nil {
		return store.Wallet{}, err
	}
	if wallet.ClientID != c.ID {
		return store.Wallet{}, errorf(http.StatusForbidden, codeForbidden, "wallet %s belongs to another client", id)
	}
	return wallet, nil
}

func (s *Server) wallet(w http.ResponseWriter, r *http.Request, c store.Client) error {
	wallet, err := s.ownWallet(r, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, walletInfo(wallet))
	return nil
}

// BackupStatus is whether a wallet is backed up and how it can be recovered.
type BackupStatus struct {
	WalletID string `json:"walletId"`
	// BackedUp is true when at least one method is complete.
	BackedUp bool `json:"backedUp"`
	// RecoveryMethods lists the methods for which the custodian holds both
	// confirmed halves of one backup pair.
	RecoveryMethods []string           `json:"recoveryMethods"`
	Backups         []custodian.Backup `json:"backups"`
	EjectAuthorized bool               `json:"ejectAuthorized"`
}

func (s *Server) backupStatus(w http.ResponseWriter, r *http.Request, c store.Client) error {
	wallet, err := s.ownWallet(r, c)
	if err != nil {
		return err
	}
	cc, err := s.custodians.For(r.Context(), c.OrganizationID)
	if err != nil {
		return err
	}
	st, err := cc.Status(r.Context(), wallet.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, BackupStatus{
		WalletID:        wallet.ID,
		BackedUp:        len(st.BackedUp) > 0,
		RecoveryMethods: st.BackedUp,
		Backups:         st.Backups,
		EjectAuthorized: st.EjectAuthorized,
	})
	return nil
}

func pathGeneration(r *http.Request) (uint64, error) {
	gen, err := strconv.ParseUint(r.PathValue("gen"), 10, 62)
	if err != nil || gen == 0 {
		return 0, errorf(http.StatusBadRequest, codeBadRequest, "invalid generation %q", r.PathValue("gen"))
	}
	return gen, nil
}

func pathMethod(r *http.Request) (string, error) {
	m := r.PathValue("method")
	if !custodian.ValidMethod(m) {
		return "", errorf(http.StatusBadRequest, codeBadRequest, "unknown backup method %q, want password, passkey or custom", m)
	}
	return m, nil
}

// backupRequest parses the wallet and method of a backup route and finds
// the organization's custodian.
func (s *Server) backupRequest(r *http.Request, c store.Client) (wallet store.Wallet, method string, cc *custodian.Client, err error) {
	if wallet, err = s.ownWallet(r, c); err != nil {
		return
	}
	if method, err = pathMethod(r); err != nil {
		return
	}
	cc, err = s.custodians.For(r.Context(), c.OrganizationID)
	return
}

// backup returns the ciphertext of a method, for a recovery on a new device.
func (s *Server) backup(w http.ResponseWriter, r *http.Request, c store.Client) error {
	wallet, method, cc, err := s.backupRequest(r, c)
	if err != nil {
		return err
	}
	b, err := cc.Backup(r.Context(), wallet.ID, method)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, b)
	return nil
}

// ejectShare hands b_C to the device for an eject the organization
// authorised; the custodian refuses otherwise.
func (s *Server) ejectShare(w http.ResponseWriter, r *http.Request, c store.Client) error {
	wallet, err := s.ownWallet(r, c)
	if err != nil {
		return err
	}
	gen, err := pathGeneration(r)
	if err != nil {
		return err
	}
	cc, err := s.custodians.For(r.Context(), c.OrganizationID)
	if err != nil {
		return err
	}
	share, err := cc.EjectShare(r.Context(), wallet.ID, gen)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Generation uint64 `json:"generation"`
		Share      []byte `json:"share"`
	}{gen, share})
	return nil
}

// createClient makes a client for the organization. The body may be empty.
func (s *Server) createClient(w http.ResponseWriter, r *http.Request, o store.Organization) error {
	var body struct{}
	if err := decode(w, r, maxSmallBody, true, &body); err != nil {
		return err
	}
	c, key, err := s.store.CreateClient(r.Context(), o.ID)
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "client created", "org", o.ID, "client", c.ID)
	writeJSON(w, http.StatusCreated, struct {
		ClientID     string `json:"clientId"`
		ClientAPIKey string `json:"clientApiKey"`
	}{c.ID, key})
	return nil
}

// Bounds of a client session token's lifetime.
const (
	DefaultSessionTokenTTL = 15 * time.Minute
	MinSessionTokenTTL     = time.Minute
	MaxSessionTokenTTL     = 24 * time.Hour
)

// SessionToken is a client session token as minted for an organization's
// backend.
type SessionToken struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// mintSessionToken makes a short-lived token that stands for the client's
// API key, for the organization's backend to hand to the user's browser.
// The body may give ttlSeconds within the bounds above.
func (s *Server) mintSessionToken(w http.ResponseWriter, r *http.Request, o store.Organization) error {
	id := r.PathValue("client")
	if !apikey.ValidID(id) {
		return errorf(http.StatusBadRequest, codeBadRequest, "invalid client id")
	}
	var body struct {
		TTLSeconds *int64 `json:"ttlSeconds"`
	}
	if err := decode(w, r, maxSmallBody, true, &body); err != nil {
		return err
	}
	ttl := DefaultSessionTokenTTL
	if body.TTLSeconds != nil {
		secs := *body.TTLSeconds
		if secs < int64(MinSessionTokenTTL/time.Second) || secs > int64(MaxSessionTokenTTL/time.Second) {
			return errorf(http.StatusBadRequest, codeBadRequest, "ttlSeconds must be between %d and %d", int64(MinSessionTokenTTL/time.Second), int64(MaxSessionTokenTTL/time.Second))
		}
		ttl = time.Duration(secs) * time.Second
	}
	c, err := s.store.Client(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, codeNotFound, "no client %s", id)
	}
	if err != nil {
		return err
	}
	if c.OrganizationID != o.ID {
		return errorf(http.StatusForbidden, codeForbidden, "client %s belongs to another organization", id)
	}
	expires := s.now().Add(ttl).Truncate(time.Second)
	token, err := s.store.MintSessionToken(r.Context(), c.ID, expires)
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "session token minted", "org", o.ID, "client", c.ID, "expires", expires)
	writeJSON(w, http.StatusCreated, SessionToken{Token: token, ExpiresAt: expires.UTC()})
	return nil
}

// authorizeEject records at the custodian that the organization lets the
// client eject its wallet's private key.
func (s *Server) authorizeEject(w http.ResponseWriter, r *http.Request, o store.Organization) error {
	id := r.PathValue("client")
	if !apikey.ValidID(id) {
		return errorf(http.StatusBadRequest, codeBadRequest, "invalid client id")
	}
	return s.ejectFor(w, r, o, id)
}

// devEject is the demo organization authorising the demo client's eject, as
// its backend would: the demo page asks with the demo client's key and
// never sees the organization's.
func (s *Server) devEject(w http.ResponseWriter, r *http.Request, c store.Client) error {
	demo, err := s.store.AuthenticateClient(r.Context(), s.dev.ClientAPIKey)
	if err != nil {
		return err
	}
	if c.ID != demo.ID {
		return errorf(http.StatusForbidden, codeForbidden, "only the demo client's eject is authorised here; an organization authorises its clients' from its backend")
	}
	o, err := s.store.AuthenticateOrganization(r.Context(), s.dev.OrgAPIKey)
	if err != nil {
		return err
	}
	return s.ejectFor(w, r, o, c.ID)
}

func (s *Server) ejectFor(w http.ResponseWriter, r *http.Request, o store.Organization, id string) error {
	c, err := s.store.Client(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, codeNotFound, "no client %s", id)
	}
	if err != nil {
		return err
	}
	if c.OrganizationID != o.ID {
		return errorf(http.StatusForbidden, codeForbidden, "client %s belongs to another organization", id)
	}
	wallet, err := s.store.WalletByClient(r.Context(), c.ID)
	if errors.Is(err, store.ErrNotFound) || err == nil && wallet.ActiveGeneration == 0 {
		return errorf(http.StatusNotFound, CodeNoWallet, "client %s has no wallet", id)
	}
	if err != nil {
		return err
	}
	cc, err := s.custodians.For(r.Context(), o.ID)
	if err != nil {
		return err
	}
	if err := cc.AuthorizeEject(r.Context(), wallet.ID); err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "eject authorized", "org", o.ID, "client", c.ID, "wallet", wallet.ID)
	s.audit(r, store.AuditRecord{OrganizationID: o.ID, ClientID: c.ID, WalletID: wallet.ID,
		Generation: wallet.ActiveGeneration, Action: store.AuditEjectAuthorized, Outcome: "ok"})
	webhook.Enqueue(r.Context(), s.store, s.log, webhook.Event{Event: webhook.EventEjectAuthorized,
		OrganizationID: o.ID, ClientID: c.ID, WalletID: wallet.ID, Generation: wallet.ActiveGeneration})
	writeJSON(w, http.StatusOK, struct {
		ClientID        string `json:"clientId"`
		WalletID        string `json:"walletId"`
		EjectAuthorized bool   `json:"ejectAuthorized"`
	}{c.ID, wallet.ID, true})
	return nil
}
