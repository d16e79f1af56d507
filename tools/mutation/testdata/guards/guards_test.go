package guards

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestParse(t *testing.T) {
	if _, err := Parse(nil); !errors.Is(err, ErrShort) {
		t.Errorf("Parse(nil) = %v, want ErrShort", err)
	}
	if _, err := Parse([]byte{0, 1}); !errors.Is(err, ErrZero) {
		t.Errorf("Parse(0, 1) = %v, want ErrZero", err)
	}
	if _, err := Parse([]byte{200, 1}); err == nil {
		t.Error("Parse(200, 1) accepted")
	}
	if n, err := Parse([]byte{3, 1}); err != nil || n != 3 {
		t.Errorf("Parse(3, 1) = %d, %v", n, err)
	}
}

func TestValid(t *testing.T) {
	if Valid("a") || !Valid("z") {
		t.Error("Valid orders names wrongly")
	}
}

func TestHandle(t *testing.T) {
	w := httptest.NewRecorder()
	Handle(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if w.Code != http.StatusUnauthorized {
		t.Errorf("status %d without a key", w.Code)
	}
}

func TestCheck(t *testing.T) {
	if wrap(-1) == nil || wrap(1) != nil {
		t.Error("check")
	}
}
