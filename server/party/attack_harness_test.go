package party_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/duetwallet/duet/bridge"
	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/server/api"
	"github.com/duetwallet/duet/server/apikey"
	"github.com/duetwallet/duet/server/custodian"
	"github.com/duetwallet/duet/server/internal/sqldb"
	"github.com/duetwallet/duet/server/party"
	"github.com/duetwallet/duet/server/seal"
	"github.com/duetwallet/duet/server/store"
	"github.com/duetwallet/duet/wire"
)

// logCapture is a slog handler that keeps every record of the party
// handler, so a test can read what the server wrote about a session.
type logCapture struct {
	mu   sync.Mutex
	recs []logRecord
}

type logRecord struct {
	Msg   string
	Attrs map[string]string
}

func (l *logCapture) Enabled(context.Context, slog.Level) bool { return true }

func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{Msg: r.Message, Attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.String()
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, rec)
	return nil
}

func (l *logCapture) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCapture) WithGroup(string) slog.Handler      { return l }

// mark returns a position in the log; since returns the records after it.
func (l *logCapture) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recs)
}

func (l *logCapture) since(n int) []logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]logRecord(nil), l.recs[n:]...)
}

// attackEnv is a real server (API, custodian and party handler on one
// httptest server, SQLite store) whose party log is captured and whose
// database the test can read directly.
type attackEnv struct {
	t       *testing.T
	srv     *httptest.Server
	wsURL   string
	db      *sqldb.DB
	store   *store.SQLStore
	handler *party.Handler
	logs    *logCapture
	orgID   string
}

func newAttackEnv(t *testing.T, configure func(*party.Handler)) *attackEnv {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, filepath.Join(t.TempDir(), "duet.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	master, _ := seal.New(bytes.Repeat([]byte{1}, seal.KeySize))
	cusKey, _ := seal.New(bytes.Repeat([]byte{2}, seal.KeySize))
	st, err := store.Open(ctx, store.Config{DB: db, Sealer: master})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := custodian.OpenStore(ctx, custodian.Config{DB: db, Sealer: cusKey})
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	logs := &logCapture{}
	ts := httptest.NewUnstartedServer(nil)
	dir := &api.CustodianDirectory{BaseURL: "http://" + ts.Listener.Addr().String(), Keys: st}
	srv := api.NewServer(api.Config{Store: st, Custodians: dir, Log: quiet})
	srv.Handle(custodian.PathPrefix, custodian.NewHandler(cs, quiet))
	h := &party.Handler{
		Store: st, Custodian: dir.For, Primes: &fixturePrimes{idx: []int{0, 1}}, Log: slog.New(logs),
		FrameTimeout: 30 * time.Second,
	}
	if configure != nil {
		configure(h)
	}
	srv.Handle("/v1/session", h)
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)
	dir.HTTP = ts.Client()

	e := &attackEnv{t: t, srv: ts, wsURL: "ws" + strings.TrimPrefix(ts.URL, "http") + "/v1/session",
		db: db, store: st, handler: h, logs: logs}
	e.orgID, _ = apikey.NewID(rand.Reader)
	ck, err := cs.CreateAccount(ctx, e.orgID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err = st.CreateOrganization(ctx, e.orgID, "attack test org", ck); err != nil {
		t.Fatal(err)
	}
	return e
}

// newClient registers a client of the env's organization and returns its
// API key.
func (e *attackEnv) newClient() (id, key string) {
	c, key, err := e.store.CreateClient(context.Background(), e.orgID)
	if err != nil {
		e.t.Fatal(err)
	}
	return c.ID, key
}

// honestDevice is the real device party for a client.
func (e *attackEnv) honestDevice(key string, store *memStore) *bridge.Device {
	return &bridge.Device{
		URL: e.srv.URL, APIKey: key, Store: store,
		Primes:       (&fixturePrimes{idx: []int{2, 3}}).Primes,
		FrameTimeout: 30 * time.Second,
	}
}

// stateTables are the tables whose rows a lying device must not change:
// wallets and their generations, server shares and presignatures, and the
// custodian's shares and backups.
var stateTables = []string{"wallets", "server_shares", "presignatures", "custodian_wallets", "custodian_shares", "custodian_backups"}

// snapshot dumps every row of the state tables, in a stable order.
func (e *attackEnv) snapshot() map[string][]string {
	e.t.Helper()
	out := map[string][]string{}
	for _, table := range stateTables {
		rows, err := e.db.Query("SELECT * FROM " + table + " ORDER BY 1, 2")
		if err != nil {
			e.t.Fatalf("snapshot %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.RawBytes, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				e.t.Fatal(err)
			}
			row := make([]string, len(vals))
			for i, v := range vals {
				row[i] = fmt.Sprintf("%x", []byte(v))
			}
			out[table] = append(out[table], strings.Join(row, "|"))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			e.t.Fatal(err)
		}
	}
	return out
}

func equalTables(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, rows := range a {
		if strings.Join(rows, "\n") != strings.Join(b[k], "\n") {
			return false
		}
	}
	return true
}

// evilDevice is a device that speaks the session protocol itself, with the
// device's real share, so that a test can replace, reorder or tamper any
// message it sends while every other message stays honest.
type evilDevice struct {
	t      *testing.T
	url    string
	apiKey string
	share  *mpc.KeyShare
	// device is the device's id, which Hello presents; a keygen without
	// one presents a fresh one.
	device []byte
	// claim, when set, is the active generation Hello names instead of the
	// share's.
	claim uint64
}

// evilFromStore builds the attacker from an honest device's stored share.
func evilFromStore(t *testing.T, e *attackEnv, key string, st *memStore) *evilDevice {
	t.Helper()
	b, _ := st.Get(context.Background(), "share/active")
	share := new(mpc.KeyShare)
	if err := share.UnmarshalBinary(b); err != nil {
		t.Fatalf("device share: %v", err)
	}
	device, _ := st.Get(context.Background(), "device")
	return &evilDevice{t: t, url: e.wsURL, apiKey: key, share: share, device: device}
}

// evilSession is one open session. It records every frame the server sent.
type evilSession struct {
	d       *evilDevice
	ws      *websocket.Conn
	nonce   []byte
	welcome *wire.Welcome
	seen    []string // what the server sent, in order ("welcome", "mpc refresh 2", …)
}

// observation is everything the attacker can see of how a session ended.
type observation struct {
	Seen    []string // the server's frames before the end
	Code    string   // the Error frame's code, "" if none came
	Message string
	Close   websocket.StatusCode
	Reason  string
}

func (o observation) String() string {
	return fmt.Sprintf("after [%s]: %s %q, close %d %q", strings.Join(o.Seen, ", "), o.Code, o.Message, o.Close, o.Reason)
}

func (d *evilDevice) open(ctx context.Context, op string, hello wire.Hello) (*evilSession, error) {
	ws, _, err := websocket.Dial(ctx, d.url, nil)
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(wire.MaxFrame)
	s := &evilSession{d: d, ws: ws, nonce: make([]byte, 32)}
	if _, err := io.ReadFull(rand.Reader, s.nonce); err != nil {
		ws.CloseNow()
		return nil, err
	}
	hello.APIKey, hello.Op, hello.Nonce, hello.Device = d.apiKey, op, s.nonce, d.device
	if op == wire.OpKeygen && hello.Device == nil {
		hello.Device = make([]byte, wire.DeviceIDSize)
		rand.Read(hello.Device)
	}
	switch {
	case d.claim != 0:
		hello.Gens.Active = d.claim
	case d.share != nil:
		hello.Gens.Active = d.share.Generation
	}
	if err := s.send(ctx, hello.Frame()); err != nil {
		ws.CloseNow()
		return nil, err
	}
	f, err := s.recv(ctx)
	if err != nil {
		return s, err
	}
	if s.welcome, err = wire.ParseWelcome(f); err != nil {
		return s, err
	}
	return s, nil
}

func (s *evilSession) close() { s.ws.CloseNow() }

func (s *evilSession) send(ctx context.Context, f *wire.Frame) error {
	return s.ws.Write(ctx, websocket.MessageBinary, f.Marshal())
}

func (s *evilSession) sendRaw(ctx context.Context, b []byte) error {
	return s.ws.Write(ctx, websocket.MessageBinary, b)
}

// recv reads one frame; an Error frame comes back as *wire.Error.
func (s *evilSession) recv(ctx context.Context) (*wire.Frame, error) {
	_, b, err := s.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	f, err := wire.ParseFrame(b)
	if err != nil {
		return nil, err
	}
	if f.Type == wire.TypeError {
		e, err := wire.ParseError(f)
		if err != nil {
			return nil, err
		}
		return nil, e
	}
	label := f.Type.String()
	if f.Type == wire.TypeMPC {
		if m, err := wire.ParseMPC(f); err == nil {
			label = fmt.Sprintf("mpc %s %d", m.Protocol, m.Round)
		}
	}
	s.seen = append(s.seen, label)
	return f, nil
}

// config is the device's run configuration for a protocol of this session.
func (s *evilSession) config(protocol string, gen uint64) mpc.Config {
	return mpc.Config{
		Self: mpc.Device, Peer: mpc.Server, Rand: rand.Reader,
		SessionID: mpc.NewSessionID(protocol, s.welcome.WalletID, gen, mpc.Device, s.nonce, mpc.Server, s.welcome.Nonce),
	}
}

// hooks let a test see the server's messages and rewrite the device's.
type hooks struct {
	// out returns the frames to send in place of the device's honest
	// message m (none to hold it back, several to add or reorder).
	out func(m *mpc.Message) []*wire.Frame
	// in is told of each message of the server.
	in func(m *mpc.Message)
}

func frames(msgs ...*mpc.Message) []*wire.Frame {
	out := make([]*wire.Frame, len(msgs))
	for i, m := range msgs {
		out[i] = wire.MPCFrame(m)
	}
	return out
}

// run drives one protocol run like wire.Conn.Run, through the hooks. It
// returns the run's output, or the first error: the server's Error frame
// as *wire.Error, a check of our own as *mpc.AbortError.
func (s *evilSession) run(ctx context.Context, r mpc.Round, first *mpc.Message, h hooks) (any, error) {
	out := first
	for {
		if out != nil {
			fs := frames(out)
			if h.out != nil {
				fs = h.out(out)
			}
			for _, f := range fs {
				if err := s.send(ctx, f); err != nil {
					return nil, err
				}
			}
		}
		if done, ok := r.(*mpc.Done); ok {
			return done.Output, nil
		}
		f, err := s.recv(ctx)
		if err != nil {
			return nil, err
		}
		msg, err := wire.ParseMPC(f)
		if err != nil {
			return nil, err
		}
		if h.in != nil {
			h.in(msg)
		}
		next, o, err := r.Receive(msg)
		if err != nil {
			return nil, err
		}
		r, out = next, o
	}
}

// end reads what the server sends until the socket closes and returns the
// observation; err is the error a run returned, if any.
func (s *evilSession) end(ctx context.Context, err error) observation {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var o observation
	for range 64 {
		var we *wire.Error
		var abort *mpc.AbortError
		switch {
		case err == nil, errors.Is(err, wire.ErrFrame), errors.Is(err, mpc.ErrMessage), errors.As(err, &abort):
			// Our own side's verdict: keep reading what the server says.
		case errors.As(err, &we):
			o.Code, o.Message = we.Code, we.Message
		default:
			o.Close = websocket.CloseStatus(err)
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				o.Reason = ce.Reason
			}
			o.Seen = append([]string(nil), s.seen...)
			return o
		}
		_, err = s.recv(ctx)
	}
	s.d.t.Fatal("the server kept the session open")
	return o
}

// withPayload returns a copy of m with another payload.
func withPayload(m *mpc.Message, payload []byte) *mpc.Message {
	c := *m
	c.Payload = payload
	return &c
}

// onRound rewrites the device's message of one round with f and sends the
// others unchanged.
func onRound(round uint8, f func(m *mpc.Message) []*wire.Frame) hooks {
	return hooks{out: func(m *mpc.Message) []*wire.Frame {
		if m.Round == round {
			return f(m)
		}
		return frames(m)
	}}
}

// tamperPayload rewrites the payload of the device's message of one round.
func tamperPayload(round uint8, f func(p []byte) []byte) hooks {
	return onRound(round, func(m *mpc.Message) []*wire.Frame {
		return frames(withPayload(m, f(bytes.Clone(m.Payload))))
	})
}
