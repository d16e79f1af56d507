package custodian

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/duetwallet/duet/server/internal/httpjson"
)

// Error codes of the custodian API beyond the shared ones.
const (
	CodeConfirmed          = "confirmed"
	CodeDigestMismatch     = "digest_mismatch"
	CodeEjectNotAuthorized = "eject_not_authorized"
)

// PathPrefix is where the custodian API lives on the server.
const PathPrefix = "/custodian/v1/"

// maxBody caps request bodies: the largest item, in base64, plus room for
// the JSON around it.
const maxBody = (MaxShareSize+2)/3*4 + 4096

// A Handler serves the custodian API. Every route needs a custodian API key
// ("Authorization: Bearer duet_cus_...") and acts for the organization the
// key belongs to.
type Handler struct {
	Store *Store
	Log   *slog.Logger
	mux   *http.ServeMux
}

// NewHandler returns the custodian API over st.
func NewHandler(st *Store, log *slog.Logger) *Handler {
	h := &Handler{Store: st, Log: log, mux: http.NewServeMux()}
	routes := map[string]func(ctx context.Context, org string, w http.ResponseWriter, r *http.Request) error{
		"GET /custodian/v1/wallets/{wallet}":                                  h.status,
		"GET /custodian/v1/wallets/{wallet}/shares/{gen}":                     h.share,
		"POST /custodian/v1/wallets/{wallet}/backups/{method}":                h.startBackup,
		"POST /custodian/v1/wallets/{wallet}/backups/{method}/{gen}/complete": h.completeBackup,
		"GET /custodian/v1/wallets/{wallet}/backups/{method}":                 h.backup,
		"DELETE /custodian/v1/wallets/{wallet}/backups/{method}":              h.removeMethod,
		"POST /custodian/v1/wallets/{wallet}/backups/{method}/{gen}/verified": h.recordVerified,
		"POST /custodian/v1/wallets/{wallet}/eject":                           h.authorizeEject,
		"GET /custodian/v1/wallets/{wallet}/eject/shares/{gen}":               h.ejectShare,
	}
	for pattern, fn := range routes {
		h.mux.Handle(pattern, h.authenticated(fn))
	}
	h.mux.HandleFunc(PathPrefix, func(w http.ResponseWriter, r *http.Request) {
		httpjson.WriteError(w, httpjson.Errorf(http.StatusNotFound, httpjson.CodeNotFound, "no such route: %s %s", r.Method, r.URL.Path))
	})
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) authenticated(fn func(ctx context.Context, org string, w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			httpjson.WriteError(w, httpjson.Errorf(http.StatusUnauthorized, httpjson.CodeUnauthorized, "missing bearer custodian API key"))
			return
		}
		org, err := h.Store.Authenticate(r.Context(), key)
		if err == nil {
			err = fn(r.Context(), org, w, r)
		}
		if err != nil {
			h.writeError(w, r, err)
		}
	})
}

func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *httpjson.Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, ErrUnauthenticated):
		e = httpjson.Errorf(http.StatusUnauthorized, httpjson.CodeUnauthorized, "invalid custodian API key")
	case errors.Is(err, ErrNotFound):
		e = httpjson.Errorf(http.StatusNotFound, httpjson.CodeNotFound, "%v", err)
	case errors.Is(err, ErrInvalid):
		e = httpjson.Errorf(http.StatusBadRequest, httpjson.CodeBadRequest, "%v", err)
	case errors.Is(err, ErrConfirmed):
		e = httpjson.Errorf(http.StatusConflict, CodeConfirmed, "%v", err)
	case errors.Is(err, ErrDigestMismatch):
		e = httpjson.Errorf(http.StatusConflict, CodeDigestMismatch, "%v", err)
	case errors.Is(err, ErrEjectNotAuthorized):
		e = httpjson.Errorf(http.StatusForbidden, CodeEjectNotAuthorized, "%v", err)
	default:
		h.Log.ErrorContext(r.Context(), "custodian request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = httpjson.Errorf(http.StatusInternalServerError, httpjson.CodeInternal, "internal error")
	}
	httpjson.WriteError(w, e)
}

func pathWallet(r *http.Request) (string, error) {
	id := r.PathValue("wallet")
	if !ValidWalletID(id) {
		return "", httpjson.Errorf(http.StatusBadRequest, httpjson.CodeBadRequest, "invalid wallet id")
	}
	return id, nil
}

// ValidWalletID reports whether id can name a wallet: 1 to 64 characters
// from [A-Za-z0-9_-].
func ValidWalletID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func pathGeneration(r *http.Request) (uint64, error) {
	gen, err := strconv.ParseUint(r.PathValue("gen"), 10, 62)
	if err != nil || gen == 0 {
		return 0, httpjson.Errorf(http.StatusBadRequest, httpjson.CodeBadRequest, "invalid generation %q", r.PathValue("gen"))
	}
	return gen, nil
}

func pathMethod(r *http.Request) (string, error) {
	m := r.PathValue("method")
	if !ValidMethod(m) {
		return "", httpjson.Errorf(http.StatusBadRequest, httpjson.CodeBadRequest, "unknown backup method %q, want password, passkey, custom or app", m)
	}
	return m, nil
}

func pathWalletGeneration(r *http.Request) (string, uint64, error) {
	wallet, err := pathWallet(r)
	if err != nil {
		return "", 0, err
	}
	gen, err := pathGeneration(r)
	return wallet, gen, err
}

// decode reads a JSON body of at most maxBody bytes. It converts a nil
// *httpjson.Error to a nil error, which a bare return of it would not be.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if e := httpjson.Decode(w, r, maxBody, false, v); e != nil {
		return e
	}
	return nil
}

func pairDigest(hexDigest string) ([]byte, error) {
	b, err := hex.DecodeString(hexDigest)
	if err != nil || len(b) != PairDigestSize {
		return nil, httpjson.Errorf(http.StatusBadRequest, httpjson.CodeBadRequest, "pairDigest must be %d hex digits", 2*PairDigestSize)
	}
	return b, nil
}

func (h *Handler) status(ctx context.Context, org string, w http.ResponseWriter, r *http.Request) error {
	wallet, err := pathWallet(r)
	if err != nil {
		return err
	}
	st, err := h.Store.Status(ctx, org, wallet)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, st)
	return nil
}

type shareJSON struct {
	Generation uint64 `json:"generation,omitempty"`
	Share      []byte `json:"share"`
}

func (h *Handler) share(ctx context.Context, org string, w http.ResponseWriter, r *http.Request) error {
	wallet, gen, err := pathWalletGeneration(r)
	if err != nil {
		return err
	}
	share, err := h.Store.Share(ctx, org, wallet, gen)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, shareJSON{Generation: gen, Share: share})
	return nil
}

type startJSON struct {
	Share      []byte `json:"share"`
	PairDigest string `json:"pairDigest"`
}

type generationJSON struct {
	Generation uint64 `json:"generation"`
}

// startBackup stores b_C of a new backup pair and answers the generation the
// custodian gave it.
func (h *Handler) startBackup(ctx context.Context, org string, w http.ResponseWriter, r *http.Request) error {
	wallet, err := pathWallet(r)
	if err != nil {
		return err
	}
	method, err := pathMethod(r)
	if err != nil {
		return err
	}
	var body startJSON
	if err := decode(w, r, &body); err != nil {
		return err
	}
	digest, err := pairDigest(body.PairDigest)
	if err != nil {
		return err
	}
	gen, err := h.Store.StartBackup(ctx, org, wallet, method, body.Share, digest)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, generationJSON{gen})
	return nil
}

type completeJSON struct {
	Ciphertext []byte `json:"ciphertext"`
	PairDigest string `json:"pairDigest"`
}

// completeBackup adds the user's ciphertext to the pair that startBackup
// began and confirms the pair.
func (h *Handler) completeBackup(ctx context.Context, org string, w http.ResponseWriter, r *http.Request) error {
	wallet, gen, err := pathWalletGeneration(r)
	if err != nil {
		return err
	}
	method, err := pathMethod(r)
	if err != nil {
		return err
	}
	var body completeJSON
	if err := decode(w, r, &body); err != nil {
		return err
	}
	digest, err := pairDigest(body.PairDigest)
	if err != nil {
		return err
	}
	if err := h.Store.CompleteBackup(ctx, org, wallet, method, gen, body.Ciphertext, digest); err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, struct {
		Confirmed bool `json:"confirmed"`
	}{true})
	return nil
}

func (h *Handler) backup(ctx context.Context, org string, w http.ResponseWriter, r *http.Request) error {
	wallet, err := pathWallet(r)
	if err != nil {
		return err
	}
	method, err := pathMethod(r)
	if err != nil {
		return err
	}
	b, err := h.Store.Backup(ctx, org, wallet, method)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, b)
	return nil
}

// removeMethod deletes both halves of every backup of a method.
func (h *Handler) removeMethod(ctx context.Context, org string, w http.ResponseWriter, r *http.Request) error {
	wallet, err := pathWallet(r)
	if err != nil {
		return err
	}
	method, err := pathMethod(r)
	if err != nil {
		return err
	}
	if err := h.Store.RemoveMethod(ctx, org, wallet, method); err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, struct {
		Removed string `json:"removed"`
	}{method})
	return nil
}

// recordVerified records a passed backup drill of one pair.
func (h *Handler) recordVerified(ctx context.Context, org string, w http.ResponseWriter, r *http.Request) error {
	wallet, gen, err := pathWalletGeneration(r)
	if err != nil {
		return err
	}
	method, err := pathMethod(r)
	if err != nil {
		return err
	}
	if err := h.Store.RecordVerified(ctx, org, wallet, method, gen); err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, struct {
		Verified bool `json:"verified"`
	}{true})
	return nil
}

func (h *Handler) authorizeEject(ctx context.Context, org string, w http.ResponseWriter, r *http.Request) error {
	wallet, err := pathWallet(r)
	if err != nil {
		return err
	}
	if err := h.Store.AuthorizeEject(ctx, org, wallet); err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, struct {
		WalletID        string `json:"walletId"`
		EjectAuthorized bool   `json:"ejectAuthorized"`
	}{wallet, true})
	return nil
}

func (h *Handler) ejectShare(ctx context.Context, org string, w http.ResponseWriter, r *http.Request) error {
	wallet, gen, err := pathWalletGeneration(r)
	if err != nil {
		return err
	}
	share, err := h.Store.EjectShare(ctx, org, wallet, gen)
	if err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, shareJSON{Generation: gen, Share: share})
	return nil
}
