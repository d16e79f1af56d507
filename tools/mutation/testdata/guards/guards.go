// Package guards is a fixture for the mutation tool: a few guards of each
// form, some covered by its tests and some not.
package guards

import (
	"errors"
	"fmt"
	"net/http"
)

var (
	ErrShort = errors.New("guards: short input")
	ErrZero  = errors.New("guards: zero byte")
	ErrRange = errors.New("guards: out of range")
)

const (
	MaxBits = 8
	minName = "m"
)

// Error names a failed check.
type Error struct{ Check string }

func (e *Error) Error() string { return "guards: " + e.Check }

// Parse reads a value from b.
func Parse(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, ErrShort
	}
	if b[0] == 0 || b[1] == 0 {
		return 0, fmt.Errorf("%w at the start", ErrZero)
	}
	// Redundant: the length check above rejects empty input.
	if len(b) == 0 {
		return 0, ErrShort
	}
	n := int(b[0])
	switch {
	case n > MaxBits:
		return 0, &Error{Check: "bits"}
	}
	if n == 7 {
		return n, nil
	}
	return n, nil
}

// Valid reports whether name sorts at or after minName.
func Valid(name string) bool {
	if name < minName { // a string bound: widening it does not compile
		return false
	}
	return true
}

type decoder struct{ err error }

func (d *decoder) Fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// Flag reads a flag byte, which must be 0 or 1.
func Flag(v byte) error {
	d := &decoder{}
	if v > 1 { // Redundant: a test fixture, documented on its own line.
		d.Fail(ErrRange)
	}
	return d.err
}

// Handle answers 204 to a request that carries a key.
func Handle(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") == "" {
		http.Error(w, "no key", http.StatusUnauthorized)
		return
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func check(v int) error {
	if v < 0 {
		return errors.New("negative")
	}
	return nil
}

func wrap(v int) error {
	if err := check(v); err != nil {
		return err
	}
	return nil
}

// Prove stands for a zero-knowledge prover: its check is on a witness our
// own code passes, so it is no guard on untrusted input.
func Prove(witness int) error {
	if witness < 0 {
		return errors.New("witness out of range")
	}
	return nil
}

// Unreached has a guard that no test reaches.
func Unreached(v int) error {
	if v > 9 {
		return ErrRange
	}
	return nil
}

// Sized checks an exact size that a decoder has capped already.
func Sized(b []byte) error {
	if len(b) != 4 { // Redundant bound: a test fixture; its decoder caps b at 4 bytes.
		return ErrShort
	}
	return nil
}
