package party_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duetwallet/duet/bridge"
	"github.com/duetwallet/duet/internal/attacktest"
	"github.com/duetwallet/duet/internal/cpace"
	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/mpc/curve"
	"github.com/duetwallet/duet/server/party"
	"github.com/duetwallet/duet/server/store"
	"github.com/duetwallet/duet/wire"
)

// joined is the outcome of a device's RequestApproval.
type joined struct {
	info *bridge.WalletInfo
	err  error
}

// requestApproval starts b's request for an approval and returns the code b
// shows, and where its outcome arrives.
func requestApproval(t *testing.T, b *bridge.Device) (string, <-chan joined) {
	t.Helper()
	codes := make(chan string, 1)
	out := make(chan joined, 1)
	c := ctx(t)
	go func() {
		info, err := b.RequestApproval(c, func(code string) { codes <- code })
		out <- joined{info, err}
	}()
	select {
	case code := <-codes:
		return code, out
	case r := <-out:
		t.Fatalf("the request ended before it showed a code: %v", r.err)
	}
	return "", nil
}

// wrongCode is code with its last digit changed.
func wrongCode(code string) string {
	last := code[len(code)-1]
	return code[:len(code)-1] + string(rune('0'+(last-'0'+1)%10))
}

// serverHoldings describes what the server holds of the wallet: its
// generations and each device's active pair.
func serverHoldings(t *testing.T, st store.Store, clientID string) string {
	t.Helper()
	w, err := st.WalletByClient(ctx(t), clientID)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := st.Devices(ctx(t), w.ID)
	if err != nil {
		t.Fatal(err)
	}
	s := fmt.Sprintf("active %d pending %d", w.ActiveGeneration, w.PendingGeneration)
	for _, d := range ds {
		s += fmt.Sprintf("; %s at %d %x", d.ID, d.Generation, d.Digest)
	}
	return s
}

// approvalRows counts the approval requests in the database.
func approvalRows(t *testing.T, e *env) int {
	t.Helper()
	var n int
	if err := e.db.QueryRowContext(ctx(t), `SELECT COUNT(*) FROM device_approvals`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// awaitNoApprovals waits for the sessions that ended to delete their
// requests (a session deletes its own as it ends, after the device heard
// the outcome).
func awaitNoApprovals(t *testing.T, e *env) {
	t.Helper()
	for try := 0; approvalRows(t, e) != 0; try++ {
		if try == 600 {
			t.Fatalf("%d approval requests left after their sessions ended", approvalRows(t, e))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// activeShare is the share a device holds as active.
func activeShare(t *testing.T, d *bridge.Device) *mpc.KeyShare {
	t.Helper()
	b := d.Store.(*memStore).Snapshot()["share/active"]
	s := new(mpc.KeyShare)
	if err := s.UnmarshalBinary(b); err != nil {
		t.Fatalf("the device's active share: %v", err)
	}
	return s
}

// serverShare is the server's active share of a device's pair.
func serverShare(t *testing.T, e *env, device string) store.Share {
	t.Helper()
	w, err := e.store.WalletByClient(ctx(t), e.clientID)
	if err != nil {
		t.Fatal(err)
	}
	sh, err := e.store.DeviceShare(ctx(t), w.ID, device)
	if err != nil {
		t.Fatal(err)
	}
	return sh
}

// isData reports whether f is a Data frame of kind.
func isData(f *attacktest.Frame, kind string) bool {
	if f.Frame == nil {
		return false
	}
	_, err := wire.ParseData(f.Frame, kind)
	return err == nil
}

func approvalDelta(t *testing.T, s *attacktest.Session) *curve.Scalar {
	t.Helper()
	f := s.Find(attacktest.FromDevice, func(f *attacktest.Frame) bool { return isData(f, "approval") })
	if f == nil {
		t.Fatal("the approving device sent no approval")
	}
	d, _ := wire.ParseData(f.Frame, "approval")
	a, err := wire.ParseApproval(d.Body)
	if err != nil {
		t.Fatal(err)
	}
	delta, err := curve.ScalarFromBytes(a.Delta)
	if err != nil {
		t.Fatal(err)
	}
	return delta
}

// TestApproveDevice: a new device joins by the approval of the wallet's
// device; both sign, the first keeps its pair (the server's share of it is
// untouched), and the new pair is independent of the starting share x_A+δ
// on either side. The request is gone once the sessions end.
func TestApproveDevice(t *testing.T) {
	e := newEnv(t)
	a := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), a)
	if err != nil {
		t.Fatal(err)
	}
	idA := deviceOf(t, a)
	before := serverShare(t, e, idA)
	xA := activeShare(t, a)
	p := &attacktest.Proxy{Target: e.srv.URL}
	ps := httptest.NewServer(p)
	t.Cleanup(ps.Close)

	b := e.newDevice(e.srv.URL)
	var phases []string
	var mu sync.Mutex
	b.Progress = func(p bridge.Progress) {
		mu.Lock()
		phases = append(phases, p.Phase)
		mu.Unlock()
	}
	code, done := requestApproval(t, b)
	if len(code) != 9 || code[4] != ' ' {
		t.Fatalf("code %q, want 8 digits in two groups", code)
	}
	if approvalRows(t, e) != 1 {
		t.Fatal("no request stored while the device waits")
	}
	if err := withURL(a, ps.URL).ApproveDevice(ctx(t), code); err != nil {
		t.Fatalf("approve: %v", err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("request: %v", r.err)
	}
	idB := deviceOf(t, b)
	if r.info.Address != info.Address || r.info.Device != idB || idB == idA || r.info.Generation != info.Generation+1 || r.info.Stale || r.info.Removed {
		t.Fatalf("joined as %+v; want address %s, its own id, generation %d", r.info, info.Address, info.Generation+1)
	}
	mu.Lock()
	if !strings.Contains(strings.Join(phases, " "), "awaiting-approval") || phases[len(phases)-1] != "done" {
		t.Fatalf("progress %v", phases)
	}
	mu.Unlock()
	mustSign(t, a, info.Address, "the approving device")
	mustSign(t, b, info.Address, "the approved device")
	mustSign(t, a, info.Address, "the approving device again")
	if ids, _ := deviceIDs(t, b); strings.Join(ids, " ") != idA+" "+idB {
		t.Fatalf("devices %v", ids)
	}
	after := serverShare(t, e, idA)
	if after.Generation != before.Generation || string(after.Data) != string(before.Data) || string(after.Digest) != string(before.Digest) {
		t.Fatal("the server's share of the approving device's pair changed")
	}
	// δ as the approving device sent it: neither side's new share is the
	// starting share.
	delta := approvalDelta(t, p.Last())
	xB := activeShare(t, b)
	if xB.Secret.Equal(xA.Secret.Add(delta)) || xB.Secret.Equal(xA.Secret) || xB.Aux == nil {
		t.Fatal("the new device kept its starting share")
	}
	sB := new(mpc.KeyShare)
	if err := sB.UnmarshalBinary(serverShare(t, e, idB).Data); err != nil {
		t.Fatal(err)
	}
	sA := new(mpc.KeyShare)
	if err := sA.UnmarshalBinary(before.Data); err != nil {
		t.Fatal(err)
	}
	if sB.Secret.Equal(sA.Secret.Sub(delta)) || !xB.SelfPublic.Equal(sB.PeerPublic) {
		t.Fatal("the server kept its starting share, or the pair's views differ")
	}
	awaitNoApprovals(t, e)
}

// TestApprovalWrongCode: a mistyped code fails on both devices, changes
// nothing stored, leaves no request, and the new device can ask again.
func TestApprovalWrongCode(t *testing.T) {
	e := newEnv(t)
	a := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), a)
	if err != nil {
		t.Fatal(err)
	}
	state := serverHoldings(t, e.store, e.clientID)
	b := e.newDevice(e.srv.URL)
	code, done := requestApproval(t, b)
	if err := a.ApproveDevice(ctx(t), wrongCode(code)); bridge.Code(err) != wire.CodeApprovalFailed {
		t.Fatalf("approving with a wrong code: %v, want APPROVAL_FAILED", err)
	}
	if r := <-done; bridge.Code(r.err) != wire.CodeApprovalFailed {
		t.Fatalf("the new device after a wrong code: %v, want APPROVAL_FAILED", r.err)
	}
	if got := serverHoldings(t, e.store, e.clientID); got != state {
		t.Fatalf("a wrong code changed the wallet:\n%s\n%s", state, got)
	}
	if n := len(b.Store.(*memStore).Snapshot()); n != 0 {
		t.Fatalf("the new device stored %d items", n)
	}
	awaitNoApprovals(t, e)
	code, done = requestApproval(t, b)
	if err := a.ApproveDevice(ctx(t), code); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.err != nil || r.info.Address != info.Address {
		t.Fatalf("asking again: %+v %v", r.info, r.err)
	}
	mustSign(t, b, info.Address, "after a second request")
	mustSign(t, a, info.Address, "the approving device")
}

// TestApprovalOutOfOrder: an approval without a request, after its expiry,
// of a replaced request, and two approvals of one request; each fails with
// its error and changes nothing.
func TestApprovalOutOfOrder(t *testing.T) {
	clk := newClock()
	e := newEnvWith(t, envConfig{now: clk.Now})
	a := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), a)
	if err != nil {
		t.Fatal(err)
	}
	state := serverHoldings(t, e.store, e.clientID)
	unchanged := func(what string) {
		t.Helper()
		if got := serverHoldings(t, e.store, e.clientID); got != state {
			t.Fatalf("%s changed the wallet:\n%s\n%s", what, state, got)
		}
	}

	// No request.
	if err := a.ApproveDevice(ctx(t), "1234 5678"); bridge.Code(err) != wire.CodeApprovalFailed {
		t.Fatalf("approving with no request: %v", err)
	}
	unchanged("an approval without a request")

	// After the request expired.
	b := e.newDevice(e.srv.URL)
	code, done := requestApproval(t, b)
	clk.Advance(6 * time.Minute)
	if err := a.ApproveDevice(ctx(t), code); bridge.Code(err) != wire.CodeApprovalFailed {
		t.Fatalf("approving an expired request: %v", err)
	}
	if r := <-done; bridge.Code(r.err) != wire.CodeApprovalFailed {
		t.Fatalf("the new device after its request expired: %v", r.err)
	}
	unchanged("an expired request")
	awaitNoApprovals(t, e)

	// A newer request replaces the first.
	b1, b2 := e.newDevice(e.srv.URL), e.newDevice(e.srv.URL)
	code1, done1 := requestApproval(t, b1)
	code2, done2 := requestApproval(t, b2)
	if r := <-done1; bridge.Code(r.err) != wire.CodeApprovalFailed {
		t.Fatalf("a replaced request: %v", r.err)
	}
	if code1 != code2 {
		// The first code no longer opens anything: the approval is the
		// second request's, and the first code does not match it.
		if err := a.ApproveDevice(ctx(t), code1); bridge.Code(err) != wire.CodeApprovalFailed {
			t.Fatalf("approving with the replaced request's code: %v", err)
		}
		if r := <-done2; bridge.Code(r.err) != wire.CodeApprovalFailed {
			t.Fatalf("the second request after a wrong code: %v", r.err)
		}
		unchanged("the replaced request's code")
		code2, done2 = requestApproval(t, b2)
	}
	// Two approvals of one request: one wins, the other fails.
	a2 := e.newDevice(e.srv.URL)
	a2.Store = copyStore(a.Store.(*memStore))
	errs := make(chan error, 2)
	for _, d := range []*bridge.Device{a, a2} {
		go func() { errs <- d.ApproveDevice(ctx(t), code2) }()
	}
	e1, e2 := <-errs, <-errs
	if (e1 == nil) == (e2 == nil) || (bridge.Code(e1) != wire.CodeApprovalFailed && bridge.Code(e2) != wire.CodeApprovalFailed) {
		t.Fatalf("two approvals of one request: %v, %v; want one success and one APPROVAL_FAILED", e1, e2)
	}
	r := <-done2
	if r.err != nil {
		t.Fatal(r.err)
	}
	mustSign(t, b2, info.Address, "the approved device")
	mustSign(t, a, info.Address, "after the out-of-order calls")
	awaitNoApprovals(t, e)
}

// TestRemovedDeviceCannotApprove: a device removed by another gets
// DEVICE_REMOVED when it tries to approve, and the request it tried waits
// for a device that may.
func TestRemovedDeviceCannotApprove(t *testing.T) {
	e := newEnv(t)
	a := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), a)
	if err != nil {
		t.Fatal(err)
	}
	b := e.newDevice(e.srv.URL)
	code, done := requestApproval(t, b)
	if err := a.ApproveDevice(ctx(t), code); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.err != nil {
		t.Fatal(r.err)
	}
	if err := a.RemoveDevice(ctx(t), deviceOf(t, b)); err != nil {
		t.Fatal(err)
	}
	state := serverHoldings(t, e.store, e.clientID)
	c := e.newDevice(e.srv.URL)
	code, done = requestApproval(t, c)
	if err := b.ApproveDevice(ctx(t), code); bridge.Code(err) != wire.CodeDeviceRemoved {
		t.Fatalf("a removed device approving: %v, want DEVICE_REMOVED", err)
	}
	if got := serverHoldings(t, e.store, e.clientID); got != state {
		t.Fatalf("a removed device's approval changed the wallet:\n%s\n%s", state, got)
	}
	if err := a.ApproveDevice(ctx(t), code); err != nil {
		t.Fatalf("the request after the removed device's try: %v", err)
	}
	if r := <-done; r.err != nil {
		t.Fatal(r.err)
	}
	mustSign(t, c, info.Address, "approved after a refused approval")
}

// editApproval rewrites the approving device's "approval" on its way to the
// server with edit.
func editApproval(edit func(a *wire.Approval)) attacktest.Tamper {
	return func(s *attacktest.Session, f *attacktest.Frame) [][]byte {
		if f.Dir != attacktest.FromDevice || f.Frame == nil {
			return [][]byte{f.Raw}
		}
		d, err := wire.ParseData(f.Frame, "approval")
		if err != nil {
			return [][]byte{f.Raw}
		}
		a, err := wire.ParseApproval(d.Body)
		if err != nil {
			return [][]byte{f.Raw}
		}
		edit(a)
		return [][]byte{(&wire.Data{Kind: "approval", Body: a.Marshal()}).Frame().Marshal()}
	}
}

// TestApprovingDeviceLies: an approving device that tells the server
// another δ than the one its sealed share used makes the refresh fail
// before anything is stored; one that sends a δ that is not a canonical
// non-zero scalar gets BAD_FRAME. Neither changes the wallet.
func TestApprovingDeviceLies(t *testing.T) {
	e := newEnv(t)
	a := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), a)
	if err != nil {
		t.Fatal(err)
	}
	state := serverHoldings(t, e.store, e.clientID)
	p := &attacktest.Proxy{Target: e.srv.URL}
	ps := httptest.NewServer(p)
	t.Cleanup(ps.Close)
	liar := withURL(a, ps.URL)

	p.SetTamper(editApproval(func(x *wire.Approval) {
		d, _ := curve.ScalarFromBytes(x.Delta)
		x.Delta = d.Add(curve.ScalarFromUint64(1)).Bytes()
	}))
	b := e.newDevice(e.srv.URL)
	code, done := requestApproval(t, b)
	// The approving device cannot tell: the new device opens its share.
	if err := liar.ApproveDevice(ctx(t), code); err != nil {
		t.Fatalf("the lying device's approval: %v", err)
	}
	if r := <-done; bridge.Code(r.err) != wire.CodeProtocolAbort {
		t.Fatalf("the new device after a lie about δ: %v, want PROTOCOL_ABORT", r.err)
	}
	if got := serverHoldings(t, e.store, e.clientID); got != state {
		t.Fatalf("a lie about δ changed the wallet:\n%s\n%s", state, got)
	}
	if n := len(b.Store.(*memStore).Snapshot()); n != 0 {
		t.Fatalf("the new device stored %d items after the abort", n)
	}

	order := curve.ScalarFromUint64(0).Sub(curve.ScalarFromUint64(1)).BigVarTime()
	order.Add(order, big.NewInt(1))
	for name, delta := range map[string][]byte{"zero": make([]byte, 32), "the group order": order.FillBytes(make([]byte, 32))} {
		p.SetTamper(editApproval(func(x *wire.Approval) { x.Delta = delta }))
		state := serverHoldings(t, e.store, e.clientID)
		code, done := requestApproval(t, b)
		if err := liar.ApproveDevice(ctx(t), code); bridge.Code(err) != wire.CodeBadFrame {
			t.Fatalf("δ = %s: %v, want BAD_FRAME", name, err)
		}
		if got := serverHoldings(t, e.store, e.clientID); got != state {
			t.Fatalf("δ = %s changed the wallet:\n%s\n%s", name, state, got)
		}
		// The request still waits: the honest approval goes through.
		if err := a.ApproveDevice(ctx(t), code); err != nil {
			t.Fatalf("approving after δ = %s: %v", name, err)
		}
		if r := <-done; r.err != nil {
			t.Fatal(r.err)
		}
		mustSign(t, b, info.Address, "approved after a refused δ")
		if err := a.RemoveDevice(ctx(t), deviceOf(t, b)); err != nil {
			t.Fatal(err)
		}
		b = e.newDevice(e.srv.URL)
	}
	mustSign(t, a, info.Address, "after the lies")
}

// TestApprovalNewDeviceLeaves: a new device that drops its socket while it
// waits leaves no request behind, and the approval that comes too late
// fails.
func TestApprovalNewDeviceLeaves(t *testing.T) {
	e := newEnv(t)
	a := e.newDevice(e.srv.URL)
	if _, err := keygenReady(ctx(t), a); err != nil {
		t.Fatal(err)
	}
	state := serverHoldings(t, e.store, e.clientID)
	b := e.newDevice(e.srv.URL)
	c, cancel := context.WithCancel(ctx(t))
	codes := make(chan string, 1)
	out := make(chan error, 1)
	go func() {
		_, err := b.RequestApproval(c, func(code string) { codes <- code })
		out <- err
	}()
	code := <-codes
	cancel()
	if err := <-out; bridge.Code(err) != wire.CodeNetwork {
		t.Fatalf("the new device that left: %v, want NETWORK", err)
	}
	awaitNoApprovals(t, e)
	if err := a.ApproveDevice(ctx(t), code); bridge.Code(err) != wire.CodeApprovalFailed {
		t.Fatalf("approving a request whose device left: %v", err)
	}
	if got := serverHoldings(t, e.store, e.clientID); got != state {
		t.Fatalf("a request whose device left changed the wallet:\n%s\n%s", state, got)
	}
}

// gateStore holds the new device's session once it sees its request
// approved, until the test opens the gate.
type gateStore struct {
	store.Store
	reached chan struct{}
	open    chan struct{}
	once    sync.Once
}

func (g *gateStore) GetApproval(ctx context.Context, id string) (store.Approval, error) {
	a, err := g.Store.GetApproval(ctx, id)
	if err == nil && a.State == store.ApprovalApproved {
		g.once.Do(func() { close(g.reached) })
		select {
		case <-g.open:
		case <-ctx.Done():
		}
	}
	return a, err
}

// replica serves sessions on e's database with its own handler over st.
func (e *env) replicaOver(t *testing.T, st store.Store) string {
	t.Helper()
	h := &party.Handler{
		Store: st, Primes: &fixturePrimes{idx: []int{0, 1}}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		FrameTimeout: 30 * time.Second, Limits: party.Limits{ShareChanges: 1 << 20, Aborts: 1 << 20},
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL
}

// TestApproverRefreshedMeanwhile: the approving device's pair changes
// between its approval and the new device's continuation; the new device
// gets APPROVAL_FAILED, nothing of the approval is stored, and both go on.
func TestApproverRefreshedMeanwhile(t *testing.T) {
	e := newEnv(t)
	a := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), a)
	if err != nil {
		t.Fatal(err)
	}
	g := &gateStore{Store: e.store, reached: make(chan struct{}), open: make(chan struct{})}
	b := e.newDevice(e.replicaOver(t, g))
	code, done := requestApproval(t, b)
	approved := make(chan error, 1)
	go func() { approved <- a.ApproveDevice(ctx(t), code) }()
	<-g.reached
	ref, err := a.Refresh(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	state := serverHoldings(t, e.store, e.clientID)
	close(g.open)
	if r := <-done; bridge.Code(r.err) != wire.CodeApprovalFailed {
		t.Fatalf("the new device after the approver's refresh: %v, want APPROVAL_FAILED", r.err)
	}
	if err := <-approved; bridge.Code(err) != wire.CodeApprovalFailed {
		t.Fatalf("the approving device: %v, want APPROVAL_FAILED", err)
	}
	if got := serverHoldings(t, e.store, e.clientID); got != state {
		t.Fatalf("the failed continuation changed the wallet:\n%s\n%s", state, got)
	}
	mustSign(t, a, info.Address, "the refreshed approving device")
	code, done = requestApproval(t, b)
	if err := a.ApproveDevice(ctx(t), code); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.err != nil || r.info.Generation != ref.Generation+1 {
		t.Fatalf("approved again: %+v %v", r.info, r.err)
	}
	mustSign(t, b, info.Address, "approved again")
}

// TestApprovalRequestReplayed: a request replayed in another session (the
// new device's CPace message under another session's nonces) gets nothing:
// the approval made for it opens for no one, and both ends fail.
func TestApprovalRequestReplayed(t *testing.T) {
	e := newEnv(t)
	a := e.newDevice(e.srv.URL)
	if _, err := keygenReady(ctx(t), a); err != nil {
		t.Fatal(err)
	}
	state := serverHoldings(t, e.store, e.clientID)
	p := &attacktest.Proxy{Target: e.srv.URL}
	ps := httptest.NewServer(p)
	t.Cleanup(ps.Close)
	b := e.newDevice(ps.URL)
	code, doneB := requestApproval(t, b)
	first := p.Last().Find(attacktest.FromDevice, func(f *attacktest.Frame) bool { return isData(f, "approval-request") })
	// Another session sends b's message as its own request.
	p.SetTamper(func(s *attacktest.Session, f *attacktest.Frame) [][]byte {
		if f.Dir == attacktest.FromDevice && isData(f, "approval-request") {
			return [][]byte{first.Raw}
		}
		return [][]byte{f.Raw}
	})
	replayer := e.newDevice(ps.URL)
	_, doneR := requestApproval(t, replayer)
	if r := <-doneB; bridge.Code(r.err) != wire.CodeApprovalFailed {
		t.Fatalf("the replayed request's device: %v, want APPROVAL_FAILED (replaced)", r.err)
	}
	if err := a.ApproveDevice(ctx(t), code); bridge.Code(err) != wire.CodeApprovalFailed {
		t.Fatalf("approving the replayed request: %v, want APPROVAL_FAILED", err)
	}
	if r := <-doneR; bridge.Code(r.err) != wire.CodeApprovalFailed {
		t.Fatalf("the replaying session: %v, want APPROVAL_FAILED", r.err)
	}
	if got := serverHoldings(t, e.store, e.clientID); got != state {
		t.Fatalf("a replayed request changed the wallet:\n%s\n%s", state, got)
	}
}

// TestServerGetsOneGuess plays a malicious server against a real approving
// device: it answers with its own CPace message for a code it guesses. A
// wrong guess leaves it a sealed share it cannot open; only a right one
// (one chance in 10^8 per approval) would open it.
func TestServerGetsOneGuess(t *testing.T) {
	e := newEnv(t)
	a := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), a)
	if err != nil {
		t.Fatal(err)
	}
	sh := serverShare(t, e, deviceOf(t, a))
	w, err := e.store.WalletByClient(ctx(t), e.clientID)
	if err != nil {
		t.Fatal(err)
	}
	xA := activeShare(t, a)
	p := &attacktest.Proxy{Target: e.srv.URL}
	ps := httptest.NewServer(p)
	t.Cleanup(ps.Close)
	const typed = "24681357"
	for _, guess := range []string{"13572468", typed} {
		opened := make(chan *mpc.KeyShare, 1)
		var served atomic.Bool
		p.SetServe(func(h *wire.Hello) attacktest.Serve {
			if h.Op != wire.OpApproveDevice {
				return nil
			}
			return func(c context.Context, s *attacktest.Session, conn *wire.Conn) error {
				var start *mpc.KeyShare
				served.Store(true)
				defer func() { opened <- start }()
				nonce := make([]byte, 32)
				if err := conn.Send(c, (&wire.Welcome{WalletID: w.ID, Nonce: nonce, Active: sh.Generation, Pair: sh.Digest, Latest: w.ActiveGeneration}).Frame()); err != nil {
					return err
				}
				if _, err := conn.RecvData(c, "proof"); err != nil {
					return err
				}
				dev, sn, dn := make([]byte, 16), make([]byte, 32), make([]byte, 32)
				ci, sid := wire.ApprovalChannel(w.ID, dev, sn, dn)
				pake, msg, err := cpaceStart(guess, ci, sid)
				if err != nil {
					return err
				}
				req := &wire.ApprovalRequest{Device: dev, ServerNonce: sn, DeviceNonce: dn, Message: msg}
				if err := conn.Send(c, (&wire.Data{Kind: "approval-request", Body: req.Marshal()}).Frame()); err != nil {
					return err
				}
				d, err := conn.RecvData(c, "approval")
				if err != nil {
					return err
				}
				ap, err := wire.ParseApproval(d.Body)
				if err != nil {
					return err
				}
				isk, err := pake.Finish(ap.Message)
				if err != nil {
					return err
				}
				plain, err := wire.OpenApproval(isk, ci, sid, ap.Ciphertext)
				if err != nil {
					conn.Fail(c, &wire.Error{Code: wire.CodeApprovalFailed, Message: "the code did not match"})
					return nil
				}
				got := new(mpc.KeyShare)
				if err := got.UnmarshalBinary(plain); err != nil {
					return err
				}
				// With δ, the server would have x_A.
				delta, _ := curve.ScalarFromBytes(ap.Delta)
				got.Secret = got.Secret.Sub(delta)
				start = got
				return conn.Send(c, (&wire.Done{}).Frame())
			}
		})
		err := withURL(a, ps.URL).ApproveDevice(ctx(t), typed)
		if !served.Load() {
			t.Fatalf("the malicious server never served the approval: %v", err)
		}
		got := <-opened
		switch {
		case guess != typed && (got != nil || bridge.Code(err) != wire.CodeApprovalFailed):
			t.Fatalf("a wrong guess opened the sealed share (%v)", err)
		case guess == typed && (got == nil || err != nil || !got.Secret.Equal(xA.Secret)):
			t.Fatalf("the right guess did not open it (%v): the test shows nothing", err)
		}
	}
	mustSign(t, a, info.Address, "after the malicious server")
}

// TestApprovalAcrossReplicas: the new device's session on one replica, the
// approving device's on another, on SQLite and PostgreSQL.
func TestApprovalAcrossReplicas(t *testing.T) {
	eachDatabase(t, func(t *testing.T, c *replicas) {
		a := c.device(c.r[0].srv.URL, nil)
		info, err := keygenReady(ctx(t), a)
		if err != nil {
			t.Fatal(err)
		}
		b := c.device(c.r[1].srv.URL, nil)
		code, done := requestApproval(t, b)
		if err := a.ApproveDevice(ctx(t), code); err != nil {
			t.Fatal(err)
		}
		r := <-done
		if r.err != nil || r.info.Address != info.Address {
			t.Fatalf("joined across replicas: %+v %v", r.info, r.err)
		}
		mustSign(t, b, info.Address, "b on replica 1")
		mustSign(t, withURL(b, c.r[0].srv.URL), info.Address, "b on replica 0")
		mustSign(t, withURL(a, c.r[1].srv.URL), info.Address, "a on replica 1")
		// A wrong code across replicas fails on both sides.
		d := c.device(c.r[0].srv.URL, nil)
		code, done = requestApproval(t, d)
		if err := withURL(b, c.r[1].srv.URL).ApproveDevice(ctx(t), wrongCode(code)); bridge.Code(err) != wire.CodeApprovalFailed {
			t.Fatalf("a wrong code across replicas: %v", err)
		}
		if r := <-done; bridge.Code(r.err) != wire.CodeApprovalFailed {
			t.Fatalf("the new device after a wrong code: %v", r.err)
		}
	})
}

// TestRemovedSurvivesReload: a device removed by another, reloaded (a new
// Device over the same store), reports Removed and its operations give
// DEVICE_REMOVED, not STALE_DEVICE; joining again by approval clears it.
func TestRemovedSurvivesReload(t *testing.T) {
	e := newEnv(t)
	a := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), a)
	if err != nil {
		t.Fatal(err)
	}
	b := e.newDevice(e.srv.URL)
	code, done := requestApproval(t, b)
	if err := a.ApproveDevice(ctx(t), code); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.err != nil {
		t.Fatal(r.err)
	}
	if err := b.RemoveDevice(ctx(t), deviceOf(t, a)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Sign(ctx(t), [32]byte{1}); bridge.Code(err) != wire.CodeDeviceRemoved {
		t.Fatalf("removed device signing: %v", err)
	}
	reloaded := e.newDevice(e.srv.URL)
	reloaded.Store = a.Store
	st, err := reloaded.State(ctx(t))
	if err != nil || st == nil || !st.Removed || !st.Stale {
		t.Fatalf("reloaded removed device: %+v %v; want removed", st, err)
	}
	if _, err := reloaded.Sign(ctx(t), [32]byte{2}); bridge.Code(err) != wire.CodeDeviceRemoved {
		t.Fatalf("reloaded removed device signing: %v, want DEVICE_REMOVED", err)
	}
	if _, err := reloaded.Refresh(ctx(t)); bridge.Code(err) != wire.CodeDeviceRemoved {
		t.Fatalf("reloaded removed device refreshing: %v, want DEVICE_REMOVED", err)
	}
	if err := reloaded.ApproveDevice(ctx(t), "1234 5678"); bridge.Code(err) != wire.CodeDeviceRemoved {
		t.Fatalf("reloaded removed device approving: %v, want DEVICE_REMOVED", err)
	}
	if ready, err := reloaded.IsSigningReady(ctx(t)); err != nil || ready {
		t.Fatalf("reloaded removed device signing-ready: %v %v", ready, err)
	}
	// It joins again by approval: its new pair replaces the removed share.
	code, done = requestApproval(t, reloaded)
	if err := b.ApproveDevice(ctx(t), code); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.err != nil {
		t.Fatalf("the removed device joining again: %v", r.err)
	}
	st, err = reloaded.State(ctx(t))
	if err != nil || st.Removed || st.Stale {
		t.Fatalf("after joining again: %+v %v", st, err)
	}
	mustSign(t, reloaded, info.Address, "joined again")
}

func cpaceStart(code string, ci, sid []byte) (*cpace.Initiator, []byte, error) {
	return cpace.Start(rand.Reader, []byte(code), ci, sid)
}
