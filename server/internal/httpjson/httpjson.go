// Package httpjson holds the JSON conventions shared by the Duet server's
// HTTP APIs: bodies are single JSON objects of bounded size with no unknown
// fields, and every failure is answered as
//
//	{"error": {"code": "...", "message": "..."}}
//
// with a stable code a program can branch on.
package httpjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
)

// Error codes shared by the Duet APIs.
const (
	CodeBadRequest      = "bad_request"
	CodeUnauthorized    = "unauthorized"
	CodeForbidden       = "forbidden"
	CodeNotFound        = "not_found"
	CodeConflict        = "conflict"
	CodeTooLarge        = "too_large"
	CodeUnsupportedType = "unsupported_media_type"
	CodeInternal        = "internal"
	CodeUnavailable     = "unavailable"
	CodeTimeout         = "request_timeout"
)

// An Error is a failure to report to the caller.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (%d): %s", e.Code, e.Status, e.Message)
}

// Errorf makes an Error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Write sends v as a JSON response with the given status.
func Write(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		panic("httpjson: internal error: " + err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// WriteError sends e in the error envelope.
func WriteError(w http.ResponseWriter, e *Error) {
	Write(w, e.Status, struct {
		Error *Error `json:"error"`
	}{e})
}

// Decode reads the request body, at most limit bytes, as one JSON object into
// v. An empty body decodes as {} when emptyOK is set. Its errors are ready to
// send with WriteError.
func Decode(w http.ResponseWriter, r *http.Request, limit int64, emptyOK bool, v any) *Error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return Errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "request body exceeds %d bytes", limit)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return Errorf(http.StatusRequestTimeout, CodeTimeout, "the request body did not arrive in time")
	}
	if err != nil {
		return Errorf(http.StatusBadRequest, CodeBadRequest, "reading request body: %v", err)
	}
	if len(body) == 0 {
		if emptyOK {
			return nil
		}
		return Errorf(http.StatusBadRequest, CodeBadRequest, "request body is empty, want a JSON object")
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSON(ct) {
		return Errorf(http.StatusUnsupportedMediaType, CodeUnsupportedType, "Content-Type %q, want application/json", ct)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Errorf(http.StatusBadRequest, CodeBadRequest, "invalid JSON body: %v", err)
	}
	if err := dec.Decode(new(json.RawMessage)); err != io.EOF {
		return Errorf(http.StatusBadRequest, CodeBadRequest, "invalid JSON body: trailing data after the object")
	}
	return nil
}

func isJSON(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	return err == nil && mediaType == "application/json"
}
