package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestIsolation plays a hostile script on the app's origin against a Duet
// in isolation mode. The app's page is on http://localhost:PORT, the Duet
// server (and so the frame) on http://127.0.0.1:PORT: two origins. The
// script finds no share, no key and no way into the frame, its forged calls
// are refused, and a signature it asks for waits until the user clicks
// Approve in the frame's own dialog (a real click, through Chromium).
func TestIsolation(t *testing.T) {
	useServer(t)
	keys := fetchDevKeys(t)
	clientKey := createClient(t, keys.OrgAPIKey)
	appOrigin := strings.Replace(duet.url, "127.0.0.1", "localhost", 1)
	if appOrigin == duet.url {
		t.Fatalf("server URL %s is not on 127.0.0.1", duet.url)
	}

	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, f) {
			t.FailNow()
		}
	}

	p := newProfile(t, "isolated-app")
	var address string

	step("connect in isolation mode and create the wallet", func(t *testing.T) {
		p.do(t, time.Minute, chromedp.Navigate(appOrigin+"/e2e.html"))
		var refused string
		p.mustCall(t, 3*time.Minute, `
const { Duet } = await import('/duet.js');
globalThis.e2e = { log: [], duet: null };
const options = { url: `+jsString(duet.url)+`, apiKey: `+jsString(clientKey)+`, isolation: true, onProgress: (ev) => globalThis.e2e.log.push(ev) };
try {
  await Duet.connect({ ...options, autoApprove: true });
  globalThis.e2e.refused = 'connected';
} catch (e) {
  globalThis.e2e.refused = e.code;
}
globalThis.e2e.duet = await Duet.connect(options);
return null;
`, nil)
		p.mustCall(t, time.Minute, `return globalThis.e2e.refused;`, &refused)
		if refused != "INVALID_ARGUMENT" {
			t.Errorf("isolation with autoApprove: %s, want INVALID_ARGUMENT", refused)
		}
		var created struct {
			Address string `json:"address"`
		}
		p.mustCall(t, createTimeout, `return await duet.createWallet();`, &created)
		address = created.Address
		wantChecksummed(t, address)
	})

	step("a script of the app's origin finds no share, no key and no way in", func(t *testing.T) {
		var got struct {
			Databases  []string `json:"databases"`
			Storage    int      `json:"storage"`
			Reached    bool     `json:"reached"`
			OwnKeys    []string `json:"ownKeys"`
			FrameCSP   string   `json:"frameCsp"`
			FrameCount int      `json:"frameCount"`
		}
		p.mustCall(t, time.Minute, `
const dbs = (await indexedDB.databases()).map((d) => d.name);
const frames = [...document.querySelectorAll('iframe')];
let reached = true;
try {
  void frames[0].contentWindow.document.body;
} catch {
  reached = false;
}
const res = await fetch(`+jsString(duet.url+"/duet-frame.html")+`);
return {
  databases: dbs, storage: localStorage.length + sessionStorage.length, reached,
  ownKeys: Object.getOwnPropertyNames(duet).concat(Object.getOwnPropertyNames(duet.provider)),
  frameCsp: res.headers.get('Content-Security-Policy') ?? '', frameCount: frames.length,
};
`, &got)
		if len(got.Databases) != 0 || got.Storage != 0 {
			t.Errorf("the app's origin holds databases %v and %d storage entries", got.Databases, got.Storage)
		}
		if got.Reached || got.FrameCount != 1 {
			t.Errorf("the page reached into the frame (%v) or there are %d frames", got.Reached, got.FrameCount)
		}
		if len(got.OwnKeys) != 0 {
			t.Errorf("Duet and its provider expose %v", got.OwnKeys)
		}
		// The CSP header is not exposed cross-origin without CORS; the
		// frame's policy is checked by the server's own test.
		var answers []struct {
			Type  string `json:"type"`
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		p.mustCall(t, time.Minute, `
const frame = document.querySelector('iframe');
const origin = new URL(frame.src).origin;
const answers = [];
const listener = (e) => {
  if (e.origin === origin && e.data?.id >= 1000) {
    answers.push(e.data);
  }
};
window.addEventListener('message', listener);
const forge = (msg) => frame.contentWindow.postMessage({ duet: 'duet-frame/1', type: 'call', ...msg }, origin);
forge({ id: 1000, method: 'sign', params: { digest: new Uint8Array(32) } });
forge({ id: 1001, method: 'signTransaction', params: { tx: {} } });
forge({ id: 1002, method: 'authorize', params: { request: { kind: 'digest', method: 'x', digest: '0x' + '11'.repeat(32) } }, extra: true });
forge({ id: 1003, method: 'get', params: { path: '/v1/clients' } });
forge({ id: 1004, method: 'init', params: { apiKey: 'duet_cli_' + '0'.repeat(32) + '_x' } });
const deadline = Date.now() + 30000;
while (answers.length < 5 && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 50));
}
window.removeEventListener('message', listener);
return answers;
`, &answers)
		if len(answers) != 5 {
			t.Fatalf("the frame answered %d forged calls, want 5: %+v", len(answers), answers)
		}
		for i, a := range answers {
			if a.Type != "error" || a.Error.Code != "INVALID_ARGUMENT" {
				t.Errorf("forged call %d: %+v, want an INVALID_ARGUMENT error", i, a)
			}
		}
	})

	step("a signature waits for the frame's dialog and is made once approved", func(t *testing.T) {
		p.takeProgress(t)
		msg := "Duet e2e: approved in the frame"
		p.mustCall(t, time.Minute, `
globalThis.e2e.pending = duet.provider.request({ method: 'personal_sign', params: [`+jsString(msg)+`, duet.address] });
globalThis.e2e.pending.then((s) => { globalThis.e2e.sig = s; }, (e) => { globalThis.e2e.err = e; });
return null;
`, nil)
		p.waitFor(t, time.Minute, "the frame to show its confirmation", `document.querySelector('iframe').style.width === '100vw'`)
		// The page can try what it likes; it can neither see nor answer the dialog.
		var settled bool
		p.mustCall(t, time.Minute, `
document.querySelector('iframe').contentWindow.postMessage({ duet: 'duet-frame/1', type: 'result', id: 1 }, '*');
document.querySelector('iframe').click();
await new Promise((r) => setTimeout(r, 500));
return globalThis.e2e.sig !== undefined || globalThis.e2e.err !== undefined;
`, &settled)
		if settled {
			t.Fatalf("the request settled before the user answered")
		}
		for _, ev := range p.takeProgress(t) {
			// The SDK's background work (aux-info, the presignature pool,
			// the spare prime search) may run meanwhile; no session of the
			// request may.
			if ev.Operation != "connect" && ev.Operation != "prepareSigning" && ev.Operation != "fillPool" && ev.Operation != "sparePrimes" {
				t.Errorf("a session ran before approval: %+v", ev)
			}
		}
		clickInFrame(t, p, "duet-frame.html", ".duet-approval-approve", msg)
		var sig string
		p.mustCall(t, sessionTimeout, `return await globalThis.e2e.pending;`, &sig)
		wantPersonalSig(t, []byte(msg), sig, address)
	})

	step("a rejected request signs nothing", func(t *testing.T) {
		p.takeProgress(t)
		p.mustCall(t, time.Minute, `
globalThis.e2e.pending = duet.signDigest('0x' + '22'.repeat(32));
globalThis.e2e.pending.catch(() => {});
return null;
`, nil)
		p.waitFor(t, time.Minute, "the frame to show its confirmation", `document.querySelector('iframe').style.width === '100vw'`)
		clickInFrame(t, p, "duet-frame.html", ".duet-approval-reject", "0x2222")
		// The rejection settles once the SDK has re-read the device's
		// state, which waits behind the background work the worker may be
		// doing (a presignature for the pool): a session's bound, as the
		// approved request above has.
		p.wantCode(t, sessionTimeout, `return await globalThis.e2e.pending;`, "REJECTED")
		for _, ev := range p.takeProgress(t) {
			if ev.Operation != "connect" && ev.Operation != "prepareSigning" && ev.Operation != "fillPool" && ev.Operation != "sparePrimes" {
				t.Errorf("a session ran for a rejected request: %+v", ev)
			}
		}
		p.waitFor(t, time.Minute, "the frame to hide again", `document.querySelector('iframe').style.width === '0px'`)
	})

	step("the frame lists the wallet's devices", func(t *testing.T) {
		list := p.listDevices(t)
		var id string
		p.mustCall(t, time.Minute, `return (await duet.deviceState()).deviceId;`, &id)
		if len(list) != 1 || !list[0].Current || list[0].ID != id {
			t.Fatalf("listDevices through the frame: %+v, want this device (%s) alone", list, id)
		}
	})

	step("a second device is added with a code the page never sees", func(t *testing.T) {
		q := newProfile(t, "isolated-app, device B")
		q.do(t, time.Minute, chromedp.Navigate(appOrigin+"/e2e.html"))
		q.mustCall(t, 3*time.Minute, `
const { Duet } = await import('/duet.js');
globalThis.e2e = { log: [], duet: null };
globalThis.e2e.duet = await Duet.connect({ url: `+jsString(duet.url)+`, apiKey: `+jsString(clientKey)+`, isolation: true, sparePrimes: false,
  onProgress: (ev) => globalThis.e2e.log.push(ev) });
return null;
`, nil)
		q.wantCode(t, time.Minute, `return await duet.addDevice({ method: 'approval', onCode() {} });`, "INVALID_ARGUMENT")
		p.wantCode(t, time.Minute, `return await duet.approveDevice('1234 5678');`, "INVALID_ARGUMENT")
		q.mustCall(t, time.Minute, `
globalThis.e2e.adding = duet.addDevice({ method: 'approval' });
globalThis.e2e.adding.catch(() => {});
return null;
`, nil)
		q.waitFor(t, time.Minute, "the frame to show the code", `document.querySelector('iframe').style.width === '100vw'`)
		code := frameText(t, q, "duet-frame.html", "dialog.duet-approval-code .duet-approval-code-value")
		if !approvalCodePattern.MatchString(code) {
			t.Fatalf("the frame shows code %q, want 8 digits as 1234 5678", code)
		}
		// Nothing of the page's has it: not its text, not a progress event.
		var leaked bool
		q.mustCall(t, time.Minute, `
const code = `+jsString(code)+`;
const seen = document.documentElement.outerHTML + JSON.stringify(globalThis.e2e.log);
return seen.includes(code) || seen.includes(code.replace(' ', ''));
`, &leaked)
		if leaked {
			t.Fatalf("the app's page of the new device holds the code")
		}

		p.mustCall(t, time.Minute, `
globalThis.e2e.approving = duet.approveDevice();
globalThis.e2e.approving.catch(() => {});
return null;
`, nil)
		p.waitFor(t, time.Minute, "the frame to ask for the code", `document.querySelector('iframe').style.width === '100vw'`)
		typeInFrame(t, p, "duet-frame.html", "dialog.duet-approval input.duet-approval-code-input", code)
		clickInFrame(t, p, "duet-frame.html", ".duet-approval-approve", "Approve a new device")
		p.mustCall(t, sessionTimeout, `return await globalThis.e2e.approving;`, nil)
		var added struct {
			Address string `json:"address"`
		}
		q.mustCall(t, createTimeout, `return await globalThis.e2e.adding;`, &added)
		if !sameAddress(added.Address, address) {
			t.Fatalf("device B was added to %s, want %s", added.Address, address)
		}
		q.waitFor(t, time.Minute, "the frame to hide again", `document.querySelector('iframe').style.width === '0px'`)
		if list := p.listDevices(t); len(list) != 2 {
			t.Fatalf("device A lists %d devices after approving B, want 2: %+v", len(list), list)
		}

		msg := "Duet e2e: device B, approved in the frames"
		q.mustCall(t, time.Minute, `
globalThis.e2e.pending = duet.signMessage(`+jsString(msg)+`);
globalThis.e2e.pending.catch(() => {});
return null;
`, nil)
		q.waitFor(t, time.Minute, "the frame to show its confirmation", `document.querySelector('iframe').style.width === '100vw'`)
		clickInFrame(t, q, "duet-frame.html", ".duet-approval-approve", msg)
		var sig string
		q.mustCall(t, sessionTimeout, `return await globalThis.e2e.pending;`, &sig)
		wantPersonalSig(t, []byte(msg), sig, address)
	})
}

// clickInFrame clicks the element selector of the cross-origin frame whose
// URL contains frameURL, as the user would: the element's place is read in
// the frame (through the DevTools protocol, which no page script has), and
// the click goes to that point of the page, where the frame covers it. The
// dialog must show want.
func clickInFrame(t *testing.T, p *profile, frameURL, selector, want string) {
	t.Helper()
	var raw string
	fctx, fcancel := context.WithTimeout(frameTarget(t, p, frameURL), time.Minute)
	defer fcancel()
	err := chromedp.Run(fctx, chromedp.Evaluate(`(() => {
  const d = document.querySelector('dialog.duet-approval');
  const b = d && d.querySelector(`+jsString(selector)+`);
  if (!b) return '';
  const r = b.getBoundingClientRect();
  return JSON.stringify({ x: r.left + r.width / 2, y: r.top + r.height / 2, text: d.textContent });
})()`, &raw))
	if err != nil {
		t.Fatalf("reading the frame: %v", err)
	}
	var at struct {
		X, Y float64
		Text string
	}
	if raw == "" || json.Unmarshal([]byte(raw), &at) != nil {
		t.Fatalf("no %s in the frame's dialog (%q)", selector, raw)
	}
	if !strings.Contains(at.Text, want) {
		t.Errorf("the frame's dialog shows %q, want it to show %q", at.Text, want)
	}
	p.do(t, time.Minute, chromedp.MouseClickXY(at.X, at.Y))
}

// frameTarget returns a context of the cross-origin frame of p whose URL
// contains frameURL, through the DevTools protocol, which no page script
// has: what it reads there is what the user sees.
func frameTarget(t *testing.T, p *profile, frameURL string) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.tab, time.Minute)
	defer cancel()
	infos, err := chromedp.Targets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var frameCtx context.Context
	for _, info := range infos {
		if info.Type == "iframe" && strings.Contains(info.URL, frameURL) {
			// Not cancelled here: cancelling a chromedp context closes its
			// target, which would be the frame. It ends with the tab.
			frameCtx, _ = chromedp.NewContext(p.tab, chromedp.WithTargetID(info.TargetID))
		}
	}
	if frameCtx == nil {
		t.Fatalf("no frame target for %s among %d targets", frameURL, len(infos))
	}
	return frameCtx
}

// typeInFrame types text into the element selector of p's frame, key by
// key, as the user would.
func typeInFrame(t *testing.T, p *profile, frameURL, selector, text string) {
	t.Helper()
	fctx, cancel := context.WithTimeout(frameTarget(t, p, frameURL), time.Minute)
	defer cancel()
	if err := chromedp.Run(fctx, chromedp.SendKeys(selector, text, chromedp.ByQuery)); err != nil {
		t.Fatalf("%s: typing into the frame's %s: %v", p.name, selector, err)
	}
}

// frameText returns the text content of the element selector of p's frame,
// or "" if there is none.
func frameText(t *testing.T, p *profile, frameURL, selector string) string {
	t.Helper()
	fctx, cancel := context.WithTimeout(frameTarget(t, p, frameURL), time.Minute)
	defer cancel()
	var s string
	if err := chromedp.Run(fctx, chromedp.Evaluate(`document.querySelector(`+jsString(selector)+`)?.textContent ?? ''`, &s)); err != nil {
		t.Fatalf("%s: reading the frame's %s: %v", p.name, selector, err)
	}
	return strings.TrimSpace(s)
}
