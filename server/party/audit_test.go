package party_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/duetwallet/duet/bridge"
	"github.com/duetwallet/duet/server/apikey"
	"github.com/duetwallet/duet/server/party"
	"github.com/duetwallet/duet/server/store"
	"github.com/duetwallet/duet/server/webhook"
	"github.com/duetwallet/duet/wire"
)

type auditPage struct {
	Records []store.AuditRecord `json:"records"`
	Next    string              `json:"next"`
}

func getAudit(t *testing.T, e *env, key, query string) auditPage {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+"/v1/audit"+query, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/audit%s: %s", query, resp.Status)
	}
	var p auditPage
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAuditLogRecordsEachOperation: every operation leaves exactly its
// record in the organization's audit log, which the organization reads
// page by page through the API and no other organization can read.
func TestAuditLogRecordsEachOperation(t *testing.T) {
	e := newEnv(t)
	registerWebhook(t, e, "http://example.com/hook", http.StatusBadRequest)
	registerWebhook(t, e, "https://hooks.example.com/duet", http.StatusCreated)
	dev := e.newDevice(e.srv.URL)
	info, err := dev.Keygen(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	mustSign(t, dev, info.Address, "audited")
	pw := &bridge.BackupSecret{Method: bridge.MethodPassword, Password: "correct horse battery"}
	if err := dev.Backup(ctx(t), pw); err != nil {
		t.Fatal(err)
	}
	newDev := e.newDevice(e.srv.URL)
	if _, err := newDev.Recover(ctx(t), pw); err != nil {
		t.Fatal(err)
	}
	if _, err := newDev.Refresh(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := newDev.Eject(ctx(t), pw); bridge.Code(err) != wire.CodeEjectNotAuthorized {
		t.Fatalf("eject before authorisation: %v", err)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/clients/"+e.clientID+"/eject", nil)
	req.Header.Set("Authorization", "Bearer "+e.orgKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("authorise eject: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, err := newDev.Eject(ctx(t), pw); err != nil {
		t.Fatal(err)
	}

	// Three pages of three.
	var all []store.AuditRecord
	query := "?limit=3"
	for range 3 {
		p := getAudit(t, e, e.orgKey, query)
		all = append(all, p.Records...)
		query = "?limit=3&after=" + p.Next
	}
	var got []string
	for _, r := range all {
		got = append(got, fmt.Sprintf("%s:%s:%d", r.Action, r.Outcome, r.Generation))
		if r.ClientID != e.clientID || r.OrganizationID != e.orgID || r.WalletID != info.WalletID || r.At.IsZero() {
			t.Errorf("record %+v: want client %s, wallet %s", r, e.clientID, info.WalletID)
		}
	}
	// Key generation commits generation 1; the aux-info that the first
	// signature runs is a refresh to generation 2.
	want := []string{
		"wallet_created:ok:1", "refresh:ok:2", "signature:ok:2", "backup:ok:2", "recovery:ok:3", "refresh:ok:4",
		"eject:eject_not_authorized:0", "eject_authorized:ok:4", "eject:ok:4",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("audit log:\n got %v\nwant %v", got, want)
	}

	// The alert events went to the outbox, in order.
	wantEvents(t, e, webhook.EventWalletCreated, webhook.EventWalletBackedUp, webhook.EventWalletRecovered,
		webhook.EventEjectAuthorized, webhook.EventWalletEjected)

	// Another organization reads its own log, which is empty.
	otherID, _ := apikey.NewID(rand.Reader)
	ck, err := e.cus.CreateAccount(ctx(t), otherID)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := e.store.CreateOrganization(ctx(t), otherID, "other org", ck)
	if err != nil {
		t.Fatal(err)
	}
	if p := getAudit(t, e, otherKey, ""); len(p.Records) != 0 {
		t.Fatalf("another organization read %d records", len(p.Records))
	}
	if p := getAudit(t, e, otherKey, "?after="+all[0].ID); len(p.Records) != 0 {
		t.Fatalf("another organization read %d records after an id of ours", len(p.Records))
	}
}

func registerWebhook(t *testing.T, e *env, url string, want int) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/webhooks", strings.NewReader(`{"url":"`+url+`"}`))
	req.Header.Set("Authorization", "Bearer "+e.orgKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ URL, Secret string }
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != want || (want == http.StatusCreated && len(out.Secret) != 64) {
		t.Fatalf("POST /v1/webhooks %s: %s %+v, want %d with a secret", url, resp.Status, out, want)
	}
}

// wantEvents checks the events waiting in the outbox.
func wantEvents(t *testing.T, e *env, want ...string) {
	t.Helper()
	ds, err := e.store.ClaimDeliveries(ctx(t), time.Now().Add(time.Hour), time.Hour, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range ds {
		var ev webhook.Event
		if err := json.Unmarshal(d.Payload, &ev); err != nil || ev.Event != d.Event || ev.ClientID != e.clientID || ev.OrganizationID != e.orgID {
			t.Fatalf("event %s: %+v %v", d.Payload, ev, err)
		}
		got = append(got, d.Event)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("events %v, want %v", got, want)
	}
}

// TestLockoutAlert: a client locked out after repeated aborts raises the
// alert event.
func TestLockoutAlert(t *testing.T) {
	e := newEnvWith(t, envConfig{limits: party.Limits{ShareChanges: 100, Aborts: 2}})
	registerWebhook(t, e, "https://hooks.example.com/duet", http.StatusCreated)
	if _, err := keygenReady(ctx(t), e.newDevice(e.srv.URL)); err != nil {
		t.Fatal(err)
	}
	badFrame(t, e)
	wantEvents(t, e, webhook.EventWalletCreated)
	badFrame(t, e)
	wantEvents(t, e, webhook.EventClientLockedOut)
}
