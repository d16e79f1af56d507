package custodian

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/duetwallet/duet/server/internal/httpjson"
)

// A Client is how the server party reaches an organization's custodian store:
// over HTTP, with the custodian API key the organization gave it. It is safe
// for concurrent use.
type Client struct {
	base string
	key  string
	http *http.Client
}

// NewClient returns a client of the custodian API at baseURL (the URL that
// PathPrefix is relative to, such as "http://127.0.0.1:8080") using key. A nil
// httpClient means http.DefaultClient.
func NewClient(baseURL, key string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{base: strings.TrimSuffix(baseURL, "/"), key: key, http: httpClient}
}

// A ResponseError is a failure the custodian reported. It unwraps to the
// package's sentinel error for its code, so errors.Is(err, ErrNotFound) works
// across the wire.
type ResponseError struct {
	Status  int
	Code    string
	Message string
}

func (e *ResponseError) Error() string {
	return fmt.Sprintf("custodian: %d %s: %s", e.Status, e.Code, e.Message)
}

func (e *ResponseError) Unwrap() error {
	switch e.Code {
	case httpjson.CodeNotFound:
		return ErrNotFound
	case httpjson.CodeUnauthorized:
		return ErrUnauthenticated
	case httpjson.CodeBadRequest, httpjson.CodeTooLarge:
		return ErrInvalid
	case CodeConfirmed:
		return ErrConfirmed
	case CodeDigestMismatch:
		return ErrDigestMismatch
	case CodeEjectNotAuthorized:
		return ErrEjectNotAuthorized
	}
	return nil
}

// maxResponse caps what the client reads from the custodian.
const maxResponse = maxBody

func (c *Client) do(ctx context.Context, method string, path []string, in, out any) error {
	for i, p := range path {
		path[i] = url.PathEscape(p)
	}
	u := c.base + PathPrefix + strings.Join(path, "/")
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("custodian: encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("custodian: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrUnavailable, method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return fmt.Errorf("%w: read response: %v", ErrUnavailable, err)
	}
	if len(data) > maxResponse {
		return fmt.Errorf("%w: response too large", ErrUnavailable)
	}
	if resp.StatusCode != http.StatusOK {
		var env struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(data, &env); err != nil || env.Error.Code == "" {
			return &ResponseError{Status: resp.StatusCode, Code: "http_" + strconv.Itoa(resp.StatusCode), Message: http.StatusText(resp.StatusCode)}
		}
		return &ResponseError{Status: resp.StatusCode, Code: env.Error.Code, Message: env.Error.Message}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%w: decode response: %v", ErrUnavailable, err)
		}
	}
	return nil
}

func gen(g uint64) string { return strconv.FormatUint(g, 10) }

// StartBackup hands b_C of a new backup pair for a method to the custodian
// and returns the backup generation the custodian gave it.
func (c *Client) StartBackup(ctx context.Context, walletID, method string, share, pairDigest []byte) (uint64, error) {
	var out generationJSON
	if err := c.do(ctx, http.MethodPost, []string{"wallets", walletID, "backups", method},
		startJSON{Share: share, PairDigest: hex.EncodeToString(pairDigest)}, &out); err != nil {
		return 0, err
	}
	if out.Generation == 0 {
		return 0, fmt.Errorf("%w: no generation in response", ErrUnavailable)
	}
	return out.Generation, nil
}

// CompleteBackup hands the user's ciphertext of the pair begun as generation g
// to the custodian, which confirms the pair if pairDigest is the one b_C was
// stored with.
func (c *Client) CompleteBackup(ctx context.Context, walletID, method string, g uint64, ciphertext, pairDigest []byte) error {
	return c.do(ctx, http.MethodPost, []string{"wallets", walletID, "backups", method, gen(g), "complete"},
		completeJSON{Ciphertext: ciphertext, PairDigest: hex.EncodeToString(pairDigest)}, nil)
}

// Share fetches the confirmed b_C of generation g, for a recovery.
func (c *Client) Share(ctx context.Context, walletID string, g uint64) ([]byte, error) {
	var out shareJSON
	if err := c.do(ctx, http.MethodGet, []string{"wallets", walletID, "shares", gen(g)}, nil, &out); err != nil {
		return nil, err
	}
	return out.Share, nil
}

// Backup fetches the newest complete backup pair of a method: its
// ciphertext, generation and pair digest.
func (c *Client) Backup(ctx context.Context, walletID, method string) (Backup, error) {
	var b Backup
	err := c.do(ctx, http.MethodGet, []string{"wallets", walletID, "backups", method}, nil, &b)
	return b, err
}

// Status reports what the custodian holds for the wallet.
func (c *Client) Status(ctx context.Context, walletID string) (WalletStatus, error) {
	var st WalletStatus
	err := c.do(ctx, http.MethodGet, []string{"wallets", walletID}, nil, &st)
	return st, err
}

// RemoveMethod deletes both halves of every backup of a method.
func (c *Client) RemoveMethod(ctx context.Context, walletID, method string) error {
	return c.do(ctx, http.MethodDelete, []string{"wallets", walletID, "backups", method}, nil, nil)
}

// RecordVerified records that a backup drill proved the pair of backup
// generation g of a method whole.
func (c *Client) RecordVerified(ctx context.Context, walletID, method string, g uint64) error {
	return c.do(ctx, http.MethodPost, []string{"wallets", walletID, "backups", method, gen(g), "verified"}, nil, nil)
}

// AuthorizeEject records that the organization lets the user eject the key.
func (c *Client) AuthorizeEject(ctx context.Context, walletID string) error {
	return c.do(ctx, http.MethodPost, []string{"wallets", walletID, "eject"}, nil, nil)
}

// EjectShare fetches b_C of generation g for an authorised eject.
func (c *Client) EjectShare(ctx context.Context, walletID string, g uint64) ([]byte, error) {
	var out shareJSON
	if err := c.do(ctx, http.MethodGet, []string{"wallets", walletID, "eject", "shares", gen(g)}, nil, &out); err != nil {
		return nil, err
	}
	return out.Share, nil
}
