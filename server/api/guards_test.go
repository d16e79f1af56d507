package api_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/duetwallet/duet/server/api"
	"github.com/duetwallet/duet/server/apikey"
	"github.com/duetwallet/duet/server/store"
)

// uncommittedWallet plays a key generation that never committed: the wallet
// exists with generation 1 pending and nothing active.
func (e *env) uncommittedWallet(clientID string) store.Wallet {
	e.t.Helper()
	id, _ := apikey.NewID(rand.Reader)
	w := store.Wallet{ID: id, ClientID: clientID, PublicKey: []byte{0x02, 0xcd}, Address: "0x3333333333333333333333333333333333333333"}
	if err := e.store.CreateWallet(context.Background(), w, 1, []byte("x_P"), make([]byte, 32)); err != nil {
		e.t.Fatal(err)
	}
	return w
}

// Another client's wallet is forbidden whether or not its creation
// committed; only its owner is told that an uncommitted one does not exist.
func TestUncommittedWalletOfAnotherClient(t *testing.T) {
	e := newEnv(t, options{})
	w := e.uncommittedWallet(e.clientAID)
	before := e.snapshot()
	e.expectError("GET", "/v1/wallets/"+w.ID, e.clientA, "", 404, api.CodeNoWallet)
	e.expectError("GET", "/v1/wallets/"+w.ID, e.clientB, "", 403, "forbidden")
	e.expectError("GET", "/v1/wallets/"+w.ID+"/backup", e.clientB, "", 403, "forbidden")
	if after := e.snapshot(); after != before {
		t.Fatalf("refused requests changed stored state:\n%s\nvs\n%s", before, after)
	}
}

// An organization cannot authorise eject of a wallet whose creation never
// committed, and the custodian hears nothing of it.
func TestEjectOfUncommittedWallet(t *testing.T) {
	e := newEnv(t, options{})
	e.uncommittedWallet(e.clientAID)
	before := e.snapshot()
	e.expectError("POST", "/v1/clients/"+e.clientAID+"/eject", e.orgA, "", 404, api.CodeNoWallet)
	if after := e.snapshot(); after != before {
		t.Fatalf("refused eject authorisation changed stored state:\n%s\nvs\n%s", before, after)
	}
}

// A client id of hex digits but the wrong length is malformed, not unknown.
func TestClientIDOfWrongLength(t *testing.T) {
	e := newEnv(t, options{})
	for _, id := range []string{"abc123", e.clientAID[:31], e.clientAID + "0"} {
		e.expectError("POST", "/v1/clients/"+id+"/eject", e.orgA, "", 400, "bad_request")
	}
}

// A backup method or a generation in the path that is not one is refused
// with 400 before the custodian is asked, on the client's own wallet.
func TestBackupPathsRefuseBadParameters(t *testing.T) {
	var asked atomic.Int32
	cus := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		http.Error(w, "not here", http.StatusInternalServerError)
	}))
	t.Cleanup(cus.Close)
	e := newEnv(t, options{custodianURL: cus.URL})
	w := e.committedWallet(e.clientAID)
	before := e.snapshot()
	for _, m := range []string{"sms", "Password", "app2"} {
		e.expectError("GET", "/v1/wallets/"+w.ID+"/backups/"+m, e.clientA, "", 400, "bad_request")
	}
	for _, g := range []string{"0", "abc", "-1", "18446744073709551616"} {
		e.expectError("GET", "/v1/wallets/"+w.ID+"/eject/shares/"+g, e.clientA, "", 400, "bad_request")
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("refused requests changed stored state:\n%s\nvs\n%s", before, after)
	}
	if n := asked.Load(); n != 0 {
		t.Fatalf("the custodian was asked %d times for requests the API refuses", n)
	}
}
