package api

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"

	"github.com/duetwallet/duet/server/store"
	"github.com/duetwallet/duet/server/webhook"
)

// setWebhook serves POST /v1/webhooks {"url": "https://..."}: it registers
// (or replaces) the organization's webhook and answers with the secret
// that signs its deliveries, shown this once.
func (s *Server) setWebhook(w http.ResponseWriter, r *http.Request, o store.Organization) error {
	var req struct {
		URL string `json:"url"`
	}
	if err := decode(w, r, 4<<10, false, &req); err != nil {
		return err
	}
	if err := webhook.CheckURL(req.URL, s.loopbackWebhooks); err != nil {
		return errorf(http.StatusBadRequest, codeBadRequest, "%v", err)
	}
	// The key of the HMAC is the secret's text as given to the caller.
	raw := make([]byte, 32)
	if _, err := io.ReadFull(rand.Reader, raw); err != nil {
		return err
	}
	secret := hex.EncodeToString(raw)
	clear(raw)
	if err := s.store.SetWebhook(r.Context(), store.Webhook{OrganizationID: o.ID, URL: req.URL, Secret: []byte(secret)}); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, struct {
		URL    string `json:"url"`
		Secret string `json:"secret"`
	}{req.URL, secret})
	return nil
}
