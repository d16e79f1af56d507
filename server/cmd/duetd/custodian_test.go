package main

import (
	"context"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/duetwallet/duet/server/store"
)

func TestStubURL(t *testing.T) {
	for addr, want := range map[string]string{
		"0.0.0.0:8080":       "http://127.0.0.1:8080",
		"[::]:8080":          "http://127.0.0.1:8080",
		"127.0.0.1:9":        "http://127.0.0.1:9",
		"[::1]:9":            "http://[::1]:9",
		"192.168.1.10:443":   "http://192.168.1.10:443",
		"[::ffff:0.0.0.0]:1": "http://127.0.0.1:1",
	} {
		tcp, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := stubURL(tcp); got != want {
			t.Errorf("stubURL(%s) = %s, want %s", addr, got, want)
		}
	}
}

func TestCustodianLink(t *testing.T) {
	listen := &net.TCPAddr{IP: net.IPv4zero, Port: 8080}
	base, client, err := custodianLink("", "", listen)
	if err != nil || base != "http://127.0.0.1:8080" {
		t.Fatalf("built-in stub: %q, %v", base, err)
	}
	if tr, ok := client.Transport.(*http.Transport); !ok || tr.Proxy != nil {
		t.Fatal("the link to the built-in stub may go through a proxy")
	}
	for _, bad := range []string{"http://custodian.example", "custodian.example", "https://", "https://user:key@custodian.example", "https://custodian.example/?key=x", "ftp://custodian.example"} {
		if _, _, err := custodianLink(bad, "", listen); err == nil {
			t.Errorf("--custodian-url %q accepted", bad)
		}
	}
	if _, _, err := custodianLink("", "ca.pem", listen); err == nil {
		t.Error("--custodian-ca without --custodian-url accepted")
	}
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	if _, _, err := custodianLink("https://custodian.example", notPEM, listen); err == nil {
		t.Error("a --custodian-ca without a certificate accepted")
	}
	base, _, err = custodianLink("https://custodian.example:8443/base/", "", listen)
	if err != nil || base != "https://custodian.example:8443/base" {
		t.Errorf("https custodian: %q, %v", base, err)
	}
}

// seedWallet makes an organization, a client and a committed wallet in the
// data folder, and returns the client's key, the wallet's id and the
// organization's custodian key.
func seedWallet(t *testing.T, data string) (clientKey, walletID, custodianKey string) {
	t.Helper()
	ctx := context.Background()
	st, err := (&storageFlags{data: data}).open(ctx, noEnv, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	orgID, _, err := st.createOrganization(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	c, clientKey, err := st.store.CreateClient(ctx, orgID)
	if err != nil {
		t.Fatal(err)
	}
	walletID = strings.Repeat("ab", 16)
	w := store.Wallet{ID: walletID, ClientID: c.ID, PublicKey: []byte{2, 1}, Address: "0x" + strings.Repeat("11", 20)}
	digest := make([]byte, 32)
	if err := st.store.CreateWallet(ctx, w, 1, []byte("x_P"), digest); err != nil {
		t.Fatal(err)
	}
	if err := st.store.Activate(ctx, walletID, 1, digest); err != nil {
		t.Fatal(err)
	}
	custodianKey, err = st.store.CustodianKey(ctx, orgID)
	if err != nil {
		t.Fatal(err)
	}
	return clientKey, walletID, custodianKey
}

// TestServeExternalCustodian runs duetd against a custodian over https with
// a test CA: the custodian gets duetd's requests with the organization's
// custodian key, which duetd never logs; without the CA, nothing reaches it.
func TestServeExternalCustodian(t *testing.T) {
	var mu sync.Mutex
	var seen []string // Authorization headers
	custodian := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error":{"code":"unavailable","message":"down for the test"}}`)
	}))
	defer custodian.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: custodian.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	data := t.TempDir()
	clientKey, walletID, custodianKey := seedWallet(t, data)
	status := func(base string) int {
		req, _ := http.NewRequest("GET", base+"/v1/wallets/"+walletID+"/backup", nil)
		req.Header.Set("Authorization", "Bearer "+clientKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	// Without the test CA the custodian's certificate is not trusted.
	base, stop := startServe(t, "--data", data, "--custodian-url", custodian.URL)
	if got := status(base); got != http.StatusBadGateway {
		t.Errorf("custodian with an untrusted certificate: status %d, want 502", got)
	}
	stop()
	mu.Lock()
	if len(seen) != 0 {
		t.Fatalf("a request reached the custodian over an unverified connection")
	}
	mu.Unlock()

	var log syncBuffer
	base, stop = startServeLog(t, &log, "--data", data, "--custodian-url", custodian.URL, "--custodian-ca", ca)
	got := status(base)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got != http.StatusBadGateway {
		t.Errorf("custodian answering 503: status %d, want 502", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 || seen[0] != "Bearer "+custodianKey {
		t.Fatalf("custodian saw %d requests, the first with the organization's custodian key: %v", len(seen), len(seen) > 0 && seen[0] == "Bearer "+custodianKey)
	}
	if !strings.Contains(log.String(), "custodian refused the server") {
		t.Fatalf("duetd did not log the custodian's failure:\n%s", log.String())
	}
	if strings.Contains(log.String(), custodianKey) {
		t.Fatal("duetd logged the custodian key")
	}
}
