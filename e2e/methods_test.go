package e2e

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	_ "modernc.org/sqlite"
)

// addPasskeyAuthenticator gives the profile Chromium's virtual WebAuthn
// authenticator: a platform authenticator (CTAP2, internal transport) with
// resident keys, user verification that succeeds, and the PRF extension.
func (p *profile) addPasskeyAuthenticator(t *testing.T) {
	t.Helper()
	p.do(t, 30*time.Second, chromedp.ActionFunc(func(ctx context.Context) error {
		if err := webauthn.Enable().WithEnableUI(false).Do(ctx); err != nil {
			return err
		}
		_, err := webauthn.AddVirtualAuthenticator(&webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Ctap2version:                webauthn.Ctap2versionCtap21,
			Transport:                   webauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			HasPrf:                      true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		}).Do(ctx)
		return err
	}))
}

// tamperCustodianShare overwrites, in duetd's database, the custodian's
// share of the wallet's backups of method with bytes that are no sealed
// share: what a broken disk or a careless operator might leave.
func tamperCustodianShare(t *testing.T, walletID, method string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(duet.data, "duet.db")+"?_pragma=busy_timeout(20000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.ExecContext(t.Context(), `UPDATE custodian_shares SET sealed = randomblob(300) WHERE wallet_id = ? AND method = ?`, walletID, method)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Fatalf("no custodian share of the %s backup of wallet %s to tamper with", method, walletID)
	}
}

type backupStatusJS struct {
	RecoveryMethods []string           `json:"recoveryMethods"`
	LastVerifiedAt  map[string]*string `json:"lastVerifiedAt"`
}

// A wallet backed up with a password, a passkey (Chromium's virtual
// authenticator with PRF) and a custom key passes the drill for each and
// recovers through each.
func TestBackupMethods(t *testing.T) {
	useServer(t)
	keys := fetchDevKeys(t)
	clientKey := createClient(t, keys.OrgAPIKey)
	// WebAuthn takes a domain as its relying party, not an IP address.
	origin := strings.Replace(duet.url, "//127.0.0.1:", "//localhost:", 1)
	const password = "drill-tested backup password"
	const customKey = `new Uint8Array(32).map((_, i) => i * 7 + 1)`
	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, f) {
			t.FailNow()
		}
	}
	a := newProfile(t, "device A")
	a.addPasskeyAuthenticator(t)
	var address, walletID string

	step("create and back up three ways", func(t *testing.T) {
		a.do(t, time.Minute, chromedp.Navigate(origin+"/e2e.html"))
		a.connect(t, clientKey)
		var w struct {
			Address string `json:"address"`
		}
		a.mustCall(t, createTimeout, `return await duet.createWallet();`, &w)
		address = w.Address
		walletID = serverWallet(t, clientKey).WalletID
		var methods []string
		a.mustCall(t, sessionTimeout, `
await duet.backupWallet({ method: 'password', password: `+jsString(password)+` });
const p = await duet.backupWallet({ method: 'passkey' });
if (p.method !== 'passkey') throw new Error('passkey backup reported ' + p.method);
await duet.backupWallet({ method: 'custom', key: `+customKey+` });
return await duet.availableRecoveryMethods();`, &methods)
		if strings.Join(methods, ",") != "custom,passkey,password" {
			t.Fatalf("recovery methods %v, want custom, passkey, password", methods)
		}
		// The passkey's key never reached the server: the one the SDK
		// remembers is the credential id, which is public.
		var remembered string
		a.mustCall(t, 30*time.Second, `return localStorage.getItem('duet:passkey-credential:' + `+jsString(walletID)+`);`, &remembered)
		if remembered == "" {
			t.Fatal("the passkey's credential id is not remembered on the device")
		}
		// The passkey backup opens with the passkey alone: a wrong custom
		// key does not open the custom one.
		a.wantCode(t, sessionTimeout, `return await duet.verifyBackup({ method: 'custom', key: new Uint8Array(32) });`, "WRONG_PASSWORD")
	})

	step("drill", func(t *testing.T) {
		var st backupStatusJS
		a.mustCall(t, time.Minute, `return await duet.getBackupStatus();`, &st)
		for _, m := range []string{"password", "passkey", "custom"} {
			if st.LastVerifiedAt[m] != nil {
				t.Fatalf("%s: lastVerifiedAt %s before any drill", m, *st.LastVerifiedAt[m])
			}
		}
		var r struct {
			Verified       bool   `json:"verified"`
			LastVerifiedAt string `json:"lastVerifiedAt"`
		}
		for _, call := range []string{
			`{ method: 'password', password: ` + jsString(password) + ` }`,
			`{ method: 'passkey' }`,
			`{ method: 'custom', key: ` + customKey + ` }`,
		} {
			a.mustCall(t, sessionTimeout, `return await duet.verifyBackup(`+call+`);`, &r)
			at, err := time.Parse(time.RFC3339, r.LastVerifiedAt)
			if !r.Verified || err != nil || time.Since(at) > time.Hour || time.Until(at) > time.Hour {
				t.Fatalf("verifyBackup(%s): %+v (%v)", call, r, err)
			}
		}
		a.mustCall(t, time.Minute, `return await duet.getBackupStatus();`, &st)
		for _, m := range []string{"password", "passkey", "custom"} {
			if st.LastVerifiedAt[m] == nil {
				t.Fatalf("%s: no lastVerifiedAt after its drill passed", m)
			}
		}
	})

	recoverOn := func(t *testing.T, p *profile, how string) {
		t.Helper()
		var w struct {
			Address string `json:"address"`
		}
		p.mustCall(t, sessionTimeout, `return await duet.recoverWallet(`+how+`);`, &w)
		if !sameAddress(w.Address, address) {
			t.Fatalf("recovered %s, want %s", w.Address, address)
		}
		msg := "recovered with " + how
		var sig string
		p.mustCall(t, sessionTimeout, `return await duet.signMessage(`+jsString(msg)+`);`, &sig)
		wantPersonalSig(t, []byte(msg), sig, address)
	}

	c := newProfile(t, "device C")
	step("recover through password and custom", func(t *testing.T) {
		b := newProfile(t, "device B")
		b.do(t, time.Minute, chromedp.Navigate(origin+"/e2e.html"))
		b.connect(t, clientKey)
		recoverOn(t, b, `{ method: 'password', password: `+jsString(password)+` }`)
		c.do(t, time.Minute, chromedp.Navigate(origin+"/e2e.html"))
		c.connect(t, clientKey)
		// app is the deprecated name of custom.
		var backed bool
		c.mustCall(t, time.Minute, `return await duet.isWalletBackedUp('app');`, &backed)
		if !backed {
			t.Fatal("isWalletBackedUp('app') is false with a custom backup")
		}
		recoverOn(t, c, `{ method: 'app', key: `+customKey+` }`)
	})

	step("recover through the passkey", func(t *testing.T) {
		// Device A's share was retired by the recoveries elsewhere; the
		// recovery replaces it. The credential id it remembered is dropped, so the passkey is
		// found as a new device finds it: discoverable, by the relying
		// party alone.
		a.do(t, time.Minute, chromedp.Navigate(origin+"/e2e.html"))
		a.mustCall(t, 30*time.Second, `localStorage.clear();`, nil)
		a.connect(t, clientKey)
		recoverOn(t, a, `{ method: 'passkey' }`)
		if st := a.deviceState(t); !st.OnDevice || !sameAddress(st.Address, address) || st.Generation < 4 {
			t.Fatalf("device A after its passkey recovery: %+v", st)
		}
	})

}

// Removing a method makes it unusable, and the drill fails clearly once the
// custodian's share of a method is tampered with in the database. A wallet
// of its own, so that the share changes stay within duetd's default limits.
func TestBackupRemovalAndBrokenDrill(t *testing.T) {
	useServer(t)
	keys := fetchDevKeys(t)
	clientKey := createClient(t, keys.OrgAPIKey)
	const password = "another drill-tested password"
	const customKey = `new Uint8Array(32).fill(42)`
	d := newProfile(t, "device D")
	d.open(t, "/e2e.html")
	d.connect(t, clientKey)
	d.mustCall(t, createTimeout, `
await duet.createWallet();
await duet.backupWallet({ method: 'password', password: `+jsString(password)+` });
await duet.backupWallet({ method: 'custom', key: `+customKey+` });
await duet.verifyBackup({ method: 'password', password: `+jsString(password)+` });`, nil)
	walletID := serverWallet(t, clientKey).WalletID

	var removed struct {
		Method string `json:"method"`
	}
	d.mustCall(t, sessionTimeout, `return await duet.removeBackupMethod('custom');`, &removed)
	if removed.Method != "custom" {
		t.Fatalf("removeBackupMethod('custom') reported %q", removed.Method)
	}
	var methods []string
	d.mustCall(t, time.Minute, `return await duet.availableRecoveryMethods();`, &methods)
	if strings.Join(methods, ",") != "password" {
		t.Fatalf("recovery methods after removing custom: %v", methods)
	}
	if st := backupStatus(t, clientKey, walletID); strings.Join(st.RecoveryMethods, ",") != "password" {
		t.Fatalf("server's recovery methods after removal: %+v", st)
	}
	d.wantCode(t, sessionTimeout, `return await duet.recoverWallet({ method: 'custom', key: `+customKey+` });`, "NOT_BACKED_UP")
	d.wantCode(t, sessionTimeout, `return await duet.verifyBackup({ method: 'custom', key: `+customKey+` });`, "NOT_BACKED_UP")

	tamperCustodianShare(t, walletID, "password")
	d.wantCode(t, sessionTimeout, `return await duet.verifyBackup({ method: 'password', password: `+jsString(password)+` });`, "BACKUP_BROKEN")
	// The wallet itself is untouched: it still signs.
	var addr string
	d.mustCall(t, time.Minute, `return duet.address;`, &addr)
	msg := "signed after a broken drill"
	var sig string
	d.mustCall(t, sessionTimeout, `return await duet.signMessage(`+jsString(msg)+`);`, &sig)
	wantPersonalSig(t, []byte(msg), sig, addr)
}
