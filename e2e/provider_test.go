package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
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

	other := startFakeNode(t, "0x7a69")
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
  rpcConfig: { 'eip155:1337': `+jsString(chain.url)+`, 'eip155:31337': `+jsString(other.url)+` },
  chainId: 'eip155:1337',
  // Signatures run aux-info and presign in their own sessions, so that the
  // store holds exactly what each step made.
  background: false,
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

		// The device module gives each sealed value its share's generation.
		// (Same-origin mode: this page may open the store, as README says.)
		var gens map[string]int
		p.mustCall(t, time.Minute, `
await new Promise((resolve, reject) => {
  const s = document.createElement('script');
  s.src = '/device-store.js';
  s.onload = resolve;
  s.onerror = reject;
  document.head.append(s);
});
const store = await DuetDeviceStore.openDeviceStore({ url: duet.url, apiKey: `+jsString(clientKey)+` });
const { index } = await store._index();
return Object.fromEntries([...index.names].map(([n, at]) => [n, at.generation]));
`, &gens)
		if _, ok := gens["device"]; gens["share/active"] != 1 || gens["wallet"] != 1 || !ok || len(gens) != 3 {
			t.Errorf("sealed values' generations %v, want share/active and wallet at 1, and the device's id", gens)
		}

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
  { method: 'eth_signTypedData_v4', params: [duet.address, { types: { EIP712Domain: [{ name: 'name', type: 'string' }], Note: [{ name: 'text', type: 'string' }] }, primaryType: 'Note', domain: { name: 'x' }, message: { text: 'x' } }] },
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

	step("typed data changed after the request changes nothing", func(t *testing.T) {
		var got struct {
			Shown, Mutated string
			Value          string
			Digest         string
		}
		// A dapp asks for a Permit of 2^256-1 to itself, then rewrites its
		// object to 1 token to a harmless address while the user looks.
		p.mustCall(t, sessionTimeout, `
const domain = { name: 'Token', version: '1', chainId: 1337, verifyingContract: '0x' + 'cc'.repeat(20) };
const types = { Permit: [{ name: 'owner', type: 'address' }, { name: 'spender', type: 'address' }, { name: 'value', type: 'uint256' }] };
const message = { owner: duet.address, spender: '0x' + 'ee'.repeat(20), value: (2n ** 256n - 1n).toString() };
const typedData = ethers.TypedDataEncoder.getPayload(domain, types, message);
const before = globalThis.e2e.hookCalls.length;
const pending = duet.provider.request({ method: 'eth_signTypedData_v4', params: [duet.address, typedData] });
typedData.message.value = '1';
typedData.message.spender = '0x' + '00'.repeat(19) + '01';
typedData.domain.chainId = 1;
const sig = await pending;
const shown = globalThis.e2e.hookCalls[before];
const mutated = { ...message, value: '1', spender: '0x' + '00'.repeat(19) + '01' };
return {
  shown: ethers.verifyTypedData(domain, types, { owner: shown.typedData.message.owner, spender: shown.typedData.message.spender, value: shown.typedData.message.value }, sig),
  mutated: ethers.verifyTypedData(domain, types, mutated, sig),
  value: shown.typedData.message.value,
  digest: shown.digest === ethers.TypedDataEncoder.hash(domain, types, message) ? 'same' : shown.digest,
};
`, &got)
		if !sameAddress(got.Shown, address) {
			t.Errorf("the signature recovers to %s for what the hook saw, want %s", got.Shown, address)
		}
		if sameAddress(got.Mutated, address) {
			t.Errorf("the signature verifies for the mutated typed data")
		}
		if got.Value != "115792089237316195423570985008687907853269984665640564039457584007913129639935" || got.Digest != "same" {
			t.Errorf("the hook saw value %s and digest %s, want 2^256-1 and the digest ethers computes", got.Value, got.Digest)
		}
	})

	step("case-variant and duplicate keys are refused before anyone is asked", func(t *testing.T) {
		p.takeProgress(t)
		nonce := chain.nonce(t, address)
		var got []struct {
			Code  int    `json:"code"`
			Calls int    `json:"calls"`
			Msg   string `json:"message"`
		}
		p.mustCall(t, sessionTimeout, `
const td = {
  types: { EIP712Domain: [{ name: 'name', type: 'string' }, { name: 'chainId', type: 'uint256' }], Note: [{ name: 'text', type: 'string' }] },
  primaryType: 'Note', domain: { name: 'x', chainId: 1337 }, message: { text: 'shown' },
};
const json = JSON.stringify(td);
const variants = [
  { ...td, domain: { ...td.domain, chainid: 1 } },
  { ...td, Message: { text: 'hidden' } },
  json.replace('"chainId":1337', '"chainId":1337,"chainId":1'),
  json.replace('"text":"shown"', '"text":"shown","text":"hidden"'),
  { ...td, types: { ...td.types, Note: [{ name: 'text', type: 'string' }, { name: 'n', type: 'uint' }] }, message: { text: 'x', n: 1 } },
];
const out = [];
for (const v of variants) {
  const before = globalThis.e2e.hookCalls.length;
  try {
    await duet.provider.request({ method: 'eth_signTypedData_v4', params: [duet.address, v] });
    out.push({ code: 0, calls: globalThis.e2e.hookCalls.length - before, message: 'signed' });
  } catch (e) {
    out.push({ code: e.code, calls: globalThis.e2e.hookCalls.length - before, message: e.message });
  }
}
try {
  await duet.provider.request({ method: 'eth_sendTransaction', params: [{ to: `+jsString(recipient.Hex())+`, Value: '0x1' }] });
  out.push({ code: 0, calls: 0, message: 'sent' });
} catch (e) {
  out.push({ code: e.code, calls: 0, message: e.message });
}
return out;
`, &got)
		if len(got) != 6 {
			t.Fatalf("got %d results, want 6", len(got))
		}
		for i, r := range got {
			if r.Code != -32602 || r.Calls != 0 {
				t.Errorf("variant %d: code %d after %d hook calls (%s), want -32602 and no hook call", i, r.Code, r.Calls, r.Msg)
			}
		}
		if !strings.Contains(got[4].Msg, "alias") {
			t.Errorf("the uint alias is refused with %q, want a message naming the alias", got[4].Msg)
		}
		nothingSigned(t, nonce)
	})

	step("a chain switch during a transaction request does not move it", func(t *testing.T) {
		before := chain.balance(t, recipient.Hex())
		other.reset()
		var got struct {
			Hash, HookChain, TxChain, After string
		}
		p.mustCall(t, sessionTimeout, `
const calls = globalThis.e2e.hookCalls.length;
const pending = duet.provider.request({ method: 'eth_sendTransaction', params: [{ to: `+jsString(recipient.Hex())+`, value: '0x7' }] });
await duet.provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: '0x7a69' }] });
const hash = await pending;
const shown = globalThis.e2e.hookCalls[calls];
const after = await duet.provider.request({ method: 'eth_chainId' });
await duet.provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: '0x539' }] });
return { hash, hookChain: shown.chainId, txChain: shown.transaction.chainId, after };
`, &got)
		if got.HookChain != "eip155:1337" || got.TxChain != "0x539" || got.After != "0x7a69" {
			t.Errorf("hook chain %s, transaction chain %s, provider chain after %s; want eip155:1337, 0x539, 0x7a69", got.HookChain, got.TxChain, got.After)
		}
		if r := chain.mine(t, got.Hash); r.Status != "0x1" || !sameAddress(r.From, address) {
			t.Errorf("receipt of %s: %+v", got.Hash, r)
		}
		if d := new(big.Int).Sub(chain.balance(t, recipient.Hex()), before); d.Cmp(big.NewInt(7)) != 0 {
			t.Errorf("recipient received %v wei, want 7", d)
		}
		if m := other.methods(); len(m) != 0 {
			t.Errorf("the other chain's node was asked %v during the request", m)
		}
	})

	step("adding a chain asks the hook and refuses a mismatched eth_chainId", func(t *testing.T) {
		other.reset()
		var got struct {
			Mismatch, Plain, Rejected, Added struct {
				Code  int    `json:"code"`
				Calls int    `json:"calls"`
				Msg   string `json:"message"`
				Chain string `json:"chain"`
			}
			Shown map[string]string
		}
		p.mustCall(t, sessionTimeout, `
const attempt = async (params, approve) => {
  const before = globalThis.e2e.hookCalls.length;
  globalThis.e2e.approve = approve;
  try {
    await duet.provider.request({ method: 'wallet_addEthereumChain', params: [params] });
    return { code: 0, calls: globalThis.e2e.hookCalls.length - before, message: 'added', chain: duet.provider.chainId };
  } catch (e) {
    return { code: e.code, calls: globalThis.e2e.hookCalls.length - before, message: e.message, chain: duet.provider.chainId };
  } finally {
    globalThis.e2e.approve = true;
  }
};
const url = `+jsString(other.url)+`;
const out = {};
out.mismatch = await attempt({ chainId: '0x2a', chainName: 'Lies', rpcUrls: [url] }, true);
out.plain = await attempt({ chainId: '0x2a', rpcUrls: ['http://rpc.duet-e2e.example/'] }, true);
out.rejected = await attempt({ chainId: '0x7a6a', chainName: 'Hardhat', rpcUrls: [url.replace('127.0.0.1', 'localhost') + '7a6a'] }, false);
out.added = await attempt({ chainId: '0x7a6b', chainName: 'Other', rpcUrls: [url + '7a6b'] }, true);
out.shown = { ...globalThis.e2e.hookCalls.at(-1) };
await duet.provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: '0x539' }] });
return out;
`, &got)
		if got.Mismatch.Code != -32602 || got.Mismatch.Calls != 0 || !strings.Contains(got.Mismatch.Msg, "0x7a69") {
			t.Errorf("mismatched eth_chainId: %+v, want -32602 naming the node's chain, no hook call", got.Mismatch)
		}
		if got.Plain.Code != -32602 || got.Plain.Calls != 0 {
			t.Errorf("plain http off loopback: %+v, want -32602 and no hook call", got.Plain)
		}
		if got.Rejected.Code != 4001 || got.Rejected.Calls != 1 || got.Rejected.Chain != "0x539" {
			t.Errorf("rejected add: %+v, want 4001 after one hook call, still on 0x539", got.Rejected)
		}
		if got.Added.Code != 0 || got.Added.Calls != 1 || got.Added.Chain != "0x7a6b" {
			t.Errorf("approved add: %+v, want added after one hook call and switched to 0x7a6b", got.Added)
		}
		if got.Shown["kind"] != "addChain" || got.Shown["chainId"] != "eip155:31339" || got.Shown["rpcUrl"] != other.url+"7a6b" {
			t.Errorf("the hook was shown %v", got.Shown)
		}
	})

	step("the public sign methods go through the hook", func(t *testing.T) {
		p.takeProgress(t)
		nonce := chain.nonce(t, address)
		var got []struct {
			Code  string `json:"code"`
			Calls int    `json:"calls"`
		}
		p.mustCall(t, sessionTimeout, `
globalThis.e2e.approve = false;
const out = [];
try {
  for (const f of [() => duet.signMessage('x'), () => duet.signDigest('0x' + '11'.repeat(32)),
    () => duet.signTypedData({ types: { EIP712Domain: [{ name: 'name', type: 'string' }], Note: [{ name: 'text', type: 'string' }] }, primaryType: 'Note', domain: { name: 'x' }, message: { text: 'x' } }),
    () => duet.signTransaction({ type: '0x2', chainId: '0x539', nonce: '0x0', to: `+jsString(recipient.Hex())+`, value: '0x1', gas: '0x5208', maxFeePerGas: '0x1', maxPriorityFeePerGas: '0x1' })]) {
    const before = globalThis.e2e.hookCalls.length;
    try {
      await f();
      out.push({ code: 'signed', calls: globalThis.e2e.hookCalls.length - before });
    } catch (e) {
      out.push({ code: e.code, calls: globalThis.e2e.hookCalls.length - before });
    }
  }
} finally {
  globalThis.e2e.approve = true;
}
return out;
`, &got)
		for i, r := range got {
			if r.Code != "REJECTED" || r.Calls != 1 {
				t.Errorf("public method %d: %+v, want REJECTED after one hook call", i, r)
			}
		}
		nothingSigned(t, nonce)
		var frozen struct{ Duet, Provider, Methods bool }
		p.mustCall(t, time.Minute, `
const mod = await import('/provider.js');
const { Duet } = await import('/duet.js');
return { duet: Object.isFrozen(Duet) && Object.isFrozen(Duet.prototype), provider: Object.isFrozen(mod.DuetProvider.prototype), methods: 'methods' in mod };
`, &frozen)
		if !frozen.Duet || !frozen.Provider || frozen.Methods {
			t.Errorf("internals: %+v, want Duet and DuetProvider frozen and no methods export", frozen)
		}
	})

	step("without a hook a confirmation appears and nothing is signed until it is accepted", func(t *testing.T) {
		p.takeProgress(t)
		p.mustCall(t, time.Minute, `
const { Duet } = await import('/duet.js');
const d = await Duet.connect({ apiKey: `+jsString(clientKey)+`, rpcConfig: { 'eip155:1337': `+jsString(chain.url)+` },
  announceProvider: false, onProgress: (ev) => globalThis.e2e.log.push(ev) });
globalThis.e2e.plain = d;
globalThis.e2e.pending = d.provider.request({ method: 'personal_sign', params: ['0x' + [...new TextEncoder().encode('approve me')].map((b) => b.toString(16).padStart(2, '0')).join(''), d.address] });
globalThis.e2e.pending.then((s) => { globalThis.e2e.plainSig = s; }, (e) => { globalThis.e2e.plainErr = e; });
return null;
`, nil)
		p.waitFor(t, time.Minute, "the confirmation dialog", `document.querySelector('dialog.duet-approval')?.open === true`)
		var shows bool
		p.do(t, 30*time.Second, chromedp.Evaluate(`document.querySelector('dialog.duet-approval').textContent.includes('approve me')`, &shows))
		if !shows {
			t.Errorf("the dialog does not show the message")
		}
		// While the dialog is open, nothing has been signed: only the
		// SDK's background work (aux-info, presigning for the pool, which
		// signs nothing, the spare prime search) may run.
		for _, ev := range p.takeProgress(t) {
			if ev.Operation != "connect" && ev.Operation != "prepareSigning" && ev.Operation != "fillPool" && ev.Operation != "sparePrimes" {
				t.Errorf("a session ran before approval: %+v", ev)
			}
		}
		var pending bool
		p.do(t, 30*time.Second, chromedp.Evaluate(`globalThis.e2e.plainSig === undefined && globalThis.e2e.plainErr === undefined`, &pending))
		if !pending {
			t.Fatalf("the request settled before anyone answered the dialog")
		}
		p.do(t, time.Minute, chromedp.Click("dialog.duet-approval .duet-approval-approve", chromedp.ByQuery))
		var rec string
		p.mustCall(t, sessionTimeout, `
const sig = await globalThis.e2e.pending;
globalThis.e2e.plain.close();
return ethers.verifyMessage('approve me', sig);
`, &rec)
		if !sameAddress(rec, address) {
			t.Errorf("the approved signature recovers to %s, want %s", rec, address)
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
		// The demo page has no hook: the SDK's confirmation asks, first to
		// add the page's chain (not in its rpcConfig), then to send.
		for _, want := range []string{"Add a network", "Send a transaction"} {
			p.waitFor(t, sessionTimeout, "the confirmation: "+want, `document.querySelector('dialog.duet-approval h2')?.textContent === `+jsString(want))
			p.do(t, time.Minute, chromedp.Click("dialog.duet-approval .duet-approval-approve", chromedp.ByQuery))
		}
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

// fakeNode is a JSON-RPC node that only knows its chain id and records
// every method it is asked, so that a test can show it was never used.
type fakeNode struct {
	url   string
	mu    sync.Mutex
	calls []string
}

// startFakeNode serves eth_chainId = chainID on a loopback port (at
// /<hex>, the chain 0x<hex>), with the CORS headers a page of another
// origin needs.
func startFakeNode(t *testing.T, chainID string) *fakeNode {
	t.Helper()
	n := &fakeNode{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
		if r.Method == http.MethodOptions {
			return
		}
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if req.Method == "eth_chainId" {
			// A path of hex digits names another chain, so that one server
			// stands for several nodes.
			id := chainID
			if p := strings.Trim(r.URL.Path, "/"); p != "" {
				id = "0x" + p
			}
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":%q}`, req.ID, id)
			return
		}
		n.mu.Lock()
		n.calls = append(n.calls, req.Method)
		n.mu.Unlock()
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"error":{"code":-32601,"message":"not here"}}`, req.ID)
	}))
	t.Cleanup(srv.Close)
	n.url = srv.URL + "/"
	return n
}

// methods lists the methods other than eth_chainId asked since reset.
func (n *fakeNode) methods() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.calls)
}

func (n *fakeNode) reset() {
	n.mu.Lock()
	n.calls = nil
	n.mu.Unlock()
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
