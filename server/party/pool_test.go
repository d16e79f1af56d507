package party_test

import (
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/duetwallet/duet/bridge"
	"github.com/duetwallet/duet/mpc"
	"github.com/duetwallet/duet/wire"
)

// progressLog records a device's progress events.
type progressLog struct {
	mu sync.Mutex
	ev []bridge.Progress
}

func (p *progressLog) add(e bridge.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ev = append(p.ev, e)
}

func (p *progressLog) take() []bridge.Progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.ev
	p.ev = nil
	return out
}

func has(ev []bridge.Progress, phase, protocol string) bool {
	for _, e := range ev {
		if e.Phase == phase && (protocol == "" || e.Protocol == protocol) {
			return true
		}
	}
	return false
}

// serverPool lists the ids of the server's presignatures of a generation.
func (e *env) serverPool(t *testing.T, walletID string, gen uint64) []string {
	t.Helper()
	rows, err := e.db.QueryContext(ctx(t), `SELECT id FROM presignatures WHERE wallet_id = $1 AND generation = $2 ORDER BY id`, walletID, int64(gen))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// devicePool lists the ids of the presignatures in a device's store.
func devicePool(d *bridge.Device) []string {
	var ids []string
	for k := range d.Store.(*memStore).Snapshot() {
		if id, ok := strings.CutPrefix(k, "presig/"); ok && id != "index" {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func TestAddressBeforeAuxInfo(t *testing.T) {
	e := newEnv(t)
	dev := e.newDevice(e.srv.URL)
	progress := &progressLog{}
	dev.Progress = progress.add
	info, err := dev.Keygen(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if ev := progress.take(); has(ev, "mpc", mpc.ProtocolRefresh) || has(ev, "primes", "") || !has(ev, "address", "") {
		t.Fatalf("key generation ran aux-info or missed the address: %+v", ev)
	}
	if info.Generation != 1 || !strings.HasPrefix(info.Address, "0x") {
		t.Fatalf("wallet after key generation: %+v", info)
	}
	w, err := e.store.WalletByClient(ctx(t), e.clientID)
	if err != nil || w.ActiveGeneration != 1 || w.PendingGeneration != 0 || !strings.EqualFold(w.Address, info.Address) {
		t.Fatalf("server wallet after key generation: %+v, %v", w, err)
	}
	if ready, err := dev.IsSigningReady(ctx(t)); err != nil || ready {
		t.Fatalf("signing-ready before aux-info: %v, %v", ready, err)
	}
	// The server refuses to presign with a share that has no aux info.
	h := hello(t, e, wire.OpSign, wire.Generations{Active: 1})
	h.Digest = make([]byte, 32)
	c := rawSession(t, e, h)
	if f := nextFrame(t, c); f.Type != wire.TypeWelcome {
		t.Fatalf("first frame %v, want welcome", f.Type)
	}
	wantErrorFrame(t, "sign before aux-info", nextFrame(t, c), wire.CodeNotSigningReady, "aux-info")
	if n, _ := dev.Pooled(ctx(t)); n != 0 {
		t.Fatalf("pool before aux-info: %d", n)
	}
	// A signature asked for now runs aux-info first, then signs.
	mustSign(t, dev, info.Address, "before aux-info")
	ev := progress.take()
	iAux := slices.IndexFunc(ev, func(p bridge.Progress) bool { return p.Phase == "aux" })
	iReady := slices.IndexFunc(ev, func(p bridge.Progress) bool { return p.Phase == "signingReady" })
	iPresign := slices.IndexFunc(ev, func(p bridge.Progress) bool { return p.Protocol == mpc.ProtocolPresign })
	if iAux < 0 || iReady < iAux || iPresign < iReady {
		t.Fatalf("sign before aux-info: progress %+v", ev)
	}
	if ready, err := dev.IsSigningReady(ctx(t)); err != nil || !ready {
		t.Fatalf("not signing-ready after the signature: %v, %v", ready, err)
	}
	st, err := dev.State(ctx(t))
	if err != nil || st.Generation != 2 || st.Address != info.Address {
		t.Fatalf("device after aux-info: %+v, %v", st, err)
	}
}

func TestPoolUsedOnce(t *testing.T) {
	e := newEnv(t)
	dev := e.newDevice(e.srv.URL)
	progress := &progressLog{}
	dev.Progress = progress.add
	info, err := keygenReady(ctx(t), dev)
	if err != nil {
		t.Fatal(err)
	}
	made, err := dev.FillPool(ctx(t))
	if err != nil || made != bridge.DefaultPoolSize {
		t.Fatalf("fill: made %d, %v", made, err)
	}
	if made, err := dev.FillPool(ctx(t)); err != nil || made != 0 {
		t.Fatalf("a full pool made %d more, %v", made, err)
	}
	pool := devicePool(dev)
	if srv := e.serverPool(t, info.WalletID, info.Generation); len(pool) != 3 || !slices.Equal(pool, srv) {
		t.Fatalf("pools differ: device %v, server %v", pool, srv)
	}
	progress.take()
	for i := range 3 {
		mustSign(t, dev, info.Address, "pooled "+string(rune('a'+i)))
		ev := progress.take()
		if !has(ev, "sign", "") || has(ev, "mpc", mpc.ProtocolPresign) {
			t.Fatalf("signature %d did not use the pool alone: %+v", i, ev)
		}
		left := devicePool(dev)
		if srv := e.serverPool(t, info.WalletID, info.Generation); len(left) != 2-i || !slices.Equal(left, srv) {
			t.Fatalf("after signature %d: device %v, server %v", i, left, srv)
		}
		for _, id := range left {
			if !slices.Contains(pool, id) {
				t.Fatalf("pool gained %s", id)
			}
		}
		pool = left
	}
	// An empty pool: the signature presigns inline.
	mustSign(t, dev, info.Address, "inline")
	if ev := progress.take(); !has(ev, "mpc", mpc.ProtocolPresign) {
		t.Fatalf("signature with an empty pool: %+v", ev)
	}
}

// A device whose store comes back with a presignature it already used (a
// crash that lost the deletion, a restored backup of the browser profile)
// names it again: the server has deleted its copy, so it gives no second σ
// for it, and the device signs inline.
func TestPooledPresignatureNeverReused(t *testing.T) {
	e := newEnv(t)
	dev := e.newDevice(e.srv.URL)
	progress := &progressLog{}
	dev.Progress = progress.add
	info, err := keygenReady(ctx(t), dev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dev.FillPool(ctx(t)); err != nil {
		t.Fatal(err)
	}
	st := dev.Store.(*memStore)
	saved := st.Snapshot()
	mustSign(t, dev, info.Address, "first")
	used := e.serverPool(t, info.WalletID, info.Generation)
	if len(used) != 2 {
		t.Fatalf("server pool after one signature: %v", used)
	}
	// The store as it was before the signature, as a device restored from
	// an older copy of its storage would hold it.
	for k := range st.Snapshot() {
		if _, ok := saved[k]; !ok {
			st.Delete(ctx(t), k)
		}
	}
	for k, v := range saved {
		st.Put(ctx(t), k, v)
	}
	progress.take()
	mustSign(t, dev, info.Address, "second")
	ev := progress.take()
	if !has(ev, "sign", "") || !has(ev, "mpc", mpc.ProtocolPresign) {
		t.Fatalf("a used presignature named again did not fall back to presigning inline: %+v", ev)
	}
	if srv := e.serverPool(t, info.WalletID, info.Generation); !slices.Equal(srv, used) {
		t.Fatalf("server pool %v, want %v", srv, used)
	}
	// A named presignature the server never had is refused the same way.
	h := hello(t, e, wire.OpSign, wire.Generations{Active: info.Generation})
	h.Digest, h.Presignature = make([]byte, 32), make([]byte, 32)
	c := rawSession(t, e, h)
	if f := nextFrame(t, c); f.Type != wire.TypeWelcome {
		t.Fatalf("first frame %v, want welcome", f.Type)
	}
	wantErrorFrame(t, "unknown presignature", nextFrame(t, c), wire.CodeNoPresignature, "no pooled presignature")
}

// The socket is cut at every message of a pooled signature: the
// presignature it took is gone from the device whatever the cut, never
// named again, and the next signature works.
func TestSocketCutsOfPooledSign(t *testing.T) {
	e := newEnv(t)
	target := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/v1/session"
	dev := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), dev)
	if err != nil {
		t.Fatal(err)
	}
	digest := [32]byte(crypto.Keccak256([]byte("cut")))
	// An uncut pooled signature has three messages: hello, welcome, σ.
	if _, err := dev.FillPool(ctx(t)); err != nil {
		t.Fatal(err)
	}
	probe := &cutProxy{target: target}
	ps := httptest.NewServer(probe)
	if _, err := withURL(dev, ps.URL).Sign(ctx(t), digest); err != nil {
		t.Fatal(err)
	}
	ps.Close()
	total := probe.count.Load()
	if total != 3 {
		t.Fatalf("pooled signature took %d messages", total)
	}
	var gone []string
	for n := int64(1); n <= total; n++ {
		if _, err := dev.FillPool(ctx(t)); err != nil {
			t.Fatal(err)
		}
		before := devicePool(dev)
		proxy := &cutProxy{target: target, cutAt: n}
		ps := httptest.NewServer(proxy)
		if _, err := withURL(dev, ps.URL).Sign(ctx(t), digest); err == nil {
			t.Fatalf("pooled signature cut at %d/%d succeeded", n, total)
		}
		ps.Close()
		after := devicePool(dev)
		if len(after) != len(before)-1 {
			t.Fatalf("cut at %d: device pool %v → %v", n, before, after)
		}
		for _, id := range before {
			if !slices.Contains(after, id) {
				gone = append(gone, id)
			}
		}
		mustSign(t, dev, info.Address, "after the cut")
	}
	// Whatever the server still holds of the cut signatures' presignatures
	// the device can no longer name; none of them is in the device's pool.
	for _, id := range devicePool(dev) {
		if slices.Contains(gone, id) {
			t.Fatalf("presignature %s is back in the device's pool", id)
		}
	}
}

func TestRefreshDropsThePools(t *testing.T) {
	e := newEnv(t)
	dev := e.newDevice(e.srv.URL)
	info, err := keygenReady(ctx(t), dev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dev.FillPool(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if len(devicePool(dev)) != 3 || len(e.serverPool(t, info.WalletID, info.Generation)) != 3 {
		t.Fatal("pools not filled")
	}
	next, err := dev.Refresh(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := e.db.QueryRowContext(ctx(t), `SELECT COUNT(*) FROM presignatures WHERE wallet_id = $1`, info.WalletID).Scan(&n); err != nil || n != 0 {
		t.Fatalf("server presignatures after refresh: %d, %v", n, err)
	}
	if p := devicePool(dev); len(p) != 0 {
		t.Fatalf("device presignatures after refresh: %v", p)
	}
	if _, ok := dev.Store.(*memStore).Snapshot()["presig/index"]; ok {
		t.Fatal("device pool index survived the refresh")
	}
	if c, err := dev.Pooled(ctx(t)); err != nil || c != 0 {
		t.Fatalf("pooled after refresh: %d, %v", c, err)
	}
	// The new generation fills and signs from its own pool.
	if made, err := dev.FillPool(ctx(t)); err != nil || made != 3 {
		t.Fatalf("fill after refresh: %d, %v", made, err)
	}
	if got := e.serverPool(t, info.WalletID, next.Generation); len(got) != 3 {
		t.Fatalf("server pool of generation %d: %v", next.Generation, got)
	}
	mustSign(t, dev, info.Address, "new generation")
}

// A tab closed at any message of aux-info leaves a wallet that finishes
// aux-info on the next connect and signs.
func TestAuxInfoInterrupted(t *testing.T) {
	e := newEnv(t)
	target := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/v1/session"
	newWallet := func() *bridge.Device {
		_, key, err := e.store.CreateClient(ctx(t), e.orgID)
		if err != nil {
			t.Fatal(err)
		}
		d := e.newDevice(e.srv.URL)
		d.APIKey = key
		if _, err := d.Keygen(ctx(t)); err != nil {
			t.Fatal(err)
		}
		return d
	}
	probe := &cutProxy{target: target}
	ps := httptest.NewServer(probe)
	if _, err := withURL(newWallet(), ps.URL).FinishAux(ctx(t)); err != nil {
		t.Fatal(err)
	}
	ps.Close()
	total := probe.count.Load()
	if total < 6 {
		t.Fatalf("aux-info took %d messages", total)
	}
	for n := int64(1); n <= total; n++ {
		dev := newWallet()
		st, err := dev.State(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		proxy := &cutProxy{target: target, cutAt: n}
		ps := httptest.NewServer(proxy)
		if _, err := withURL(dev, ps.URL).FinishAux(ctx(t)); err == nil && n < total {
			t.Fatalf("aux-info cut at %d/%d succeeded", n, total)
		}
		ps.Close()
		// The next connect: a new Device on the same store.
		next := withURL(dev, e.srv.URL)
		info, err := next.FinishAux(ctx(t))
		if err != nil {
			t.Fatalf("aux-info after a cut at %d/%d: %v", n, total, err)
		}
		if ready, err := next.IsSigningReady(ctx(t)); err != nil || !ready {
			t.Fatalf("cut at %d/%d: not signing-ready: %v", n, total, err)
		}
		if info != nil && info.Generation != 2 {
			t.Fatalf("cut at %d/%d: generation %d", n, total, info.Generation)
		}
		mustSign(t, next, st.Address, "after the cut")
	}
}

// The device computes nonces under the server's key when its presignature
// pool is full, and only an inline signature uses them: FillNonces finds
// nothing to make after FillPool and after a pooled signature, and all of
// them to make again after an inline one.
func TestNoncesForInlineSignature(t *testing.T) {
	// A server key of its own, so that no other test's device shares the
	// module's nonces for it.
	e := newEnvWith(t, envConfig{primes: &fixturePrimes{idx: []int{3}}})
	dev := e.newDevice(e.srv.URL)
	dev.PoolSize = 1
	info, err := keygenReady(ctx(t), dev)
	if err != nil {
		t.Fatal(err)
	}
	if made, err := dev.FillPool(ctx(t)); err != nil || made != 1 {
		t.Fatalf("fill: made %d, %v", made, err)
	}
	if n, err := dev.FillNonces(ctx(t)); err != nil || n != 0 {
		t.Fatalf("FillPool left %d nonces to make (%v)", n, err)
	}
	mustSign(t, dev, info.Address, "pooled")
	if n, err := dev.FillNonces(ctx(t)); err != nil || n != 0 {
		t.Fatalf("a pooled signature used %d nonces (%v)", n, err)
	}
	mustSign(t, dev, info.Address, "inline")
	if n, err := dev.FillNonces(ctx(t)); err != nil || n != bridge.DefaultNonces {
		t.Fatalf("an inline signature used %d nonces, want %d (%v)", n, bridge.DefaultNonces, err)
	}
	// With the nonces made again, the next inline signature uses them too.
	mustSign(t, dev, info.Address, "inline again")
	if n, err := dev.FillNonces(ctx(t)); err != nil || n != bridge.DefaultNonces {
		t.Fatalf("the second inline signature used %d nonces (%v)", n, err)
	}
}
