package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// approvalCodePattern is a device approval code as the SDK shows it.
var approvalCodePattern = regexp.MustCompile(`^[0-9]{4} [0-9]{4}$`)

// approvalSeen is one request the approval hook of connectHooked was shown.
type approvalSeen struct {
	Kind    string  `json:"kind"`
	Code    *string `json:"code"`
	Address string  `json:"address"`
}

// connectHooked connects p with an approval hook instead of autoApprove:
// the hook records what it is shown (globalThis.e2e.seen) and approves
// while globalThis.e2e.approve is true.
func (p *profile) connectHooked(t *testing.T, apiKey string) walletState {
	t.Helper()
	var st walletState
	p.mustCall(t, 3*time.Minute, `
const { Duet } = await import('/duet.js');
const log = [];
globalThis.e2e = { log, duet: null, approve: true, seen: [] };
const d = await Duet.connect({ sparePrimes: false, apiKey: `+jsString(apiKey)+`,
  onProgress: (ev) => log.push({ ...ev, at: performance.now() }),
  hooks: { onSignatureRequest: (r) => {
    globalThis.e2e.seen.push({ kind: r.kind, code: r.code ?? null, address: r.address ?? '' });
    return globalThis.e2e.approve;
  } } });
globalThis.e2e.duet = d;
const s = await d.deviceState();
return { hasShare: d.isWalletOnDevice(), stale: s.stale, removed: s.removed, address: d.address, generation: s.generation };
`, &st)
	return st
}

// startApproval has p ask to be added to the wallet with a code
// (globalThis.e2e.adding settles with the outcome) and returns the code
// the SDK passed to onCode.
func (p *profile) startApproval(t *testing.T) string {
	t.Helper()
	p.mustCall(t, time.Minute, `
globalThis.e2e.code = null;
globalThis.e2e.addErr = undefined;
globalThis.e2e.added = undefined;
globalThis.e2e.adding = duet.addDevice({ method: 'approval', onCode: (c) => { globalThis.e2e.code = c; } });
globalThis.e2e.adding.then((r) => { globalThis.e2e.added = r; }, (e) => { globalThis.e2e.addErr = { code: e.code, message: e.message }; });
return null;`, nil)
	p.waitFor(t, time.Minute, "the code to show", `globalThis.e2e.code !== null || globalThis.e2e.addErr !== undefined`)
	var code string
	p.mustCall(t, time.Minute, `
if (globalThis.e2e.addErr) {
  throw globalThis.e2e.addErr;
}
return globalThis.e2e.code;`, &code)
	if !approvalCodePattern.MatchString(code) {
		t.Fatalf("%s: onCode got %q, want 8 digits as 1234 5678", p.name, code)
	}
	return code
}

// otherCode is a code of the same form that differs from code in its last
// digit.
func otherCode(code string) string {
	b := []byte(code)
	b[len(b)-1] = '0' + (b[len(b)-1]-'0'+1)%10
	return string(b)
}

// A device added without a backup: device B asks with a code, device A
// approves it with the code through its approval hook (kind
// 'approve-device'). A wrong code fails both sides and leaves B without a
// share, and B's next request succeeds; the hook saying no sends nothing.
// Both devices sign and A lists two. B, removed by A and told so by the
// server, still reports DEVICE_REMOVED after a reload (not STALE_DEVICE),
// cannot approve, and is added again by a code. A wallet of its own, so
// that its share changes stay within duetd's limits.
func TestApproval(t *testing.T) {
	useServer(t)
	keys := fetchDevKeys(t)
	clientKey := createClient(t, keys.OrgAPIKey)
	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, f) {
			t.FailNow()
		}
	}
	a := newProfile(t, "device A")
	b := newProfile(t, "device B")
	var address, idA, idB string

	// wantSeen checks that A's hook was shown one approval of a device,
	// with code, since the last call, and clears the record.
	wantSeen := func(t *testing.T, code string) {
		t.Helper()
		var seen []approvalSeen
		a.mustCall(t, time.Minute, `return globalThis.e2e.seen.splice(0);`, &seen)
		if len(seen) != 1 || seen[0].Kind != "approve-device" || seen[0].Code == nil || *seen[0].Code != code || !sameAddress(seen[0].Address, address) {
			t.Fatalf("the approval hook was shown %+v, want one approve-device request with code %s for %s", seen, code, address)
		}
	}

	step("create on A", func(t *testing.T) {
		a.open(t, "/e2e.html")
		a.connectHooked(t, clientKey)
		var w struct {
			Address string `json:"address"`
		}
		a.mustCall(t, createTimeout, `return await duet.createWallet();`, &w)
		address = w.Address
		list := a.listDevices(t)
		if len(list) != 1 {
			t.Fatalf("a new wallet lists %d devices, want 1: %+v", len(list), list)
		}
		idA = list[0].ID
	})

	step("bad input is refused", func(t *testing.T) {
		b.open(t, "/e2e.html")
		if st := b.connectHooked(t, clientKey); st.OnDevice {
			t.Fatalf("device B before addDevice: %+v, want no wallet", st)
		}
		for _, body := range []string{
			`return await duet.approveDevice('1234 567');`,
			`return await duet.approveDevice('1234 56789');`,
			`return await duet.approveDevice('abcd efgh');`,
			`return await duet.approveDevice(12345678);`,
		} {
			a.wantCode(t, time.Minute, body, "INVALID_ARGUMENT")
		}
		b.wantCode(t, time.Minute, `return await duet.addDevice({ method: 'approval', onCode: 'show it' });`, "INVALID_ARGUMENT")
		b.wantCode(t, time.Minute, `return await duet.addDevice({ method: 'approval', password: 'x', onCode() {} });`, "INVALID_ARGUMENT")
		// With no device waiting, the server has nothing to approve.
		a.wantCode(t, sessionTimeout, `return await duet.approveDevice('1234-5678');`, "APPROVAL_FAILED")
		wantSeen(t, "1234 5678")
	})

	step("a wrong code fails both sides and adds nothing", func(t *testing.T) {
		code := b.startApproval(t)
		wrong := otherCode(code)
		a.wantCode(t, sessionTimeout, `return await duet.approveDevice(`+jsString(wrong)+`);`, "APPROVAL_FAILED")
		wantSeen(t, wrong)
		b.wantCode(t, sessionTimeout, `return await globalThis.e2e.adding;`, "APPROVAL_FAILED")
		if l := b.lifecycle(t); l.HasShare || l.OnDevice {
			t.Fatalf("a wrong code left a share on device B: %+v", l)
		}
		if current, others := deviceIDs(a.listDevices(t)); current != idA || len(others) != 0 {
			t.Fatalf("after a wrong code device A lists %s and %v, want itself alone", current, others)
		}
	})

	step("A's hook says no, then yes: B is added", func(t *testing.T) {
		b.takeProgress(t)
		code := b.startApproval(t)
		a.mustCall(t, time.Minute, `globalThis.e2e.approve = false; return null;`, nil)
		a.wantCode(t, time.Minute, `return await duet.approveDevice(`+jsString(code)+`);`, "REJECTED")
		wantSeen(t, code)
		var waiting bool
		b.mustCall(t, time.Minute, `return globalThis.e2e.added === undefined && globalThis.e2e.addErr === undefined;`, &waiting)
		if !waiting {
			t.Fatalf("device B's request ended when A's hook rejected the approval")
		}
		a.mustCall(t, time.Minute, `globalThis.e2e.approve = true; return null;`, nil)
		// Typed as a person might: without the space.
		a.mustCall(t, sessionTimeout, `return await duet.approveDevice(`+jsString(strings.ReplaceAll(code, " ", ""))+`);`, nil)
		wantSeen(t, code)
		var added struct {
			Address  string `json:"address"`
			DeviceID string `json:"deviceId"`
		}
		b.mustCall(t, createTimeout, `return await globalThis.e2e.adding;`, &added)
		if !sameAddress(added.Address, address) {
			t.Fatalf("addDevice by approval gave address %s, want %s", added.Address, address)
		}
		if !deviceIDPattern.MatchString(added.DeviceID) || added.DeviceID == idA {
			t.Fatalf("addDevice by approval gave device id %q (device A is %s)", added.DeviceID, idA)
		}
		idB = added.DeviceID
		if l := b.lifecycle(t); !l.OnDevice || !sameAddress(l.Address, address) || l.Removed || l.Stale {
			t.Fatalf("device B after addDevice: %+v", l)
		}
		awaited := false
		for _, ev := range b.takeProgress(t) {
			if ev.Operation == "addDevice" && ev.Phase == "awaiting-approval" {
				awaited = true
			}
			if strings.Contains(ev.Detail, code) || strings.Contains(ev.Detail, strings.ReplaceAll(code, " ", "")) {
				t.Errorf("a progress event carries the code: %+v", ev)
			}
		}
		if !awaited {
			t.Errorf("device B reported no awaiting-approval phase")
		}
	})

	step("both sign; A lists both", func(t *testing.T) {
		signOn(t, b, "Duet e2e: device B, approved by A", address)
		signOn(t, a, "Duet e2e: device A beside B", address)
		current, others := deviceIDs(a.listDevices(t))
		if current != idA || len(others) != 1 || others[0] != idB {
			t.Fatalf("device A lists %s and %v, want itself and B (%s)", current, others, idB)
		}
	})

	step("B, removed, still reports DEVICE_REMOVED after a reload", func(t *testing.T) {
		a.mustCall(t, sessionTimeout, `return await duet.removeDevice(`+jsString(idB)+`);`, nil)
		b.wantCode(t, sessionTimeout, `return await duet.signMessage('Duet e2e: removed');`, "DEVICE_REMOVED")
		b.open(t, "/e2e.html")
		if st := b.connectHooked(t, clientKey); st.OnDevice || !st.Removed {
			t.Fatalf("device B reloaded after its removal: %+v, want removed, not on the device", st)
		}
		b.wantCode(t, sessionTimeout, `return await duet.signMessage('Duet e2e: removed, reloaded');`, "DEVICE_REMOVED")
		if l := b.lifecycle(t); l.OnDevice || !l.HasShare || !l.Removed || l.Ready {
			t.Fatalf("device B reloaded after its removal: %+v, want its share kept, marked removed", l)
		}
		b.wantCode(t, sessionTimeout, `return await duet.approveDevice('1234 5678');`, "DEVICE_REMOVED")
		b.wantCode(t, sessionTimeout, `return await duet.listDevices();`, "DEVICE_REMOVED")
	})

	step("B is added again with a code", func(t *testing.T) {
		code := b.startApproval(t)
		a.mustCall(t, sessionTimeout, `return await duet.approveDevice(`+jsString(code)+`);`, nil)
		var added struct {
			DeviceID string `json:"deviceId"`
		}
		b.mustCall(t, createTimeout, `return await globalThis.e2e.adding;`, &added)
		if !deviceIDPattern.MatchString(added.DeviceID) || added.DeviceID == idA {
			t.Fatalf("device B added again as %q (device A is %s)", added.DeviceID, idA)
		}
		if l := b.lifecycle(t); !l.OnDevice || l.Removed || l.Stale {
			t.Fatalf("device B added again: %+v", l)
		}
		signOn(t, b, "Duet e2e: device B approved again", address)
		current, others := deviceIDs(a.listDevices(t))
		if current != idA || len(others) != 1 || others[0] != added.DeviceID {
			t.Fatalf("device A lists %s and %v, want itself and B (%s)", current, others, added.DeviceID)
		}
	})
}
