package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/coder/websocket"

	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/wire"
)

func TestCode(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"coded", codeErr(wire.CodeNoWallet, "bridge: no wallet"), wire.CodeNoWallet},
		{"wrapped coded", fmt.Errorf("sign: %w", codeErr(wire.CodeInvalidArgument, "bad")), wire.CodeInvalidArgument},
		// An error's own code wins over what it wraps.
		{"coded around a sentinel", &Error{Code: wire.CodeInternal, Err: ErrWrongKey}, wire.CodeInternal},
		{"server's error frame", fmt.Errorf("eject: %w", &wire.Error{Code: wire.CodeEjectNotAuthorized, Message: "no"}), wire.CodeEjectNotAuthorized},
		{"protocol abort", fmt.Errorf("run: %w", &mpc.AbortError{Culprit: mpc.Server, Protocol: mpc.ProtocolPresign, Round: 2, Check: "enc proof"}), wire.CodeProtocolAbort},
		{"wrong backup key", fmt.Errorf("recover: %w", ErrWrongKey), wire.CodeWrongPassword},
		{"deadline", fmt.Errorf("recv: %w", context.DeadlineExceeded), wire.CodeNetwork},
		{"canceled", context.Canceled, wire.CodeNetwork},
		// wire.Conn wraps every failure of the socket in ErrConnection.
		{"socket closed", fmt.Errorf("recover: %w", fmt.Errorf("%w: %v", wire.ErrConnection, websocket.CloseError{Code: websocket.StatusGoingAway, Reason: "bye"})), wire.CodeNetwork},
		{"bad frame", fmt.Errorf("sign: %w", wire.ErrFrame), wire.CodeBadFrame},
		{"text that merely mentions a connection", errors.New("unexpected EOF in connection data"), wire.CodeInternal},
		{"anything else", errors.New("bridge: a broken invariant"), wire.CodeInternal},
	} {
		if got := Code(tt.err); got != tt.want {
			t.Errorf("%s: Code(%v) = %s, want %s", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestSessionURL(t *testing.T) {
	for _, tt := range []struct {
		url, want string
	}{
		{"http://127.0.0.1:8080", "ws://127.0.0.1:8080/v1/session"},
		{"http://127.0.0.1:8080/", "ws://127.0.0.1:8080/v1/session"},
		{"https://wallet.example", "wss://wallet.example/v1/session"},
		{"https://wallet.example/duet/", "wss://wallet.example/duet/v1/session"},
		{"ws://localhost:9000", "ws://localhost:9000/v1/session"},
		{"wss://wallet.example", "wss://wallet.example/v1/session"},
	} {
		d := &Device{URL: tt.url}
		got, err := d.sessionURL()
		if err != nil || got != tt.want {
			t.Errorf("sessionURL(%q) = %q, %v; want %q", tt.url, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "wallet.example", "localhost:8080", "127.0.0.1:8080", "ftp://wallet.example", "file:///tmp/x", "http://"} {
		d := &Device{URL: bad}
		if got, err := d.sessionURL(); err == nil || Code(err) != wire.CodeInvalidArgument {
			t.Errorf("sessionURL(%q) = %q, %v; want an INVALID_ARGUMENT error", bad, got, err)
		}
	}
}

// memStore is a Store in memory.
type memStore struct {
	mu     sync.Mutex
	m      map[string][]byte
	getErr error
}

func (s *memStore) Get(ctx context.Context, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.getErr != nil {
		return nil, s.getErr
	}
	v, ok := s.m[name]
	if !ok {
		return nil, nil
	}
	return append([]byte(nil), v...), nil
}

func (s *memStore) Put(ctx context.Context, name string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[name] = append([]byte(nil), value...)
	return nil
}

func (s *memStore) Delete(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, name)
	return nil
}

func TestStateEmpty(t *testing.T) {
	d := &Device{Store: &memStore{}}
	info, err := d.State(t.Context())
	if err != nil || info != nil {
		t.Fatalf("State of an empty store = %+v, %v; want nil, nil", info, err)
	}
}

func TestStateCorruptShare(t *testing.T) {
	st := &memStore{}
	st.Put(t.Context(), keyActive, []byte("not a key share"))
	d := &Device{Store: st}
	if _, err := d.State(t.Context()); err == nil || Code(err) != wire.CodeInternal {
		t.Fatalf("State with a corrupt share: %v, want an INTERNAL error", err)
	}
}

func TestStoreErrorSurfaces(t *testing.T) {
	boom := errors.New("store: disk on fire")
	d := &Device{Store: &memStore{getErr: boom}}
	if _, err := d.State(t.Context()); !errors.Is(err, boom) {
		t.Fatalf("State: %v, want the store's error", err)
	}
}

// TestDeviceArguments checks that bad arguments are refused as
// INVALID_ARGUMENT before any session is opened: the URL names no server.
func TestDeviceArguments(t *testing.T) {
	ctx := t.Context()
	short := &BackupSecret{Method: MethodPassword, Password: "short"}
	noKey := &BackupSecret{Method: MethodPasskey}
	for _, tt := range []struct {
		name string
		op   func(d *Device) error
	}{
		{"sign without API key", func(d *Device) error {
			d.APIKey = ""
			_, err := d.Sign(ctx, [32]byte{})
			return err
		}},
		{"sign with a bad URL", func(d *Device) error {
			d.URL = "ftp://wallet.example"
			_, err := d.Sign(ctx, [32]byte{})
			return err
		}},
		{"backup with a short password", func(d *Device) error { return d.Backup(ctx, short) }},
		{"recover with a short password", func(d *Device) error { _, err := d.Recover(ctx, short); return err }},
		{"eject without a key", func(d *Device) error { _, err := d.Eject(ctx, noKey); return err }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := &Device{URL: "http://server.invalid", APIKey: "duet_cli_test", Store: &memStore{}}
			err := tt.op(d)
			if err == nil || Code(err) != wire.CodeInvalidArgument {
				t.Fatalf("got %v, want an INVALID_ARGUMENT error", err)
			}
		})
	}
}

func TestUnreachableServer(t *testing.T) {
	// Nothing listens on port 1 of the loopback.
	d := &Device{URL: "http://127.0.0.1:1", APIKey: "duet_cli_test", Store: &memStore{}}
	_, err := d.Sign(t.Context(), [32]byte{})
	if err == nil || Code(err) != wire.CodeNetwork {
		t.Fatalf("Sign against no server: %v, want a NETWORK error", err)
	}
}

// genStore is a memStore that records the generation of each put.
type genStore struct {
	memStore
	gens map[string]uint64
}

func (s *genStore) PutGeneration(ctx context.Context, name string, value []byte, generation uint64) error {
	if s.gens == nil {
		s.gens = map[string]uint64{}
	}
	s.gens[name] = generation
	return s.memStore.Put(ctx, name, value)
}

func TestPutPassesTheGeneration(t *testing.T) {
	st := &genStore{}
	d := &Device{Store: st}
	if err := d.put(context.Background(), keyPending, []byte{1}, 7); err != nil {
		t.Fatal(err)
	}
	if st.gens[keyPending] != 7 {
		t.Errorf("generation %d put, want 7", st.gens[keyPending])
	}
	plain := &memStore{}
	d = &Device{Store: plain}
	if err := d.put(context.Background(), keyPending, []byte{2}, 7); err != nil {
		t.Fatal(err)
	}
	if b, _ := plain.Get(context.Background(), keyPending); len(b) != 1 || b[0] != 2 {
		t.Errorf("a plain store holds %v, want [2]", b)
	}
}
