package e2e

import (
	"math/big"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/duetwallet/duet/internal/attacktest"
	"github.com/duetwallet/duet/mpc/curve"
	"github.com/duetwallet/duet/wire"
)

// TestAttackServerInBrowser plays a malicious server against the real SDK
// in Chromium: a man-in-the-middle in front of duetd, which also serves the
// page and the SDK so that the browser sees one origin. Each attack must
// reject with PROTOCOL_ABORT, leave the device's IndexedDB state as it was,
// and leave a wallet that signs when the same URL serves honestly again.
func TestAttackServerInBrowser(t *testing.T) {
	useServer(t)
	keys := fetchDevKeys(t)
	apiKey := createClient(t, keys.OrgAPIKey)
	proxy := &attacktest.Proxy{Target: duet.url}
	ps := httptest.NewServer(proxy)
	t.Cleanup(ps.Close)

	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, f) {
			t.FailNow()
		}
	}
	a := newProfile(t, "device")
	a.do(t, time.Minute, chromedp.Navigate(ps.URL+"/e2e.html"))
	// No background work: each attack meets the one session it is aimed at.
	if st := a.connectWith(t, apiKey, "background: false,"); st.OnDevice {
		t.Fatalf("fresh profile: device state %+v, want no wallet", st)
	}

	// attacked runs body under the tamper and checks the rejection, the
	// device state and what the device told the server.
	attacked := func(t *testing.T, tamper attacktest.Tamper, body string, secret bool) *attacktest.Session {
		t.Helper()
		before := a.deviceState(t)
		proxy.SetTamper(tamper)
		err := a.call(t, createTimeout, body, nil)
		proxy.SetTamper(nil)
		s := proxy.Last()
		if ferr := s.Err(); ferr != nil {
			t.Fatalf("forging the attack: %v", ferr)
		}
		if !s.Tampered() {
			t.Fatal("the tamper never met its message")
		}
		if err == nil || err.Code != wire.CodeProtocolAbort {
			t.Fatalf("%s: got %v, want %s", firstLine(body), err, wire.CodeProtocolAbort)
		}
		if !strings.Contains(err.Message, `"server"`) {
			t.Fatalf("the rejection %q does not name the server", err.Message)
		}
		if after := a.deviceState(t); after != before {
			t.Fatalf("device state went from %+v to %+v", before, after)
		}
		if told := s.DeviceError(); told != nil {
			if told.Code != wire.CodeProtocolAbort {
				t.Fatalf("the device told the server %v", told)
			}
			// The peer message names a check as "failed <check>".
			if secret && strings.Contains(told.Message, "failed") {
				t.Fatalf("the server learnt which check on the device's secrets failed: %q", told.Message)
			}
		} else {
			t.Logf("the device told the server nothing: the server had ended the session")
		}
		t.Logf("rejected: %v", err)
		return s
	}

	var address string
	sign := func(t *testing.T, msg string) *attacktest.Session {
		t.Helper()
		var sig string
		a.mustCall(t, sessionTimeout, `return await duet.signMessage(`+jsString(msg)+`);`, &sig)
		wantPersonalSig(t, []byte(msg), sig, address)
		return proxy.Last()
	}

	step("BitForge modulus at aux-info", func(t *testing.T) {
		// Key generation commits the address; aux-info, which the first
		// signature runs, meets the forged modulus.
		var created struct {
			Address string `json:"address"`
		}
		a.mustCall(t, createTimeout, `return await duet.createWallet();`, &created)
		address = created.Address
		m, err := attacktest.NewModulus(attacktest.ThreePrimes)
		if err != nil {
			t.Fatal(err)
		}
		attacked(t, attacktest.BitForge(m), `return await duet.signMessage('Duet e2e: attacked aux-info');`, true)
		if st := a.deviceState(t); !st.OnDevice || st.Generation != 1 {
			t.Fatalf("device after the attack: %+v, want the wallet at generation 1", st)
		}
	})

	oracle := new(attacktest.Oracle)
	step("honest aux-info", func(t *testing.T) {
		s := sign(t, "Duet e2e: before the attacks")
		sessions := proxy.Sessions()
		var aux *attacktest.Session
		for i := len(sessions) - 1; i >= 0 && aux == nil; i-- {
			if sessions[i].Hello != nil && sessions[i].Hello.Op == wire.OpRefresh {
				aux = sessions[i]
			}
		}
		if aux == nil {
			t.Fatal("no aux-info session before the signature")
		}
		if err := oracle.LearnDeviceKey(aux); err != nil {
			t.Fatal(err)
		}
		if err := oracle.LearnPresign(s); err != nil {
			t.Fatal(err)
		}
	})

	step("forged Πaff-g during signing", func(t *testing.T) {
		attacked(t, attacktest.ForgeAffg(true), `return await duet.signMessage('Duet e2e: attacked');`, false)
		sign(t, "Duet e2e: after a forged Πaff-g")
	})

	step("σ share that does not verify", func(t *testing.T) {
		attacked(t, attacktest.EditSigma(attacktest.PlusOne), `return await duet.signMessage('Duet e2e: attacked');`, true)
		sign(t, "Duet e2e: after a bad σ")
	})

	step("backup-refresh oracle", func(t *testing.T) {
		before := a.deviceState(t)
		query := func(x *big.Int) (string, error) {
			proxy.SetServe(func(h *wire.Hello) attacktest.Serve {
				if h.Op == wire.OpBackup {
					return oracle.Query(x)
				}
				return nil
			})
			defer proxy.SetServe(nil)
			err := a.call(t, sessionTimeout, `return await duet.backupWallet({ method: 'password', password: `+jsString(backupPassword)+` });`, nil)
			if err == nil || err.Code != wire.CodeProtocolAbort {
				t.Fatalf("backup under the oracle: %v, want %s", err, wire.CodeProtocolAbort)
			}
			if after := a.deviceState(t); after != before {
				t.Fatalf("device state went from %+v to %+v", before, after)
			}
			return attacktest.Reaction(proxy.Last()), nil
		}
		above, _ := query(new(big.Int))
		below, _ := query(curve.Order())
		if above != below {
			t.Fatalf("the device reacts differently to k_D − t ≥ 0 and < 0:\n  %s\n  %s", above, below)
		}
		guess, err := attacktest.Bisect(4, below, query)
		if err != nil {
			t.Fatal(err)
		}
		if oracle.Check(guess) {
			t.Fatal("the bisection found the device's nonce share")
		}
		t.Logf("reaction to every query: %s", below)
		sign(t, "Duet e2e: after the oracle")
	})
}
