package api

import (
	"net/http"
	"strconv"

	"github.com/duetwallet/duet/server/store"
)

// Audit log pages: at most maxAuditPage records, defaultAuditPage unless
// the caller asks for fewer or more.
const (
	defaultAuditPage = 100
	maxAuditPage     = 1000
)

// auditLog serves GET /v1/audit?after=ID&limit=N: the organization's own
// audit records after ID, oldest first. next, when present, is the after
// of the following page.
func (s *Server) auditLog(w http.ResponseWriter, r *http.Request, o store.Organization) error {
	q := r.URL.Query()
	limit := defaultAuditPage
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxAuditPage {
			return errorf(http.StatusBadRequest, codeBadRequest, "limit must be 1 to %d", maxAuditPage)
		}
		limit = n
	}
	after := q.Get("after")
	if len(after) > 64 {
		return errorf(http.StatusBadRequest, codeBadRequest, "after is not a record id")
	}
	records, err := s.store.AuditLog(r.Context(), o.ID, after, limit)
	if err != nil {
		return err
	}
	out := struct {
		Records []store.AuditRecord `json:"records"`
		Next    string              `json:"next,omitempty"`
	}{Records: records}
	if out.Records == nil {
		out.Records = []store.AuditRecord{}
	}
	if len(records) == limit {
		out.Next = records[len(records)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// audit appends a record of an API action; a failure is logged, and does
// not undo the action.
func (s *Server) audit(r *http.Request, rec store.AuditRecord) {
	if err := s.store.AppendAudit(r.Context(), rec); err != nil {
		s.log.ErrorContext(r.Context(), "writing the audit record failed", "action", rec.Action, "client", rec.ClientID, "err", err)
	}
}
