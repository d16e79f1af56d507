package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// errorPlacement is where the demo page shows its error, in the viewport.
type errorPlacement struct {
	Hidden  bool    `json:"hidden"`
	Code    string  `json:"code"`
	Text    string  `json:"text"`
	Section string  `json:"section"`
	Top     float64 `json:"top"`
	Bottom  float64 `json:"bottom"`
	Left    float64 `json:"left"`
	Right   float64 `json:"right"`
	Width   float64 `json:"width"`
	Height  float64 `json:"height"`
}

// The demo page shows the reason of a failure where the user is looking:
// after a recovery with a wrong password, started from the Recover button
// with the page scrolled to it, the error is inside the viewport, at
// desktop size and on a 390×844 phone screen.
func TestDemoPageShowsErrorsInView(t *testing.T) {
	useServer(t)
	keys := fetchDevKeys(t)
	clientKey := createClient(t, keys.OrgAPIKey)
	p := newProfile(t, "demo page")
	p.do(t, time.Minute, chromedp.EmulateViewport(1280, 800))
	p.open(t, "/")
	p.waitFor(t, 3*time.Minute, "the demo page to connect", pageIdle)

	// A client of its own, with a wallet and a password backup.
	p.do(t, 30*time.Second, chromedp.SetValue("#client-key", clientKey, chromedp.ByQuery), chromedp.Click("#connect", chromedp.ByQuery))
	p.waitFor(t, 3*time.Minute, "the connect", pageIdle)
	wantNoPageError(t, p)
	var disabled []bool
	p.do(t, 30*time.Second, chromedp.Evaluate(`['create', 'recover', 'sign'].map((id) => document.getElementById(id).disabled)`, &disabled))
	if len(disabled) != 3 || disabled[0] || !disabled[1] || !disabled[2] {
		t.Fatalf("a client without a wallet: create, recover, sign disabled = %v, want [false true true]", disabled)
	}
	p.do(t, 30*time.Second, chromedp.Click("#create", chromedp.ByQuery))
	p.waitFor(t, sessionTimeout, "the wallet", pageIdle)
	wantNoPageError(t, p)
	if got := p.text(t, "signing-ready"); got != "Ready to sign" {
		t.Fatalf("#signing-ready = %q after create", got)
	}
	p.do(t, 30*time.Second, chromedp.SetValue("#backup-password", "the right password", chromedp.ByQuery), chromedp.Click("#backup", chromedp.ByQuery))
	p.waitFor(t, sessionTimeout, "the backup", pageIdle)
	wantNoPageError(t, p)

	for _, size := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 800}, {"phone", 390, 844}} {
		t.Run(size.name, func(t *testing.T) {
			p.do(t, time.Minute, chromedp.EmulateViewport(size.w, size.h))
			// The user scrolls to the Recover form, types a wrong
			// password and presses Recover.
			p.do(t, 30*time.Second,
				chromedp.Evaluate(`window.scrollTo(0, 0); document.getElementById('recover').scrollIntoView({ block: 'center' }); null`, nil),
				chromedp.SetValue("#recover-password", "a wrong password", chromedp.ByQuery),
				chromedp.Evaluate(`document.getElementById('recover').click(); null`, nil))
			p.waitFor(t, sessionTimeout, "the failed recovery", pageIdle+` && !document.getElementById('error').hidden`)
			var e errorPlacement
			p.do(t, 30*time.Second, chromedp.Evaluate(`(() => {
  const el = document.getElementById('error');
  const r = el.getBoundingClientRect();
  return { hidden: el.hidden, code: el.dataset.code ?? '', text: el.textContent,
    section: el.closest('section')?.getAttribute('aria-labelledby') ?? '',
    top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: window.innerWidth, height: window.innerHeight };
})()`, &e))
			if e.Hidden || e.Code != "WRONG_PASSWORD" || !strings.Contains(strings.ToLower(e.Text), "password") {
				t.Fatalf("error after a wrong password: %+v", e)
			}
			if e.Top < 0 || e.Left < 0 || e.Bottom > e.Height || e.Right > e.Width || e.Bottom <= e.Top {
				t.Errorf("the error is outside the %vx%v viewport: top %.0f bottom %.0f left %.0f right %.0f", e.Width, e.Height, e.Top, e.Bottom, e.Left, e.Right)
			}
			if e.Section != "recover-heading" {
				t.Errorf("the error is in section %q, want the Recover section", e.Section)
			}
			for _, internal := range []string{"bridge:", "mpc:", "wire:"} {
				if strings.Contains(e.Text, internal) {
					t.Errorf("the error names an internal package: %q", e.Text)
				}
			}
			t.Logf("%s: %q at top %.0f..%.0f of %.0f", size.name, e.Text, e.Top, e.Bottom, e.Height)
		})
	}
}

// The demo page adds a device with a code: device B presses "Add this
// device with a code" and shows the code; device A types it under "Approve
// a new device", and the SDK's confirmation dialog there, which shows the
// code, is approved with a click. B then holds the wallet.
func TestDemoPageAddsDeviceWithCode(t *testing.T) {
	useServer(t)
	keys := fetchDevKeys(t)
	clientKey := createClient(t, keys.OrgAPIKey)
	connect := func(p *profile) {
		p.open(t, "/")
		p.waitFor(t, 3*time.Minute, "the demo page to connect", pageIdle)
		p.do(t, 30*time.Second, chromedp.SetValue("#client-key", clientKey, chromedp.ByQuery), chromedp.Click("#connect", chromedp.ByQuery))
		p.waitFor(t, 3*time.Minute, "the connect", pageIdle)
		wantNoPageError(t, p)
	}
	a := newProfile(t, "demo page, device A")
	connect(a)
	a.do(t, 30*time.Second, chromedp.Click("#create", chromedp.ByQuery))
	a.waitFor(t, sessionTimeout, "the wallet", pageIdle)
	wantNoPageError(t, a)
	address := a.text(t, "address")

	b := newProfile(t, "demo page, device B")
	connect(b)
	b.waitFor(t, time.Minute, "Add this device with a code to be enabled", `!document.getElementById('add-device-code').disabled`)
	b.do(t, 30*time.Second, chromedp.Click("#add-device-code", chromedp.ByQuery))
	b.waitFor(t, time.Minute, "the code", `/^[0-9]{4} [0-9]{4}$/.test(document.getElementById('approval-code').textContent)`)
	code := b.text(t, "approval-code")

	a.do(t, 30*time.Second, chromedp.SetValue("#approve-code", code, chromedp.ByQuery), chromedp.Click("#approve-device", chromedp.ByQuery))
	a.waitFor(t, sessionTimeout, "the confirmation dialog", `document.querySelector('dialog.duet-approval') !== null`)
	var shown string
	a.do(t, 30*time.Second, chromedp.Evaluate(`document.querySelector('dialog.duet-approval').textContent`, &shown))
	if !strings.Contains(shown, "Approve a new device") || !strings.Contains(shown, code) {
		t.Fatalf("the confirmation dialog shows %q, want the approval of a new device with code %s", shown, code)
	}
	a.do(t, 30*time.Second, chromedp.Click("dialog.duet-approval .duet-approval-approve", chromedp.ByQuery))
	a.waitFor(t, sessionTimeout, "the approval", pageIdle)
	wantNoPageError(t, a)
	b.waitFor(t, createTimeout, "device B to be added", pageIdle)
	wantNoPageError(t, b)
	if got := b.text(t, "wallet-on-device"); got != "yes" {
		t.Fatalf("device B: #wallet-on-device = %q after the approval, want yes", got)
	}
	if got := b.text(t, "address"); !sameAddress(got, address) {
		t.Fatalf("device B holds %q, want the wallet %s", got, address)
	}
	if got := b.text(t, "approval-code"); got != "" {
		t.Errorf("device B still shows the code %q once added", got)
	}
}
