package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/chromedp"
	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

const (
	backupPassword = "correct horse battery staple"
	// wrongPassword is long enough to pass the argument checks, so it fails
	// only where the backup does not open.
	wrongPassword = "incorrect horse battery staple"

	// Generous bounds for one step: creating a wallet makes two 1024-bit
	// safe primes in WebAssembly, on a machine that may be busy.
	createTimeout  = 15 * time.Minute
	sessionTimeout = 5 * time.Minute
)

// TestWallet walks one wallet through its life in real browsers against a
// real server: create, sign, reload, the demo page's buttons, backup, a
// wrong password, recovery on a new device, the old device locked out, and
// eject. The steps share the wallet, since creating one is the slow part,
// and stop at the first failure, since each builds on the one before.
func TestWallet(t *testing.T) {
	useServer(t)
	keys := fetchDevKeys(t)
	clientID := clientIDFromKey(t, keys.ClientAPIKey)
	started := time.Now()

	var (
		address    string // EIP-55, as the SDK reports it
		walletID   string
		generation uint64
	)
	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, f) {
			t.FailNow()
		}
	}

	a := newProfile(t, "device A")

	step("create", func(t *testing.T) {
		a.open(t, "/e2e.html")
		st := a.connect(t, keys.ClientAPIKey)
		if st.OnDevice || st.Address != "" {
			t.Fatalf("fresh profile: device state %+v, want no wallet", st)
		}
		if got := serverWallet(t, keys.ClientAPIKey); got.Exists {
			t.Fatalf("server has a wallet before createWallet: %+v", got)
		}
		a.takeProgress(t)

		var created struct {
			Address    string  `json:"address"`
			Generation uint64  `json:"generation"`
			Ms         float64 `json:"ms"`
			Ready      bool    `json:"ready"`
		}
		a.mustCall(t, createTimeout, `
const t0 = performance.now();
const w = await duet.createWallet();
return { ...w, ms: performance.now() - t0, ready: await duet.isSigningReady() };
`, &created)
		ready := created.Ready
		address, generation = created.Address, created.Generation
		t.Logf("createWallet: %.1fs in the browser, address %s", created.Ms/1000, address)
		wantChecksummed(t, address)
		if generation != 1 {
			t.Errorf("createWallet: generation %d, want 1", generation)
		}
		// The address comes before aux-info, which runs in the background.
		if ready {
			t.Error("signing-ready when createWallet resolved, before aux-info")
		}

		evs := a.takeProgress(t)
		checkCreateProgress(t, evs, address)

		// Aux-info may commit generation 2 in the background by now.
		if st := a.deviceState(t); !st.OnDevice || st.Address != address || st.Generation < generation {
			t.Errorf("deviceState after create: %+v, want %s at generation %d", st, address, generation)
		}
		w := serverWallet(t, keys.ClientAPIKey)
		if !w.Exists || !sameAddress(w.Address, address) || w.Generation < generation {
			t.Fatalf("server's wallet after create: %+v, want %s at generation %d", w, address, generation)
		}
		walletID = w.WalletID
		if addr := addressOfPublicKey(t, w.PublicKey); addr != common.HexToAddress(address) {
			t.Errorf("server's public key gives address %s, want %s", addr.Hex(), address)
		}
	})

	step("tab closed mid aux-info", func(t *testing.T) {
		// The page goes away while aux-info runs in its worker; the next
		// connect finishes it, and a signature asked for meanwhile waits
		// for it.
		a.do(t, time.Minute, chromedp.Reload())
		// The tab may have closed after the device's Ack, when the server
		// commits on its own: then the next connect activates the share it
		// holds as pending, and runs no refresh.
		committed := serverWallet(t, keys.ClientAPIKey).Generation == 2
		st := a.connect(t, keys.ClientAPIKey)
		if !st.OnDevice || st.Address != address {
			t.Fatalf("after the reload: device state %+v, want %s", st, address)
		}
		var before bool
		a.mustCall(t, 30*time.Second, `globalThis.e2e.readyEvents = 0; duet.on('signingReady', () => { globalThis.e2e.readyEvents++; }); return await duet.isSigningReady();`, &before)
		msg := "Duet e2e: signed right after create"
		var sig string
		a.mustCall(t, createTimeout, `return await duet.signMessage(`+jsString(msg)+`);`, &sig)
		wantPersonalSig(t, []byte(msg), sig, address)
		var after struct {
			Ready  bool `json:"ready"`
			Events int  `json:"events"`
		}
		a.mustCall(t, 30*time.Second, `return { ready: await duet.isSigningReady(), events: globalThis.e2e.readyEvents };`, &after)
		if !after.Ready || (!before && after.Events != 1) {
			t.Errorf("after the signature: ready %v, %d signingReady events (ready before: %v)", after.Ready, after.Events, before)
		}
		evs := a.takeProgress(t)
		if !before && !committed && !hasRound(evs, "prepareSigning", "refresh") {
			t.Errorf("no background aux-info after the reload: %+v", evs)
		}
		if !hasPhase(evs, "signMessage", "done") {
			t.Errorf("signMessage progress has no done: %+v", evs)
		}
		w := serverWallet(t, keys.ClientAPIKey)
		if st := a.deviceState(t); st.Generation != 2 || w.Generation != 2 {
			t.Fatalf("after aux-info: device %+v, server %+v, want generation 2", st, w)
		}
		generation = 2
	})

	step("sign", func(t *testing.T) {
		msg := "Duet e2e: signed after aux-info"
		var sig string
		a.mustCall(t, sessionTimeout, `return await duet.signMessage(`+jsString(msg)+`);`, &sig)
		wantPersonalSig(t, []byte(msg), sig, address)
		evs := a.takeProgress(t)
		if !hasPhase(evs, "signMessage", "done") {
			t.Errorf("signMessage progress has no done: %+v", evs)
		}

		// The EIP-1193 path, as a dapp would call it; 0x hex is signed as bytes.
		raw := []byte{0xde, 0xad, 0xbe, 0xef, 0x00, 0x01}
		a.mustCall(t, sessionTimeout, `return await duet.provider.request({ method: 'personal_sign', params: [`+
			jsString("0x"+hex.EncodeToString(raw))+`, duet.address] });`, &sig)
		wantPersonalSig(t, raw, sig, address)

		// A raw digest, signed as given.
		digest := make([]byte, 32)
		rand.Read(digest)
		var ds struct {
			R, S      string
			YParity   int
			Signature string
		}
		a.mustCall(t, sessionTimeout, `return await duet.signDigest(`+jsString("0x"+hex.EncodeToString(digest))+`);`, &ds)
		sigBytes := wantDigestSig(t, digest, ds.Signature, address)
		if ds.R != "0x"+hex.EncodeToString(sigBytes[:32]) || ds.S != "0x"+hex.EncodeToString(sigBytes[32:64]) || ds.YParity != int(sigBytes[64]-27) {
			t.Errorf("signDigest: r, s, yParity = %s, %s, %d do not match signature %s", ds.R, ds.S, ds.YParity, ds.Signature)
		}
	})

	step("reload keeps the wallet", func(t *testing.T) {
		a.do(t, time.Minute, chromedp.Reload())
		st := a.connect(t, keys.ClientAPIKey)
		if !st.OnDevice || st.Address != address || st.Generation != generation {
			t.Fatalf("after reload: device state %+v, want %s at generation %d", st, address, generation)
		}
		msg := "Duet e2e: signed after a reload"
		var sig string
		a.mustCall(t, sessionTimeout, `return await duet.signMessage(`+jsString(msg)+`);`, &sig)
		wantPersonalSig(t, []byte(msg), sig, address)
	})

	step("demo page signs and backs up", func(t *testing.T) {
		a.open(t, "/")
		// With nothing in localStorage, the page connects as the dev client.
		a.waitFor(t, 3*time.Minute, "the demo page to connect", pageIdle)
		wantNoPageError(t, a)
		if got := a.text(t, "wallet-on-device"); got != "yes" {
			t.Fatalf("#wallet-on-device = %q, want yes", got)
		}
		if got := a.text(t, "address"); got != address {
			t.Fatalf("#address = %q, want %s", got, address)
		}

		msg := "Duet e2e: signed from the demo page"
		a.do(t, 30*time.Second, chromedp.SetValue("#sign-message", msg, chromedp.ByQuery), chromedp.Click("#sign", chromedp.ByQuery))
		// The demo page has no signature hook: the SDK's confirmation asks.
		a.do(t, time.Minute, chromedp.Click("dialog.duet-approval .duet-approval-approve", chromedp.ByQuery))
		a.waitFor(t, sessionTimeout, "the signature", pageIdle+` && (document.getElementById('signature').textContent !== '' || !document.getElementById('error').hidden)`)
		wantNoPageError(t, a)
		wantPersonalSig(t, []byte(msg), a.text(t, "signature"), address)
		var log []string
		a.do(t, 30*time.Second, chromedp.Evaluate(`[...document.querySelectorAll('#log li')].map((li) => li.textContent)`, &log))
		// Inline presigning, or a pooled presignature the page's background
		// work made.
		presign := regexp.MustCompile(`^signMessage: (Preparing the signature with the server \(round \d+\)|Signing together with the server)$`)
		if !slices.ContainsFunc(log, presign.MatchString) {
			t.Errorf("#log shows neither a presign round nor a pooled presignature of signMessage: %q", log)
		}

		if got := a.text(t, "wallet-backups"); got != "none" {
			t.Fatalf("#wallet-backups before backup = %q, want none", got)
		}
		begin := time.Now()
		a.do(t, 30*time.Second, chromedp.SetValue("#backup-password", backupPassword, chromedp.ByQuery), chromedp.Click("#backup", chromedp.ByQuery))
		a.waitFor(t, sessionTimeout, "the backup", pageIdle+` && (document.getElementById('wallet-backups').textContent !== 'none' || !document.getElementById('error').hidden)`)
		wantNoPageError(t, a)
		t.Logf("backup from the demo page: %.1fs", time.Since(begin).Seconds())
		if got := a.text(t, "wallet-backups"); got != "password" {
			t.Errorf("#wallet-backups after backup = %q, want password", got)
		}
		b := backupStatus(t, keys.ClientAPIKey, walletID)
		if !b.BackedUp || !slices.Equal(b.RecoveryMethods, []string{"password"}) || b.EjectAuthorized {
			t.Errorf("server's backup status: %+v, want backed up with password, eject not authorised", b)
		}
		if w := serverWallet(t, keys.ClientAPIKey); w.Generation != generation {
			t.Errorf("backup moved the server to generation %d, want %d", w.Generation, generation)
		}
	})

	step("wrong password changes nothing", func(t *testing.T) {
		a.open(t, "/e2e.html")
		before := a.connect(t, keys.ClientAPIKey)
		a.wantCode(t, sessionTimeout, `return await duet.recoverWallet({ method: 'password', password: `+jsString(wrongPassword)+` });`, "WRONG_PASSWORD")
		if st := a.deviceState(t); st != before {
			t.Errorf("device state after a wrong password: %+v, want %+v", st, before)
		}
		if w := serverWallet(t, keys.ClientAPIKey); w.Generation != generation || w.PendingGeneration != 0 {
			t.Errorf("server after a wrong password: %+v, want generation %d and nothing pending", w, generation)
		}
		msg := "Duet e2e: still signs after a wrong password"
		var sig string
		a.mustCall(t, sessionTimeout, `return await duet.signMessage(`+jsString(msg)+`);`, &sig)
		wantPersonalSig(t, []byte(msg), sig, address)
	})

	b := newProfile(t, "device B")

	step("recover on a new device", func(t *testing.T) {
		b.open(t, "/e2e.html")
		st := b.connect(t, keys.ClientAPIKey)
		if st.OnDevice {
			t.Fatalf("new profile: device state %+v, want no wallet", st)
		}
		var methods []string
		b.mustCall(t, time.Minute, `return await duet.availableRecoveryMethods();`, &methods)
		if !slices.Equal(methods, []string{"password"}) {
			t.Fatalf("availableRecoveryMethods = %q, want [password]", methods)
		}

		b.wantCode(t, sessionTimeout, `return await duet.recoverWallet({ method: 'password', password: `+jsString(wrongPassword)+` });`, "WRONG_PASSWORD")
		if st := b.deviceState(t); st.OnDevice {
			t.Fatalf("a wrong password left a share on the new device: %+v", st)
		}
		if w := serverWallet(t, keys.ClientAPIKey); w.Generation != generation {
			t.Fatalf("a wrong password moved the server to generation %d, want %d", w.Generation, generation)
		}
		b.takeProgress(t)

		var rec struct {
			Address    string  `json:"address"`
			Generation uint64  `json:"generation"`
			Ms         float64 `json:"ms"`
		}
		b.mustCall(t, createTimeout, `
const t0 = performance.now();
const w = await duet.recoverWallet({ method: 'password', password: `+jsString(backupPassword)+` });
return { ...w, ms: performance.now() - t0 };
`, &rec)
		t.Logf("recoverWallet: %.1fs in the browser", rec.Ms/1000)
		if rec.Address != address {
			t.Fatalf("recovered address %s, want %s", rec.Address, address)
		}
		if rec.Generation != generation+1 {
			t.Errorf("recovered generation %d, want %d", rec.Generation, generation+1)
		}
		evs := b.takeProgress(t)
		for _, phase := range []string{"decrypting", "commit", "done"} {
			if !hasPhase(evs, "recoverWallet", phase) {
				t.Errorf("recoverWallet progress has no %s phase: %+v", phase, evs)
			}
		}
		if !hasRound(evs, "recoverWallet", "refresh") {
			t.Errorf("recoverWallet progress has no refresh round: %+v", evs)
		}
		generation = rec.Generation
		if w := serverWallet(t, keys.ClientAPIKey); w.Generation != generation || !sameAddress(w.Address, address) {
			t.Fatalf("server after recovery: %+v, want %s at generation %d", w, address, generation)
		}

		msg := "Duet e2e: signed on the recovered device"
		var sig string
		b.mustCall(t, sessionTimeout, `return await duet.signMessage(`+jsString(msg)+`);`, &sig)
		wantPersonalSig(t, []byte(msg), sig, address)
	})

	step("old device no longer signs", func(t *testing.T) {
		a.open(t, "/e2e.html")
		// The old device learns of the recovery only from the server.
		if st := a.connectWith(t, keys.ClientAPIKey, "background: false,"); !st.OnDevice || st.Generation != generation-1 {
			t.Fatalf("old device before contacting the server: %+v, want its share of generation %d", st, generation-1)
		}
		// The recovery retired every other device's pair: the server holds
		// none of this device's.
		a.wantCode(t, sessionTimeout, `return await duet.signMessage('Duet e2e: must not sign');`, "DEVICE_REMOVED")
		// The server's word does not delete the share: it is kept, stale,
		// until a recovery on this device replaces it.
		if st := a.deviceState(t); !st.OnDevice || !st.Stale || !st.Removed || st.Generation != generation-1 {
			t.Errorf("old device after the server retired its pair: %+v, want its share of generation %d kept, stale and removed", st, generation-1)
		}
		// Asked again, the device refuses its stale share itself, and the
		// SDK still says why.
		a.wantCode(t, sessionTimeout, `return await duet.signMessage('Duet e2e: must not sign either');`, "DEVICE_REMOVED")
		var life struct {
			OnDevice bool `json:"onDevice"`
			Ready    bool `json:"ready"`
		}
		a.mustCall(t, time.Minute, `return { onDevice: duet.isWalletOnDevice(), ready: await duet.isSigningReady() };`, &life)
		if life.OnDevice || life.Ready {
			t.Errorf("old device: isWalletOnDevice %v, isSigningReady %v; want both false", life.OnDevice, life.Ready)
		}
		var accounts []string
		a.mustCall(t, time.Minute, `return await duet.provider.request({ method: 'eth_accounts' });`, &accounts)
		if len(accounts) != 0 {
			t.Errorf("old device: eth_accounts = %q, want none", accounts)
		}
		if w := serverWallet(t, keys.ClientAPIKey); w.Generation != generation {
			t.Errorf("the old device's attempt moved the server to generation %d, want %d", w.Generation, generation)
		}
	})

	step("old device recovers over its retired share", func(t *testing.T) {
		generation = recoverOn(t, a, keys.ClientAPIKey, address, generation)
		if st := a.deviceState(t); !st.OnDevice || st.Stale || st.Generation != generation {
			t.Errorf("old device after recovery: %+v, want generation %d, not stale", st, generation)
		}
		msg := "Duet e2e: signed over a replaced share"
		var sig string
		a.mustCall(t, sessionTimeout, `return await duet.signMessage(`+jsString(msg)+`);`, &sig)
		wantPersonalSig(t, []byte(msg), sig, address)
		b.wantCode(t, sessionTimeout, `return await duet.signMessage('Duet e2e: retired in turn');`, "DEVICE_REMOVED")
	})

	step("lifecycle queries reject when the server is unreachable", func(t *testing.T) {
		queries := []string{"doesWalletExist", "isWalletBackedUp", "isWalletRecoverable", "availableRecoveryMethods", "isSigningReady"}
		unreachable := a.refuseRequests(t, "*/v1/wallet*")
		for _, q := range queries {
			a.wantCode(t, time.Minute, `return await duet.`+q+`();`, "NETWORK")
		}
		unreachable()
		var got []any
		a.mustCall(t, time.Minute, `return [await duet.doesWalletExist(), await duet.isWalletBackedUp(), await duet.isWalletRecoverable(), await duet.availableRecoveryMethods(), await duet.isSigningReady()];`, &got)
		if fmt.Sprint(got) != "[true true true [password] true]" {
			t.Errorf("lifecycle queries with the server back: %v, want [true true true [password] true]", got)
		}
	})

	step("two tabs: signing at once, changing shares at once", func(t *testing.T) {
		a2 := a.newTab(t)
		a2.open(t, "/e2e.html")
		if st := a2.connect(t, keys.ClientAPIKey); !st.OnDevice || st.Generation != generation {
			t.Fatalf("second tab: %+v, want the wallet at generation %d", st, generation)
		}
		sigs := make([]string, 2)
		errs := make([]*jsError, 2)
		done := make(chan int, 2)
		for i, p := range []*profile{a, a2} {
			go func() {
				defer func() { done <- i }()
				errs[i] = p.call(t, sessionTimeout, `return await duet.signMessage('Duet e2e: tab `+fmt.Sprint(i)+`');`, &sigs[i])
			}()
		}
		<-done
		<-done
		for i := range sigs {
			if errs[i] != nil {
				t.Fatalf("tab %d: %v", i, errs[i])
			}
			wantPersonalSig(t, []byte("Duet e2e: tab "+fmt.Sprint(i)), sigs[i], address)
		}

		// Two share changes at once: one refreshes, the other is refused
		// with BUSY, and both tabs sign with the one pair that results.
		var refreshed [2]struct {
			Generation uint64 `json:"generation"`
		}
		for i, p := range []*profile{a, a2} {
			go func() {
				defer func() { done <- i }()
				errs[i] = p.call(t, createTimeout, `return await duet.refreshWallet();`, &refreshed[i])
			}()
		}
		<-done
		<-done
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner == -1:
				winner = i
			case err == nil:
				t.Fatal("both tabs refreshed at once")
			case err.Code != "BUSY":
				t.Fatalf("tab %d: refresh failed with %v, want BUSY for the one that lost", i, err)
			}
		}
		if winner == -1 {
			t.Fatal("neither tab refreshed")
		}
		generation++
		if refreshed[winner].Generation != generation {
			t.Errorf("refresh gave generation %d, want %d", refreshed[winner].Generation, generation)
		}
		if w := serverWallet(t, keys.ClientAPIKey); w.Generation != generation || w.PendingGeneration != 0 {
			t.Fatalf("server after two refreshes at once: %+v, want generation %d, nothing pending", w, generation)
		}
		for i, p := range []*profile{a, a2} {
			msg := "Duet e2e: tab " + fmt.Sprint(i) + " after the refresh"
			var sig string
			p.mustCall(t, sessionTimeout, `return await duet.signMessage(`+jsString(msg)+`);`, &sig)
			wantPersonalSig(t, []byte(msg), sig, address)
		}
	})

	step("eject after authorisation", func(t *testing.T) {
		eject := `return await duet.ejectPrivateKey({ method: 'password', password: %s });`
		b.wantCode(t, sessionTimeout, fmt.Sprintf(eject, jsString(backupPassword)), "EJECT_NOT_AUTHORIZED")

		authorizeEject(t, keys.OrgAPIKey, clientID)
		if st := backupStatus(t, keys.ClientAPIKey, walletID); !st.EjectAuthorized {
			t.Fatalf("backup status after authorisation: %+v, want eject authorised", st)
		}

		b.wantCode(t, sessionTimeout, fmt.Sprintf(eject, jsString(wrongPassword)), "WRONG_PASSWORD")
		var key string
		b.mustCall(t, sessionTimeout, fmt.Sprintf(eject, jsString(backupPassword)), &key)
		priv, err := crypto.HexToECDSA(strings.TrimPrefix(key, "0x"))
		if err != nil {
			t.Fatalf("ejected key %d chars: %v", len(key), err)
		}
		if got := crypto.PubkeyToAddress(priv.PublicKey); got != common.HexToAddress(address) {
			t.Fatalf("ejected key's address %s, want %s", got.Hex(), address)
		}
		w := serverWallet(t, keys.ClientAPIKey)
		if addr := addressOfPublicKey(t, w.PublicKey); addr != crypto.PubkeyToAddress(priv.PublicKey) {
			t.Errorf("ejected key does not match the server's public key")
		}
		// The key signs on its own, as any Ethereum key does.
		digest := crypto.Keccak256([]byte("Duet e2e: signed with the ejected key"))
		sig, err := crypto.Sign(digest, priv)
		if err != nil {
			t.Fatal(err)
		}
		wantDigestSig(t, digest, "0x"+hex.EncodeToString(append(sig[:64], sig[64]+27)), address)
	})

	step("cleared site data: not on this device, recoverable", func(t *testing.T) {
		// Cleared while the page is open: the worker's database is closed
		// under it, and the next operation finds a new, empty one.
		b.open(t, "/e2e.html")
		b.connect(t, keys.ClientAPIKey)
		b.do(t, time.Minute, storage.ClearDataForOrigin(duet.url, "all"))
		if st := b.deviceState(t); st.OnDevice || st.Address != "" {
			t.Fatalf("after clearing site data: %+v, want no share", st)
		}
		var life struct {
			OnDevice    bool `json:"onDevice"`
			Exists      bool `json:"exists"`
			Recoverable bool `json:"recoverable"`
			Ready       bool `json:"ready"`
			Persisted   any  `json:"persisted"`
		}
		b.mustCall(t, time.Minute, `return { onDevice: duet.isWalletOnDevice(), exists: await duet.doesWalletExist(), recoverable: await duet.isWalletRecoverable(), ready: await duet.isSigningReady(), persisted: await duet.storagePersisted() };`, &life)
		if life.OnDevice || !life.Exists || !life.Recoverable || life.Ready {
			t.Fatalf("after clearing site data: %+v, want not on this device, existing, recoverable, not ready", life)
		}
		if _, ok := life.Persisted.(bool); !ok {
			t.Errorf("storagePersisted() = %v, want Chromium's answer, a boolean", life.Persisted)
		}
		generation = recoverOn(t, b, keys.ClientAPIKey, address, generation)
		msg := "Duet e2e: signed after clearing site data"
		var sig string
		b.mustCall(t, sessionTimeout, `return await duet.signMessage(`+jsString(msg)+`);`, &sig)
		wantPersonalSig(t, []byte(msg), sig, address)

		// What the recovery stored opens after a reload.
		b.open(t, "/e2e.html")
		if st := b.connect(t, keys.ClientAPIKey); !st.OnDevice || st.Generation != generation {
			t.Fatalf("after a reload: %+v, want the recovered share of generation %d", st, generation)
		}
		msg = "Duet e2e: signed after a reload"
		b.mustCall(t, sessionTimeout, `return await duet.signMessage(`+jsString(msg)+`);`, &sig)
		wantPersonalSig(t, []byte(msg), sig, address)
	})

	t.Logf("whole flow: %.1fs", time.Since(started).Seconds())
}

// recoverOn recovers the wallet with the backup password on profile p,
// connected, and checks the server moved to the next generation, which it
// returns.
func recoverOn(t *testing.T, p *profile, apiKey, address string, generation uint64) uint64 {
	t.Helper()
	var rec struct {
		Address    string `json:"address"`
		Generation uint64 `json:"generation"`
	}
	p.mustCall(t, createTimeout, `return await duet.recoverWallet({ method: 'password', password: `+jsString(backupPassword)+` });`, &rec)
	if rec.Address != address || rec.Generation != generation+1 {
		t.Fatalf("recovered %+v, want %s at generation %d", rec, address, generation+1)
	}
	if w := serverWallet(t, apiKey); w.Generation != rec.Generation {
		t.Fatalf("server after recovery: generation %d, want %d", w.Generation, rec.Generation)
	}
	return rec.Generation
}

// pageIdle is true when the demo page has finished its last action.
const pageIdle = `(document.body.getAttribute('aria-busy') === 'false' && ['ready', 'error'].includes(document.getElementById('status').dataset.state))`

func wantNoPageError(t *testing.T, p *profile) {
	t.Helper()
	var shown struct {
		Hidden bool   `json:"hidden"`
		Text   string `json:"text"`
		State  string `json:"state"`
	}
	p.do(t, 30*time.Second, chromedp.Evaluate(`({ hidden: document.getElementById('error').hidden, text: document.getElementById('error').textContent, state: document.getElementById('status').dataset.state })`, &shown))
	if !shown.Hidden || shown.State != "ready" {
		t.Fatalf("demo page shows an error (status %s): %s", shown.State, shown.Text)
	}
}

// checkCreateProgress checks the events of createWallet: each phase the
// device module reports, rounds of both protocols, and the address once key
// generation has it.
func checkCreateProgress(t *testing.T, evs []progressEvent, address string) {
	t.Helper()
	for _, phase := range []string{"connecting", "mpc", "address", "commit", "done"} {
		if !hasPhase(evs, "createWallet", phase) {
			t.Errorf("createWallet progress has no %s phase: %+v", phase, evs)
		}
	}
	if !hasRound(evs, "createWallet", "keygen") {
		t.Errorf("createWallet progress has no keygen round: %+v", evs)
	}
	// Address first: no prime search and no aux-info before it resolves.
	if hasRound(evs, "createWallet", "refresh") || hasPhase(evs, "createWallet", "primes") {
		t.Errorf("createWallet waited for aux-info: %+v", evs)
	}
	var connectAt, addressAt, doneAt float64
	for _, ev := range evs {
		switch ev.Operation + "/" + ev.Phase {
		case "createWallet/connecting":
			connectAt = ev.At
		case "createWallet/address":
			addressAt = ev.At
			if ev.Detail != address {
				t.Errorf("address event says %q, want %s", ev.Detail, address)
			}
		case "createWallet/done":
			doneAt = ev.At
		}
	}
	t.Logf("createWallet in the browser: key generation and commit %.3fs, address to done %.3fs",
		(addressAt-connectAt)/1000, (doneAt-addressAt)/1000)
}

func hasPhase(evs []progressEvent, op, phase string) bool {
	return slices.ContainsFunc(evs, func(e progressEvent) bool { return e.Operation == op && e.Phase == phase })
}

func hasRound(evs []progressEvent, op, protocol string) bool {
	return slices.ContainsFunc(evs, func(e progressEvent) bool {
		return e.Operation == op && e.Phase == "mpc" && e.Protocol == protocol && e.Round > 0
	})
}

// wantChecksummed fails unless address is a 20-byte address in EIP-55 form.
func wantChecksummed(t *testing.T, address string) {
	t.Helper()
	if !common.IsHexAddress(address) || common.HexToAddress(address).Hex() != address {
		t.Errorf("address %q is not EIP-55 checksummed", address)
	}
}

func sameAddress(a, b string) bool {
	return common.IsHexAddress(a) && common.IsHexAddress(b) && common.HexToAddress(a) == common.HexToAddress(b)
}

// wantPersonalSig checks an EIP-191 signature of message by address, as a
// dapp or a contract's ecrecover would.
func wantPersonalSig(t *testing.T, message []byte, sigHex, address string) {
	t.Helper()
	wantDigestSig(t, accounts.TextHash(message), sigHex, address)
}

// wantDigestSig checks a 65-byte r‖s‖v signature (v = 27 or 28) of digest
// by address, and that s is low as Ethereum requires. It returns the
// signature's bytes.
func wantDigestSig(t *testing.T, digest []byte, sigHex, address string) []byte {
	t.Helper()
	sig, err := hex.DecodeString(strings.TrimPrefix(sigHex, "0x"))
	if err != nil || len(sig) != 65 || !strings.HasPrefix(sigHex, "0x") {
		t.Fatalf("signature %q: want 0x and 65 bytes of hex", sigHex)
	}
	if v := sig[64]; v != 27 && v != 28 {
		t.Fatalf("signature v = %d, want 27 or 28", v)
	}
	rsv := bytes.Clone(sig)
	rsv[64] -= 27
	if !crypto.ValidateSignatureValues(rsv[64], new(big.Int).SetBytes(rsv[:32]), new(big.Int).SetBytes(rsv[32:64]), true) {
		t.Errorf("signature %s has r, s out of range or high s", sigHex)
	}
	pub, err := crypto.SigToPub(digest, rsv)
	if err != nil {
		t.Fatalf("recovering the signer of %s: %v", sigHex, err)
	}
	if got := crypto.PubkeyToAddress(*pub); got != common.HexToAddress(address) {
		t.Fatalf("signature recovers to %s, want %s", got.Hex(), address)
	}
	return sig
}

// addressOfPublicKey is the address of a SEC 1 public key in hex, as the
// server reports it.
func addressOfPublicKey(t *testing.T, pubHex string) common.Address {
	t.Helper()
	b, err := hex.DecodeString(pubHex)
	if err != nil {
		t.Fatalf("public key %q: %v", pubHex, err)
	}
	var pub *ecdsa.PublicKey
	switch len(b) {
	case 33:
		pub, err = crypto.DecompressPubkey(b)
	default:
		pub, err = crypto.UnmarshalPubkey(b)
	}
	if err != nil {
		t.Fatalf("public key %q: %v", pubHex, err)
	}
	return crypto.PubkeyToAddress(*pub)
}

// The server's HTTP API, as the organization's backend and the SDK see it.

type walletInfo struct {
	Exists            bool   `json:"exists"`
	WalletID          string `json:"walletId"`
	Address           string `json:"address"`
	PublicKey         string `json:"publicKey"`
	Generation        uint64 `json:"generation"`
	PendingGeneration uint64 `json:"pendingGeneration"`
}

type backupInfo struct {
	WalletID        string   `json:"walletId"`
	BackedUp        bool     `json:"backedUp"`
	RecoveryMethods []string `json:"recoveryMethods"`
	EjectAuthorized bool     `json:"ejectAuthorized"`
}

func fetchDevKeys(t *testing.T) devKeys {
	t.Helper()
	var served map[string]string
	apiCall(t, http.MethodGet, "/dev/client-key", "", http.StatusOK, &served)
	b, err := os.ReadFile(filepath.Join(duet.data, "dev-keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	var k devKeys
	if err := json.Unmarshal(b, &k); err != nil {
		t.Fatalf("dev-keys.json: %v", err)
	}
	if k.ClientAPIKey == "" || k.OrgAPIKey == "" {
		t.Fatalf("dev-keys.json holds %d and %d characters of keys, want both", len(k.ClientAPIKey), len(k.OrgAPIKey))
	}
	if len(served) != 1 || served["clientApiKey"] != k.ClientAPIKey {
		t.Fatalf("GET /dev/client-key serves %d fields, want the demo client key alone", len(served))
	}
	return k
}

var clientKeyPattern = regexp.MustCompile(`^duet_cli_([0-9a-f]{32})_[A-Za-z0-9_-]+$`)

// clientIDFromKey reads the client id inside a client API key, as the SDK's
// clientIdFromApiKey does.
func clientIDFromKey(t *testing.T, key string) string {
	t.Helper()
	m := clientKeyPattern.FindStringSubmatch(key)
	if m == nil {
		t.Fatalf("client API key %.12s… does not have the form duet_cli_<id>_<secret>", key)
	}
	return m[1]
}

func serverWallet(t *testing.T, clientKey string) walletInfo {
	t.Helper()
	var w walletInfo
	apiCall(t, http.MethodGet, "/v1/wallet", clientKey, http.StatusOK, &w)
	return w
}

func backupStatus(t *testing.T, clientKey, walletID string) backupInfo {
	t.Helper()
	var b backupInfo
	apiCall(t, http.MethodGet, "/v1/wallets/"+walletID+"/backup", clientKey, http.StatusOK, &b)
	return b
}

// authorizeEject is the organization's backend letting the client eject.
func authorizeEject(t *testing.T, orgKey, clientID string) {
	t.Helper()
	var r struct {
		ClientID        string `json:"clientId"`
		EjectAuthorized bool   `json:"ejectAuthorized"`
	}
	apiCall(t, http.MethodPost, "/v1/clients/"+clientID+"/eject", orgKey, http.StatusOK, &r)
	if r.ClientID != clientID || !r.EjectAuthorized {
		t.Fatalf("POST /v1/clients/%s/eject: %+v", clientID, r)
	}
}

func apiCall(t *testing.T, method, path, key string, wantStatus int, out any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, duet.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	client := &http.Client{Timeout: time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, wantStatus, body.Bytes())
	}
	if err := json.Unmarshal(body.Bytes(), out); err != nil {
		t.Fatalf("%s %s: %v: %s", method, path, err, body.Bytes())
	}
}
