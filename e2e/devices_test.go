package e2e

import (
	"fmt"
	"regexp"
	"testing"
	"time"
)

// deviceJS is one entry of duet.listDevices().
type deviceJS struct {
	ID         string  `json:"id"`
	CreatedAt  string  `json:"createdAt"`
	LastUsedAt *string `json:"lastUsedAt"`
	Current    bool    `json:"current"`
}

// deviceIDPattern is a device id in hex: 16 bytes (wire.DeviceIDSize).
var deviceIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// listDevices returns p's duet.listDevices(), checking each entry's form
// and that exactly one is the current device.
func (p *profile) listDevices(t *testing.T) []deviceJS {
	t.Helper()
	var list []deviceJS
	p.mustCall(t, sessionTimeout, `return await duet.listDevices();`, &list)
	current := 0
	for _, d := range list {
		if !deviceIDPattern.MatchString(d.ID) {
			t.Fatalf("%s: device id %q is not hex", p.name, d.ID)
		}
		if _, err := time.Parse(time.RFC3339, d.CreatedAt); err != nil {
			t.Fatalf("%s: device %s: createdAt %q: %v", p.name, d.ID, d.CreatedAt, err)
		}
		if d.LastUsedAt != nil {
			if _, err := time.Parse(time.RFC3339, *d.LastUsedAt); err != nil {
				t.Fatalf("%s: device %s: lastUsedAt %q: %v", p.name, d.ID, *d.LastUsedAt, err)
			}
		}
		if d.Current {
			current++
		}
	}
	if current != 1 {
		t.Fatalf("%s: listDevices marks %d devices current, want 1: %+v", p.name, current, list)
	}
	return list
}

// deviceIDs returns the ids of list, the current one first.
func deviceIDs(list []deviceJS) (current string, others []string) {
	for _, d := range list {
		if d.Current {
			current = d.ID
		} else {
			others = append(others, d.ID)
		}
	}
	return current, others
}

// signOn has p sign msg and checks the signature is the wallet's.
func signOn(t *testing.T, p *profile, msg, address string) {
	t.Helper()
	var sig string
	p.mustCall(t, sessionTimeout, `return await duet.signMessage(`+jsString(msg)+`);`, &sig)
	wantPersonalSig(t, []byte(msg), sig, address)
}

// lifecycle is what a device's SDK reports about the wallet.
type lifecycle struct {
	OnDevice    bool   `json:"onDevice"`
	Address     string `json:"address"`
	HasShare    bool   `json:"hasShare"`
	Removed     bool   `json:"removed"`
	Stale       bool   `json:"stale"`
	Recoverable bool   `json:"recoverable"`
	Ready       bool   `json:"ready"`
}

func (p *profile) lifecycle(t *testing.T) lifecycle {
	t.Helper()
	var l lifecycle
	p.mustCall(t, time.Minute, `
const s = await duet.deviceState();
return { onDevice: duet.isWalletOnDevice(), address: duet.address ?? '', hasShare: s.hasShare, removed: s.removed, stale: s.stale,
  recoverable: await duet.isWalletRecoverable(), ready: await duet.isSigningReady() };`, &l)
	return l
}

// One wallet on two devices, each a browser profile of its own: the second
// is added through the password backup and both sign; listDevices shows
// both; removing one stops it (its next session is refused with
// DEVICE_REMOVED and it reports the wallet not on the device, recoverable)
// while the other still signs; the removed device is added again, and a
// device that removes itself deletes its share; a recovery on a third
// device retires the others, and a device added after it signs beside it.
// A wallet of its own, so that its share changes stay within duetd's
// limits.
func TestDevices(t *testing.T) {
	useServer(t)
	keys := fetchDevKeys(t)
	clientKey := createClient(t, keys.OrgAPIKey)
	const password = "a password for two devices"
	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, f) {
			t.FailNow()
		}
	}
	a := newProfile(t, "device A")
	b := newProfile(t, "device B")
	var address, idA, idB string

	step("create on A and back up", func(t *testing.T) {
		a.open(t, "/e2e.html")
		a.connect(t, clientKey)
		var w struct {
			Address  string `json:"address"`
			DeviceID string `json:"deviceId"`
		}
		a.mustCall(t, createTimeout, `
const w = await duet.createWallet();
await duet.backupWallet({ method: 'password', password: `+jsString(password)+` });
return { address: w.address, deviceId: (await duet.deviceState()).deviceId };`, &w)
		address = w.Address
		list := a.listDevices(t)
		if len(list) != 1 {
			t.Fatalf("a new wallet lists %d devices, want 1: %+v", len(list), list)
		}
		idA = list[0].ID
		if w.DeviceID != "" && w.DeviceID != idA {
			t.Errorf("deviceState names device %s, listDevices %s", w.DeviceID, idA)
		}
	})

	step("add B through the backup", func(t *testing.T) {
		b.open(t, "/e2e.html")
		if st := b.connect(t, clientKey); st.OnDevice {
			t.Fatalf("device B before addDevice: %+v, want no wallet", st)
		}
		b.wantCode(t, sessionTimeout, `return await duet.addDevice({ method: 'password', password: 'not the password' });`, "WRONG_PASSWORD")
		if l := b.lifecycle(t); l.HasShare || l.OnDevice {
			t.Fatalf("a wrong password left a share on device B: %+v", l)
		}
		var added struct {
			Address  string `json:"address"`
			DeviceID string `json:"deviceId"`
		}
		b.mustCall(t, createTimeout, `return await duet.addDevice({ method: 'password', password: `+jsString(password)+` });`, &added)
		if !sameAddress(added.Address, address) {
			t.Fatalf("addDevice gave address %s, want %s", added.Address, address)
		}
		if !deviceIDPattern.MatchString(added.DeviceID) || added.DeviceID == idA {
			t.Fatalf("addDevice gave device id %q (device A is %s)", added.DeviceID, idA)
		}
		idB = added.DeviceID
		if l := b.lifecycle(t); !l.OnDevice || !sameAddress(l.Address, address) || l.Removed || l.Stale {
			t.Fatalf("device B after addDevice: %+v", l)
		}
		// A device that has a pair of the wallet is not added over it.
		a.wantCode(t, sessionTimeout, `return await duet.addDevice({ method: 'password', password: `+jsString(password)+` });`, "WALLET_EXISTS")
	})

	step("both sign, at once", func(t *testing.T) {
		errs := make([]*jsError, 2)
		sigs := make([]string, 2)
		done := make(chan int, 2)
		for i, p := range []*profile{a, b} {
			go func() {
				defer func() { done <- i }()
				errs[i] = p.call(t, sessionTimeout, `return await duet.signMessage('Duet e2e: device `+fmt.Sprint(i)+` of two');`, &sigs[i])
			}()
		}
		<-done
		<-done
		for i := range sigs {
			if errs[i] != nil {
				t.Fatalf("device %d: %v", i, errs[i])
			}
			wantPersonalSig(t, []byte("Duet e2e: device "+fmt.Sprint(i)+" of two"), sigs[i], address)
		}
	})

	step("listDevices shows both", func(t *testing.T) {
		for _, c := range []struct {
			p              *profile
			current, other string
		}{{a, idA, idB}, {b, idB, idA}} {
			list := c.p.listDevices(t)
			current, others := deviceIDs(list)
			if len(list) != 2 || current != c.current || len(others) != 1 || others[0] != c.other {
				t.Fatalf("%s lists %+v, want itself (%s) and %s", c.p.name, list, c.current, c.other)
			}
			for _, d := range list {
				// Both have signed since they were added.
				if d.LastUsedAt == nil {
					t.Errorf("%s: device %s has no lastUsedAt after signing", c.p.name, d.ID)
				}
			}
		}
	})

	step("A removes B; B no longer signs, A does", func(t *testing.T) {
		// An id the wallet does not have removes nothing.
		a.wantCode(t, sessionTimeout, `return await duet.removeDevice('00'.repeat(16));`, "INVALID_ARGUMENT")
		if list := a.listDevices(t); len(list) != 2 {
			t.Fatalf("removing an unknown device left %d devices, want 2: %+v", len(list), list)
		}
		var removed struct {
			ID string `json:"id"`
		}
		a.mustCall(t, sessionTimeout, `return await duet.removeDevice(`+jsString(idB)+`);`, &removed)
		if removed.ID != idB {
			t.Fatalf("removeDevice reported %q, want %s", removed.ID, idB)
		}
		if current, others := deviceIDs(a.listDevices(t)); current != idA || len(others) != 0 {
			t.Fatalf("device A lists %s and %v after removing B, want itself alone", current, others)
		}
		b.wantCode(t, sessionTimeout, `return await duet.signMessage('Duet e2e: must not sign');`, "DEVICE_REMOVED")
		if l := b.lifecycle(t); l.OnDevice || l.Address != "" || !l.Recoverable || l.Ready {
			t.Fatalf("device B after its removal: %+v, want not on this device, recoverable, not ready", l)
		}
		var accounts []string
		b.mustCall(t, time.Minute, `return await duet.provider.request({ method: 'eth_accounts' });`, &accounts)
		if len(accounts) != 0 {
			t.Errorf("device B after its removal: eth_accounts = %q, want none", accounts)
		}
		b.wantCode(t, sessionTimeout, `return await duet.listDevices();`, "DEVICE_REMOVED")
		signOn(t, a, "Duet e2e: device A after removing B", address)
	})

	step("B is added again; A removes itself", func(t *testing.T) {
		var added struct {
			DeviceID string `json:"deviceId"`
		}
		b.mustCall(t, createTimeout, `return await duet.addDevice({ method: 'password', password: `+jsString(password)+` });`, &added)
		if !deviceIDPattern.MatchString(added.DeviceID) || added.DeviceID == idA {
			t.Fatalf("device B added again as %q (device A is %s)", added.DeviceID, idA)
		}
		idB = added.DeviceID
		if l := b.lifecycle(t); !l.OnDevice || l.Removed || l.Stale {
			t.Fatalf("device B added again: %+v", l)
		}
		signOn(t, b, "Duet e2e: device B added again", address)
		if current, others := deviceIDs(a.listDevices(t)); current != idA || len(others) != 1 || others[0] != idB {
			t.Fatalf("device A lists %s and %v, want itself and B (%s)", current, others, idB)
		}

		a.mustCall(t, sessionTimeout, `return await duet.removeDevice(`+jsString(idA)+`);`, nil)
		if l := a.lifecycle(t); l.OnDevice || l.HasShare || !l.Recoverable {
			t.Fatalf("device A after removing itself: %+v, want no share, recoverable", l)
		}
		a.wantCode(t, sessionTimeout, `return await duet.signMessage('Duet e2e: removed itself');`, "NO_WALLET")
		if current, others := deviceIDs(b.listDevices(t)); current != idB || len(others) != 0 {
			t.Fatalf("device B lists %s and %v, want itself alone", current, others)
		}
		signOn(t, b, "Duet e2e: device B after A removed itself", address)
	})

	step("a recovery on C retires B; B is added after it", func(t *testing.T) {
		c := newProfile(t, "device C")
		c.open(t, "/e2e.html")
		c.connect(t, clientKey)
		var rec struct {
			Address string `json:"address"`
		}
		c.mustCall(t, createTimeout, `return await duet.recoverWallet({ method: 'password', password: `+jsString(password)+` });`, &rec)
		if !sameAddress(rec.Address, address) {
			t.Fatalf("recovered %s, want %s", rec.Address, address)
		}
		idC, others := deviceIDs(c.listDevices(t))
		if len(others) != 0 {
			t.Fatalf("after the recovery device C lists %v beside itself, want none", others)
		}
		b.wantCode(t, sessionTimeout, `return await duet.signMessage('Duet e2e: retired by a recovery');`, "DEVICE_REMOVED")
		if l := b.lifecycle(t); l.OnDevice || !l.Recoverable {
			t.Fatalf("device B retired by the recovery: %+v, want not on this device, recoverable", l)
		}
		var added struct {
			DeviceID string `json:"deviceId"`
		}
		b.mustCall(t, createTimeout, `return await duet.addDevice({ method: 'password', password: `+jsString(password)+` });`, &added)
		signOn(t, b, "Duet e2e: device B added after the recovery", address)
		signOn(t, c, "Duet e2e: device C beside B", address)
		current, others := deviceIDs(c.listDevices(t))
		if current != idC || len(others) != 1 || others[0] != added.DeviceID {
			t.Fatalf("device C lists %s and %v, want itself and B (%s)", current, others, added.DeviceID)
		}
	})
}
