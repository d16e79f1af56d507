package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// revertingContract is the creation code of a contract whose every call
// reverts: it deploys the runtime code PUSH1 0 PUSH1 0 REVERT.
const revertingContract = "0x6460006000fd6000526005601bf3"

// TestProvider drives duet.provider the way dapps do, in Chromium, against a
// geth development chain: every transaction type mined from the wallet's
// address, signatures that ethers verifies, ethers' BrowserProvider sending
// through Duet, a rejecting signature hook, a reverting transaction stopped
// before it is signed, and the demo page's "send ETH". The steps share one
// wallet, since creating it is the slow part.
func TestProvider(t *testing.T) {
	useServer(t)
	ethersJS := ethersBundle(t)
	chain := startGeth(t)
	keys := fetchDevKeys(t)
	// A client of its own, so that this wallet and TestWallet's never meet.
	clientKey := createClient(t, keys.OrgAPIKey)

	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, f) {
			t.FailNow()
		}
	}

	p := newProfile(t, "dapp")
	var address string
	recipient := common.HexToAddress("0x00000000000000000000000000000000d0e7d0e7")
	var reverter common.Address

	step("connect and fund", func(t *testing.T) {
		p.open(t, "/e2e.html")
		p.mustCall(t, 3*time.Minute, `
const { Duet } = await import('/duet.js');
const log = [];
globalThis.e2e = { log, duet: null, approve: true, hookCalls: [], announced: [] };
window.addEventListener('eip6963:announceProvider', (e) => globalThis.e2e.announced.push(e.detail));
const d = await Duet.connect({
  apiKey: `+jsString(clientKey)+`,
  rpcConfig: { 'eip155:1337': `+jsString(chain.url)+` },
  chainId: 'eip155:1337',
  hooks: {
    onSignatureRequest: async (req) => {
      globalThis.e2e.hookCalls.push(req);
      return globalThis.e2e.approve;
    },
  },
  onProgress: (ev) => log.push(ev),
});
globalThis.e2e.duet = d;
return null;
`, nil)
		var created struct {
			Address string `json:"address"`
		}
		p.mustCall(t, createTimeout, `return await duet.createWallet();`, &created)
		address = created.Address
		wantChecksummed(t, address)
		t.Logf("wallet %s", address)

		// EIP-6963: announced at connect, and again on request.
		var announced struct {
			Before, After int
			Name, Rdns    string
			Same          bool
		}
		p.mustCall(t, time.Minute, `
const before = globalThis.e2e.announced.length;
window.dispatchEvent(new Event('eip6963:requestProvider'));
const a = globalThis.e2e.announced;
return { before, after: a.length, name: a.at(-1).info.name, rdns: a.at(-1).info.rdns, same: a.at(-1).provider === duet.provider };
`, &announced)
		if announced.Before < 1 || announced.After != announced.Before+1 || announced.Name != "Duet" || announced.Rdns != "dev.duetwallet" || !announced.Same {
			t.Errorf("EIP-6963 announcements: %+v", announced)
		}

		dev := chain.devAccount(t)
		chain.mine(t, chain.send(t, map[string]any{"from": dev, "to": address, "value": hexutil.EncodeBig(ether(10))}))
		r := chain.mine(t, chain.send(t, map[string]any{"from": dev, "data": revertingContract, "gas": "0x100000"}))
		reverter = common.HexToAddress(r.ContractAddress)
		if got := chain.balance(t, address); got.Cmp(ether(10)) != 0 {
			t.Fatalf("wallet balance %v after funding, want 10 ether", got)
		}
		p.takeProgress(t)
	})

	step("eth_sendTransaction of each type", func(t *testing.T) {
		before := chain.balance(t, recipient.Hex())
		sent := big.NewInt(0)
		for i, typ := range []string{"0x0", "0x1", "0x2"} {
			value := big.NewInt(int64(1000 + i))
			var hash string
			p.mustCall(t, sessionTimeout, `return await duet.provider.request({ method: 'eth_sendTransaction', params: [{
  from: duet.address, to: `+jsString(recipient.Hex())+`, value: `+jsString(hexutil.EncodeBig(value))+`, type: `+jsString(typ)+` }] });`, &hash)
			r := chain.mine(t, hash)
			if r.Status != "0x1" || !sameAddress(r.From, address) || r.Type != typ {
				t.Errorf("type %s: receipt status %s from %s type %s, want 0x1 from %s", typ, r.Status, r.From, r.Type, address)
			}
			sent.Add(sent, value)
		}
		if got := new(big.Int).Sub(chain.balance(t, recipient.Hex()), before); got.Cmp(sent) != 0 {
			t.Errorf("recipient received %v wei, want %v", got, sent)
		}
	})

	p.do(t, time.Minute, chromedp.Evaluate(string(ethersJS), nil))

	step("signatures verify with ethers", func(t *testing.T) {
		var got struct {
			Personal, EthSign, Typed string
		}
		p.mustCall(t, 2*sessionTimeout, `
const msg = 'Duet signs for ethers';
const personal = await duet.provider.request({ method: 'personal_sign', params: [ethers.hexlify(ethers.toUtf8Bytes(msg)), duet.address] });
const data = '0xdeadbeef';
const ethSign = await duet.provider.request({ method: 'eth_sign', params: [duet.address, data] });
const domain = { name: 'Duet e2e', version: '1', chainId: 1337, verifyingContract: '0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC' };
const types = {
  Person: [{ name: 'name', type: 'string' }, { name: 'wallet', type: 'address' }],
  Mail: [{ name: 'from', type: 'Person' }, { name: 'to', type: 'Person' }, { name: 'contents', type: 'string' }, { name: 'amount', type: 'uint256' }],
};
const message = { from: { name: 'Cow', wallet: duet.address }, to: { name: 'Bob', wallet: '0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB' }, contents: 'Hello, Bob!', amount: '1000000000000000000000' };
const typedData = ethers.TypedDataEncoder.getPayload(domain, types, message);
const sig = await duet.provider.request({ method: 'eth_signTypedData_v4', params: [duet.address, JSON.stringify(typedData)] });
return {
  personal: ethers.verifyMessage(msg, personal),
  ethSign: ethers.verifyMessage(ethers.getBytes(data), ethSign),
  typed: ethers.verifyTypedData(domain, types, message, sig),
};
`, &got)
		for name, rec := range map[string]string{"personal_sign": got.Personal, "eth_sign": got.EthSign, "eth_signTypedData_v4": got.Typed} {
			if !sameAddress(rec, address) {
				t.Errorf("%s: ethers recovers %s, want %s", name, rec, address)
			}
		}
	})

	step("ethers BrowserProvider sends a transaction", func(t *testing.T) {
		var got struct {
			Hash, From, ChainID string
			Status              int
		}
		p.mustCall(t, sessionTimeout, `
const provider = new ethers.BrowserProvider(duet.provider);
const signer = await provider.getSigner();
const tx = await signer.sendTransaction({ to: `+jsString(recipient.Hex())+`, value: 12345n });
const receipt = await tx.wait();
return { hash: tx.hash, from: receipt.from, status: receipt.status, chainId: (await provider.getNetwork()).chainId.toString() };
`, &got)
		if got.Status != 1 || !sameAddress(got.From, address) || got.ChainID != "1337" {
			t.Fatalf("ethers: %+v, want status 1 from %s on chain 1337", got, address)
		}
		if r := chain.mine(t, got.Hash); r.Status != "0x1" || !sameAddress(r.From, address) {
			t.Errorf("geth's receipt of %s: %+v", got.Hash, r)
		}
	})

	// nothingSigned checks that no signing session ran and no transaction
	// left the wallet since nonce was read.
	nothingSigned := func(t *testing.T, nonce uint64) {
		t.Helper()
		for _, ev := range p.takeProgress(t) {
			if ev.Operation != "connect" {
				t.Errorf("a session ran: %+v", ev)
			}
		}
		if got := chain.nonce(t, address); got != nonce {
			t.Errorf("pending nonce %d, want %d", got, nonce)
		}
	}

	step("a rejecting hook returns 4001 and signs nothing", func(t *testing.T) {
		p.takeProgress(t)
		nonce := chain.nonce(t, address)
		var got []struct {
			Code  int    `json:"code"`
			Calls int    `json:"calls"`
			Msg   string `json:"message"`
		}
		p.mustCall(t, sessionTimeout, `
globalThis.e2e.approve = false;
const out = [];
const requests = [
  { method: 'eth_sendTransaction', params: [{ to: `+jsString(recipient.Hex())+`, value: '0x1' }] },
  { method: 'personal_sign', params: ['0x68656c6c6f', duet.address] },
  { method: 'eth_signTypedData_v4', params: [duet.address, { types: { EIP712Domain: [{ name: 'name', type: 'string' }] }, primaryType: 'EIP712Domain', domain: { name: 'x' }, message: { name: 'x' } }] },
];
try {
  for (const req of requests) {
    const before = globalThis.e2e.hookCalls.length;
    try {
      await duet.provider.request(req);
      out.push({ code: 0, calls: globalThis.e2e.hookCalls.length - before, message: 'signed' });
    } catch (e) {
      out.push({ code: e.code, calls: globalThis.e2e.hookCalls.length - before, message: e.message });
    }
  }
} finally {
  globalThis.e2e.approve = true;
}
return out;
`, &got)
		for i, r := range got {
			if r.Code != 4001 || r.Calls != 1 {
				t.Errorf("request %d: code %d after %d hook calls (%s), want 4001 after 1", i, r.Code, r.Calls, r.Msg)
			}
		}
		nothingSigned(t, nonce)
	})

	step("a reverting transaction fails before signing", func(t *testing.T) {
		p.takeProgress(t)
		nonce := chain.nonce(t, address)
		var got struct {
			Code  int    `json:"code"`
			Msg   string `json:"message"`
			Calls int    `json:"calls"`
		}
		p.mustCall(t, sessionTimeout, `
const before = globalThis.e2e.hookCalls.length;
try {
  await duet.provider.request({ method: 'eth_sendTransaction', params: [{ to: `+jsString(reverter.Hex())+`, data: '0x' }] });
  return { code: 0, message: 'sent', calls: globalThis.e2e.hookCalls.length - before };
} catch (e) {
  return { code: e.code, message: e.message, calls: globalThis.e2e.hookCalls.length - before };
}
`, &got)
		if got.Code != 3 || !strings.Contains(got.Msg, "reverted") || got.Calls != 0 {
			t.Errorf("reverting transaction: code %d, %q, %d hook calls; want code 3, a message with \"reverted\", no hook call", got.Code, got.Msg, got.Calls)
		}
		nothingSigned(t, nonce)
	})

	step("errors from the node pass through", func(t *testing.T) {
		var got struct {
			Code  int    `json:"code"`
			Block string `json:"block"`
		}
		p.mustCall(t, time.Minute, `
const block = await duet.provider.request({ method: 'eth_blockNumber' });
try {
  await duet.provider.request({ method: 'eth_getBalance', params: ['0x12', 'latest'] });
  return { code: 0, block };
} catch (e) {
  return { code: e.code, block };
}
`, &got)
		if got.Code != -32602 || !strings.HasPrefix(got.Block, "0x") {
			t.Errorf("got %+v, want eth_blockNumber in hex and geth's -32602 for a bad address", got)
		}
	})

	step("the demo page sends ETH", func(t *testing.T) {
		before := chain.balance(t, recipient.Hex())
		// The page connects with the key it remembers, on this profile,
		// which holds the wallet's share.
		p.mustCall(t, time.Minute, `duet.close(); localStorage.setItem('duet-demo/client-key', `+jsString(clientKey)+`); return null;`, nil)
		p.open(t, "/")
		p.waitFor(t, 3*time.Minute, "the demo page to connect", `document.getElementById('status').dataset.state === 'ready' && document.getElementById('wallet-on-device').textContent === 'yes'`)
		p.do(t, time.Minute,
			chromedp.SetValue("#rpc-url", chain.url, chromedp.ByID),
			chromedp.SetValue("#send-to", recipient.Hex(), chromedp.ByID),
			chromedp.SetValue("#send-amount", "0.5", chromedp.ByID),
			chromedp.Click("#send", chromedp.ByID),
		)
		p.waitFor(t, sessionTimeout, "the demo page's transaction", `['success', 'reverted', 'error'].includes(document.getElementById('send-status').dataset.status)`)
		if status := p.text(t, "send-status"); !strings.Contains(status, "status 1") {
			t.Fatalf("demo page: send status %q (error %q)", status, p.text(t, "error"))
		}
		hash := p.text(t, "send-tx-hash")
		if r := chain.mine(t, hash); r.Status != "0x1" || !sameAddress(r.From, address) {
			t.Errorf("receipt of the demo page's %s: %+v", hash, r)
		}
		if got := new(big.Int).Sub(chain.balance(t, recipient.Hex()), before); got.Cmp(new(big.Int).Div(ether(1), big.NewInt(2))) != 0 {
			t.Errorf("recipient received %v wei from the demo page, want 0.5 ether", got)
		}
	})
}

func ether(n int64) *big.Int {
	return new(big.Int).Mul(big.NewInt(n), big.NewInt(1e18))
}

// ethersBundle reads ethers v6's browser bundle (ethers.umd.min.js) from
// $DUET_ETHERS_JS; `make test` installs it from the npm registry.
func ethersBundle(t *testing.T) []byte {
	t.Helper()
	path := os.Getenv("DUET_ETHERS_JS")
	if path == "" {
		t.Fatal("DUET_ETHERS_JS is not set: it names ethers v6's dist/ethers.umd.min.js (make test installs it with npm)")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("DUET_ETHERS_JS: %v", err)
	}
	return b
}

// createClient makes a new client of the demo organization and returns its
// API key.
func createClient(t *testing.T, orgKey string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, duet.url+"/v1/clients", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+orgKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatalf("POST /v1/clients: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		ClientAPIKey string `json:"clientApiKey"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusCreated || body.ClientAPIKey == "" {
		t.Fatalf("POST /v1/clients: status %d, %v, key %q", resp.StatusCode, err, body.ClientAPIKey)
	}
	return body.ClientAPIKey
}

// gethNode is a geth development chain (chain id 1337) that seals a block
// every second, with one funded, unlocked developer account.
type gethNode struct {
	url string
	log *syncBuffer
}

// startGeth starts $DUET_GETH in dev mode; it stops with t.
func startGeth(t *testing.T) *gethNode {
	t.Helper()
	bin := os.Getenv("DUET_GETH")
	if bin == "" {
		t.Fatal("DUET_GETH is not set: it names the geth binary (make geth builds it)")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("DUET_GETH: %v (make geth builds it)", err)
	}
	httpPort, authPort := freePort(t), freePort(t)
	n := &gethNode{url: "http://127.0.0.1:" + httpPort, log: new(syncBuffer)}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--dev", "--dev.period", "1",
		"--datadir", filepath.Join(t.TempDir(), "geth"), "--ipcdisable", "--port", "0",
		"--authrpc.addr", "127.0.0.1", "--authrpc.port", authPort,
		"--http", "--http.addr", "127.0.0.1", "--http.port", httpPort,
		"--http.api", "eth,net,web3", "--http.corsdomain", "*", "--verbosity", "2")
	cmd.Env = withoutGoTarget(os.Environ())
	cmd.Stdout, cmd.Stderr = n.log, n.log
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting geth: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("geth log:\n%s", tail(n.log.String(), 60))
		}
	})
	deadline := time.Now().Add(time.Minute)
	for {
		var id string
		if err := n.rpc(t.Context(), "eth_chainId", &id); err == nil {
			if id != "0x539" {
				t.Fatalf("geth --dev has chain id %s, want 0x539", id)
			}
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("geth did not answer on %s within a minute:\n%s", n.url, tail(n.log.String(), 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func (n *gethNode) rpc(ctx context.Context, method string, out any, params ...any) error {
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return fmt.Errorf("%s: %v", method, err)
	}
	if r.Error != nil {
		return fmt.Errorf("%s: error %d: %s", method, r.Error.Code, r.Error.Message)
	}
	return json.Unmarshal(r.Result, out)
}

func (n *gethNode) call(t *testing.T, method string, out any, params ...any) {
	t.Helper()
	if err := n.rpc(t.Context(), method, out, params...); err != nil {
		t.Fatalf("geth: %v", err)
	}
}

func (n *gethNode) devAccount(t *testing.T) string {
	t.Helper()
	var accounts []string
	n.call(t, "eth_accounts", &accounts)
	if len(accounts) == 0 {
		t.Fatal("geth --dev has no account")
	}
	return accounts[0]
}

// send has geth sign and send tx from its developer account.
func (n *gethNode) send(t *testing.T, tx map[string]any) string {
	t.Helper()
	var hash string
	n.call(t, "eth_sendTransaction", &hash, tx)
	return hash
}

type receipt struct {
	Status          string `json:"status"`
	From            string `json:"from"`
	Type            string `json:"type"`
	ContractAddress string `json:"contractAddress"`
}

// mine waits for the receipt of the transaction hash.
func (n *gethNode) mine(t *testing.T, hash string) receipt {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var r *receipt
		n.call(t, "eth_getTransactionReceipt", &r, hash)
		if r != nil {
			return *r
		}
		if time.Now().After(deadline) {
			t.Fatalf("transaction %s not mined within a minute", hash)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (n *gethNode) balance(t *testing.T, address string) *big.Int {
	t.Helper()
	var b hexutil.Big
	n.call(t, "eth_getBalance", &b, address, "latest")
	return b.ToInt()
}

func (n *gethNode) nonce(t *testing.T, address string) uint64 {
	t.Helper()
	var v hexutil.Uint64
	n.call(t, "eth_getTransactionCount", &v, address, "pending")
	return uint64(v)
}
