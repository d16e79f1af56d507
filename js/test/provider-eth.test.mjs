// duet.provider's Ethereum methods against a fake node and a fake wallet:
// parameter checks and their codes, filling and simulating transactions,
// signature hooks, chains, passing through to the node, and EIP-6963.

import test from 'node:test';
import assert from 'node:assert/strict';
import {
  DuetProvider, ProviderRpcError, announceProvider, caip2, normalizeChainId, normalizeRpcConfig, providerInfo,
} from '../provider.js';

import { ADDRESS, RAW, SIG, TXHASH, TYPED_DIGEST, fakeSigner } from './fake-device.mjs';

const OTHER = '0x' + '11'.repeat(20);
const TO = '0x' + '35'.repeat(20);
const URL1337 = 'http://127.0.0.1:8545/';
const URL5 = 'http://127.0.0.1:8546/';

// What the fake device was asked to sign.
function signed(signer) {
  const c = signer.channel;
  return { transactions: c.transactions, messages: c.messages, digests: c.digests, typed: c.typed };
}

// A JSON-RPC node: answers[method] is a result, or a function of params that
// returns one or throws {code, message, data} as the node's error.
function fakeNode(answers = {}) {
  const node = {
    calls: [],
    nonce: 5,
    answers: {
      eth_blockNumber: '0x10',
      eth_getBlockByNumber: { number: '0x10', baseFeePerGas: '0x3b9aca00' },
      eth_maxPriorityFeePerGas: '0x59682f00',
      eth_gasPrice: '0x4a817c800',
      eth_estimateGas: '0x5208',
      eth_call: '0x',
      eth_getTransactionCount: () => '0x' + node.nonce.toString(16),
      eth_sendRawTransaction: () => {
        node.nonce++;
        return TXHASH;
      },
      ...answers,
    },
    chainIds: {},
    async fetch(url, init) {
      const req = JSON.parse(init.body);
      node.calls.push({ url, method: req.method, params: req.params });
      let body;
      const a = req.method === 'eth_chainId' && node.chainIds[url] !== undefined ? node.chainIds[url] : node.answers[req.method];
      try {
        const result = typeof a === 'function' ? a(req.params) : a;
        body = result === undefined
          ? { jsonrpc: '2.0', id: req.id, error: { code: -32601, message: `the method ${req.method} does not exist/is not available` } }
          : { jsonrpc: '2.0', id: req.id, result };
      } catch (e) {
        body = { jsonrpc: '2.0', id: req.id, error: e };
      }
      return new Response(JSON.stringify(body), { headers: { 'Content-Type': 'application/json' } });
    },
    methods() {
      return node.calls.map((c) => c.method);
    },
  };
  return node;
}

function setup({ address = ADDRESS, node = fakeNode(), hook, rpcConfig = { 'eip155:1337': URL1337, 'eip155:5': URL5 }, chainId = 'eip155:1337' } = {}) {
  const signer = fakeSigner({ address, hook });
  const provider = new DuetProvider(signer, { chainId, rpcConfig, fetch: node.fetch });
  return { signer, wallet: signed(signer), node, provider, hookCalls: signer.hookCalls };
}

async function rejectsWith(p, code, pattern) {
  await assert.rejects(p, (e) => {
    assert.ok(e instanceof ProviderRpcError, `want ProviderRpcError, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (pattern) {
      assert.match(e.message, pattern);
    }
    return true;
  });
}

test('chain ids are CAIP-2, numbers or 0x hex', async () => {
  assert.equal(normalizeChainId('eip155:1337'), '0x539');
  assert.equal(normalizeChainId('eip155:1'), '0x1');
  for (const v of ['eip155:0', 'eip155:01', 'eip155:0x1', 'eip156:1', 'eip155:', 'eip155:1.5']) {
    assert.throws(() => normalizeChainId(v), { code: -32602 }, v);
  }
  assert.equal(caip2('0x539'), 'eip155:1337');
  const { provider } = setup();
  assert.equal(await provider.request({ method: 'eth_chainId' }), '0x539');
  // Without chainId, the first chain of rpcConfig.
  const p = new DuetProvider(fakeSigner(), { rpcConfig: { 'eip155:5': URL5 } });
  assert.equal(await p.request({ method: 'eth_chainId' }), '0x5');
});

test('rpcConfig is checked, and the provider wants a signer', () => {
  assert.deepEqual([...normalizeRpcConfig({ 'eip155:1': 'https://rpc.example/v1' })], [['0x1', 'https://rpc.example/v1']]);
  for (const bad of [{ 'eip155:1': 'ftp://x' }, { 'eip155:1': 'not a url' }, { mainnet: 'https://x' }, ['https://x'], 'https://x']) {
    assert.throws(() => new DuetProvider(fakeSigner(), { rpcConfig: bad }), { code: -32602 }, JSON.stringify(bad));
  }
  assert.throws(() => new DuetProvider({ address: ADDRESS, signMessage() {} }), TypeError);
  assert.throws(() => new DuetProvider(null), TypeError);
});

test('other methods go to the node of the current chain, errors unchanged', async () => {
  const node = fakeNode({
    eth_getBalance: (params) => {
      assert.deepEqual(params, [ADDRESS, 'latest']);
      return '0xde0b6b3a7640000';
    },
    eth_call: () => {
      throw { code: 3, message: 'execution reverted: nope', data: '0x08c379a0' };
    },
  });
  const { provider } = setup({ node });
  assert.equal(await provider.request({ method: 'eth_blockNumber' }), '0x10');
  assert.equal(await provider.request({ method: 'eth_getBalance', params: [ADDRESS, 'latest'] }), '0xde0b6b3a7640000');
  await assert.rejects(provider.request({ method: 'eth_call', params: [{ to: TO }, 'latest'] }), (e) => {
    assert.equal(e.code, 3);
    assert.equal(e.message, 'execution reverted: nope');
    assert.equal(e.data, '0x08c379a0');
    return true;
  });
  await rejectsWith(provider.request({ method: 'eth_noSuchMethod' }), -32601);
  assert.ok(node.calls.every((c) => c.url === URL1337));
});

test('without an RPC URL, or with the node down, the chain is disconnected (4901)', async () => {
  await rejectsWith(new DuetProvider(fakeSigner()).request({ method: 'eth_blockNumber' }), 4901, /eip155:1337/);
  const p = new DuetProvider(fakeSigner(), {
    rpcConfig: { 'eip155:1337': URL1337 },
    fetch: async () => {
      throw new TypeError('Failed to fetch');
    },
  });
  await rejectsWith(p.request({ method: 'eth_blockNumber' }), 4901, /cannot reach/);
  await rejectsWith(p.request({ method: 'eth_sendTransaction', params: [{ to: TO, value: '0x1' }] }), 4901);
});

test('eth_sendTransaction fills an EIP-1559 transaction from the node, simulates, asks the hook and sends', async () => {
  const { provider, wallet, node, hookCalls } = setup({ hook: () => true });
  const hash = await provider.request({ method: 'eth_sendTransaction', params: [{ from: ADDRESS, to: TO, value: '0x1' }] });
  assert.equal(hash, TXHASH);
  assert.deepEqual(wallet.transactions, [{
    type: '0x2', chainId: '0x539', nonce: '0x5', to: TO, value: '0x1', data: '0x',
    gas: '0x5208', maxFeePerGas: '0xd09dc300', maxPriorityFeePerGas: '0x59682f00', accessList: [],
  }]);
  assert.deepEqual(node.methods(), ['eth_getBlockByNumber', 'eth_estimateGas', 'eth_maxPriorityFeePerGas', 'eth_getTransactionCount', 'eth_sendRawTransaction']);
  assert.deepEqual(node.calls[3].params, [ADDRESS, 'pending']);
  assert.deepEqual(node.calls[4].params, [RAW]);
  assert.equal(hookCalls.length, 1);
  assert.equal(hookCalls[0].method, 'eth_sendTransaction');
  assert.equal(hookCalls[0].chainId, 'eip155:1337');
  assert.equal(hookCalls[0].kind, 'transaction');
  assert.equal(hookCalls[0].address, ADDRESS);
  assert.equal(hookCalls[0].transaction.nonce, '0x5');
  // What the hook saw is what was signed, and it cannot be changed.
  assert.deepEqual(hookCalls[0].transaction, wallet.transactions[0]);
  assert.ok(Object.isFrozen(hookCalls[0]) && Object.isFrozen(hookCalls[0].transaction) && Object.isFrozen(hookCalls[0].transaction.accessList));
});

test('eth_sendTransaction keeps the fields it is given and picks the type from them', async () => {
  const accessList = [{ address: TO, storageKeys: ['0x' + '00'.repeat(31) + '01'] }];
  const cases = [
    [{ to: TO, gasPrice: '0x3b9aca00', gas: '0x6000', nonce: '0x9' }, { type: '0x0', gasPrice: '0x3b9aca00', gas: '0x6000', nonce: '0x9' }],
    [{ to: TO, gasPrice: '0x3b9aca00', accessList }, { type: '0x1', gasPrice: '0x3b9aca00', accessList }],
    [{ to: TO, type: '0x1' }, { type: '0x1', gasPrice: '0x4a817c800', accessList: [] }],
    [{ to: TO, type: '0x0' }, { type: '0x0', gasPrice: '0x4a817c800' }],
    [{ to: TO, maxFeePerGas: '0x100', maxPriorityFeePerGas: '0x10' }, { type: '0x2', maxFeePerGas: '0x100', maxPriorityFeePerGas: '0x10' }],
    // The suggested tip is capped by the given fee cap.
    [{ to: TO, maxFeePerGas: '0x100' }, { type: '0x2', maxFeePerGas: '0x100', maxPriorityFeePerGas: '0x100' }],
    [{ to: TO, gasLimit: '0x7000', data: '0xAbCd' }, { type: '0x2', gas: '0x7000', data: '0xabcd' }],
    [{ data: '0x60006000fd' }, { type: '0x2', data: '0x60006000fd', to: undefined }],
  ];
  for (const [given, want] of cases) {
    const { provider, wallet } = setup();
    await provider.request({ method: 'eth_sendTransaction', params: [given] });
    const got = wallet.transactions[0];
    assert.ok(got, JSON.stringify(given));
    for (const [k, v] of Object.entries(want)) {
      assert.deepEqual(got[k], v, `${JSON.stringify(given)}: ${k}`);
    }
    if (got.type === '0x0') {
      assert.equal(got.accessList, undefined);
    }
  }
});

test('a chain without a base fee gets legacy transactions', async () => {
  const node = fakeNode({ eth_getBlockByNumber: { number: '0x1' } });
  const { provider, wallet } = setup({ node });
  await provider.request({ method: 'eth_sendTransaction', params: [{ to: TO, value: '0x1' }] });
  assert.equal(wallet.transactions[0].type, '0x0');
  assert.equal(wallet.transactions[0].gasPrice, '0x4a817c800');
  await rejectsWith(provider.request({ method: 'eth_sendTransaction', params: [{ to: TO, type: '0x2' }] }), -32602, /base fee/);
});

test('a reverting transaction fails in simulation, before the hook and the signature', async () => {
  const revert = () => {
    throw { code: 3, message: 'execution reverted', data: '0xdeadbeef' };
  };
  for (const [given, simulation] of [[{ to: TO }, 'eth_estimateGas'], [{ to: TO, gas: '0x10000' }, 'eth_call']]) {
    const node = fakeNode({ [simulation]: revert });
    const { provider, wallet, hookCalls } = setup({ node, hook: () => true });
    await assert.rejects(provider.request({ method: 'eth_sendTransaction', params: [given] }), (e) => {
      assert.equal(e.code, 3);
      assert.match(e.message, /reverted/);
      assert.equal(e.data, '0xdeadbeef');
      return true;
    });
    assert.equal(hookCalls.length, 0);
    assert.equal(wallet.transactions.length, 0);
    assert.ok(!node.methods().includes('eth_sendRawTransaction'));
  }
  // Another failure of the estimate (no funds, say) passes through as it is.
  const node = fakeNode({
    eth_estimateGas: () => {
      throw { code: -32000, message: 'insufficient funds for transfer' };
    },
  });
  const { provider, wallet } = setup({ node });
  await rejectsWith(provider.request({ method: 'eth_sendTransaction', params: [{ to: TO, value: '0xffff' }] }), -32000, /insufficient funds/);
  assert.equal(wallet.transactions.length, 0);
});

test('a rejecting hook returns 4001 and nothing is signed', async () => {
  const typedData = {
    types: { EIP712Domain: [{ name: 'name', type: 'string' }], Note: [{ name: 'text', type: 'string' }] },
    primaryType: 'Note', domain: { name: 'x' }, message: { text: 'hi' },
  };
  const requests = [
    { method: 'eth_sendTransaction', params: [{ to: TO, value: '0x1' }] },
    { method: 'eth_signTransaction', params: [{ to: TO, value: '0x1' }] },
    { method: 'personal_sign', params: ['hello', ADDRESS] },
    { method: 'eth_sign', params: [ADDRESS, '0xdeadbeef'] },
    { method: 'eth_signTypedData_v4', params: [ADDRESS, typedData] },
  ];
  for (const answer of [() => false, () => 'yes', () => undefined, () => { throw new Error('user closed the dialog'); }]) {
    for (const req of requests) {
      const { provider, wallet, node, hookCalls } = setup({ hook: answer });
      await rejectsWith(provider.request(req), 4001, /rejected/);
      assert.equal(hookCalls.length, 1, req.method);
      assert.equal(hookCalls[0].method, req.method);
      assert.equal(wallet.transactions.length + wallet.messages.length + wallet.digests.length, 0, req.method);
      assert.equal(hookCalls[0].address, ADDRESS);
      assert.equal(hookCalls[0].chainId, 'eip155:1337');
      assert.ok(!node.methods().includes('eth_sendRawTransaction'));
    }
  }
});

test('eth_signTransaction returns the signed transaction and sends nothing', async () => {
  const { provider, node } = setup({ hook: () => true });
  assert.equal(await provider.request({ method: 'eth_signTransaction', params: [{ to: TO, value: '0x1' }] }), RAW);
  assert.ok(!node.methods().includes('eth_sendRawTransaction'));
});

test('transaction params are checked before the node is asked anything', async () => {
  const cases = [
    [undefined, -32602],
    [[], -32602],
    [['0x1'], -32602],
    [[null], -32602],
    [[{ from: 'not an address', to: TO }], -32602],
    [[{ from: ADDRESS.slice(0, 41), to: TO }], -32602],
    [[{ from: OTHER, to: TO }], 4100],
    [[{ to: '0x1234' }], -32602],
    [[{ to: 42 }], -32602],
    [[{ to: TO, value: '100' }], -32602],
    [[{ to: TO, value: 100 }], -32602],
    [[{ to: TO, value: '0xzz' }], -32602],
    [[{ to: TO, nonce: '0x' }], -32602],
    [[{ to: TO, nonce: '0x01' }], -32602],
    [[{ to: TO, Value: '0x1' }], -32602],
    [[{ to: TO, chainid: '0x1' }], -32602],
    [[{ to: TO, gas: '0x0' }], -32602],
    [[{ to: TO, gas: '0x5208', gasLimit: '0x5209' }], -32602],
    [[{ to: TO, data: '0xabc' }], -32602],
    [[{ to: TO, data: 'hello' }], -32602],
    [[{ to: TO, data: '0xab', input: '0xcd' }], -32602],
    [[{ to: TO, chainId: '0x1' }], -32602],
    [[{ to: TO, chainId: '1337' }], -32602],
    [[{ to: TO, type: '0x3' }], -32602],
    [[{ to: TO, type: '0x4' }], -32602],
    [[{ to: TO, type: '0x0', maxFeePerGas: '0x1' }], -32602],
    [[{ to: TO, type: '0x2', gasPrice: '0x1' }], -32602],
    [[{ to: TO, type: '0x0', accessList: [{ address: TO, storageKeys: [] }] }], -32602],
    [[{ to: TO, gasPrice: '0x1', maxFeePerGas: '0x2' }], -32602],
    [[{ to: TO, maxFeePerGas: '0x1', maxPriorityFeePerGas: '0x2' }], -32602],
    [[{ to: TO, accessList: {} }], -32602],
    [[{ to: TO, accessList: [{ address: TO, storageKeys: ['0x01'] }] }], -32602],
    [[{ to: TO, blobVersionedHashes: [] }], -32602],
  ];
  for (const method of ['eth_sendTransaction', 'eth_signTransaction']) {
    for (const [params, code] of cases) {
      const { provider, node, wallet } = setup({ hook: () => true });
      await rejectsWith(provider.request({ method, params }), code, undefined);
      assert.equal(node.calls.length, 0, `${method} ${JSON.stringify(params)} asked the node`);
      assert.equal(wallet.transactions.length, 0);
    }
  }
  const { provider } = setup({ address: null });
  await rejectsWith(provider.request({ method: 'eth_sendTransaction', params: [{ to: TO }] }), 4100);
});

test('concurrent eth_sendTransaction calls get consecutive nonces', async () => {
  const { provider, wallet } = setup();
  await Promise.all([1, 2, 3].map((v) => provider.request({ method: 'eth_sendTransaction', params: [{ to: TO, value: '0x' + v }] })));
  assert.deepEqual(wallet.transactions.map((t) => [t.value, t.nonce]), [['0x1', '0x5'], ['0x2', '0x6'], ['0x3', '0x7']]);
});

test('eth_sign signs hex data with the EIP-191 prefix and checks its params', async () => {
  const { provider, wallet, hookCalls } = setup({ hook: () => true });
  assert.equal(await provider.request({ method: 'eth_sign', params: [ADDRESS, '0xdeadbeef'] }), SIG);
  assert.deepEqual(wallet.messages, [new Uint8Array([0xde, 0xad, 0xbe, 0xef])]);
  assert.equal(hookCalls[0].message, '0xdeadbeef');
  assert.equal(wallet.digests.length, 1);
  for (const params of [[ADDRESS], ['0x12', '0xdeadbeef'], [ADDRESS, 'hello'], [ADDRESS, '0xabc'], ['0xdeadbeef', ADDRESS]]) {
    await rejectsWith(provider.request({ method: 'eth_sign', params }), -32602);
  }
  await rejectsWith(provider.request({ method: 'eth_sign', params: [OTHER, '0xdeadbeef'] }), 4100);
  assert.equal(wallet.messages.length, 1);
});

test('personal_sign asks the hook with the message bytes', async () => {
  const { provider, hookCalls } = setup({ hook: () => true });
  assert.equal(await provider.request({ method: 'personal_sign', params: ['0x6869', ADDRESS] }), SIG);
  assert.equal(hookCalls[0].address, ADDRESS);
  assert.equal(hookCalls[0].message, '0x6869');
  assert.equal(hookCalls[0].text, 'hi');
});

const mail = {
  types: {
    EIP712Domain: [{ name: 'name', type: 'string' }, { name: 'chainId', type: 'uint256' }],
    Mail: [{ name: 'contents', type: 'string' }],
  },
  primaryType: 'Mail',
  domain: { name: 'Ether Mail', chainId: 1337 },
  message: { contents: 'Hello, Bob!' },
};

test('eth_signTypedData_v4 takes the object or its JSON on the provider\'s chain', async () => {
  const { provider, wallet, hookCalls } = setup({ hook: () => true });
  for (const data of [mail, JSON.stringify(mail), { ...mail, domain: { ...mail.domain, chainId: '0x539' } },
    { ...mail, domain: { ...mail.domain, chainId: '1337' } },
    { ...mail, types: { ...mail.types, EIP712Domain: [{ name: 'name', type: 'string' }] }, domain: { name: 'no chain' } }]) {
    assert.equal(await provider.request({ method: 'eth_signTypedData_v4', params: [ADDRESS, data] }), SIG);
  }
  assert.equal(wallet.digests.length, 5);
  assert.equal(hookCalls[0].digest, TYPED_DIGEST);
  assert.equal(hookCalls[0].typedData.primaryType, 'Mail');
  // The device hashed the canonical JSON, the same for every spelling.
  const canonical = '{"types":{"EIP712Domain":[{"name":"name","type":"string"},{"name":"chainId","type":"uint256"}],' +
    '"Mail":[{"name":"contents","type":"string"}]},"primaryType":"Mail","domain":{"name":"Ether Mail","chainId":"1337"},' +
    '"message":{"contents":"Hello, Bob!"}}';
  assert.deepEqual(wallet.typed.slice(0, 4), [canonical, canonical, canonical, canonical]);
  assert.deepEqual(hookCalls[0].typedData, JSON.parse(canonical));
});

test('eth_signTypedData_v4 checks its params', async () => {
  const { provider, wallet } = setup({ hook: () => true });
  const bad = [
    [ADDRESS],
    ['0x12', mail],
    [mail, ADDRESS],
    [ADDRESS, '{not json'],
    [ADDRESS, 42],
    [ADDRESS, { ...mail, types: undefined }],
    [ADDRESS, { ...mail, message: 'hi' }],
    [ADDRESS, { ...mail, domain: [] }],
    [ADDRESS, { ...mail, primaryType: '' }],
    [ADDRESS, { ...mail, domain: { ...mail.domain, chainId: 1 } }],
    [ADDRESS, { ...mail, domain: { ...mail.domain, chainId: 'eth' } }],
    // Case variants and duplicates, which go-ethereum would read its own way.
    [ADDRESS, { ...mail, domain: { ...mail.domain, chainid: 1 } }],
    [ADDRESS, { ...mail, Message: { contents: 'other' } }],
    [ADDRESS, JSON.stringify(mail).replace('"chainId":1337', '"chainId":1337,"chainId":1')],
    [ADDRESS, JSON.stringify(mail).replace('"contents":"Hello, Bob!"', '"contents":"Hello, Bob!","contents":"Bye"')],
    [ADDRESS, { ...mail, types: { ...mail.types, Mail: [{ name: 'contents', type: 'string' }, { name: 'n', type: 'uint' }] }, message: { contents: 'x', n: 1 } }],
  ];
  for (const params of bad) {
    await rejectsWith(provider.request({ method: 'eth_signTypedData_v4', params }), -32602);
  }
  await rejectsWith(provider.request({ method: 'eth_signTypedData_v4', params: [OTHER, mail] }), 4100);
  assert.equal(wallet.digests.length, 0);
  assert.equal(wallet.typed.length, 0);
});

test('wallet_switchEthereumChain moves to a configured chain and emits chainChanged', async () => {
  const { provider, node } = setup();
  const changes = [];
  provider.on('chainChanged', (c) => changes.push(c));
  assert.equal(await provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: '0x5' }] }), null);
  assert.equal(await provider.request({ method: 'eth_chainId' }), '0x5');
  assert.equal(provider.chainId, '0x5');
  await provider.request({ method: 'eth_blockNumber' });
  assert.equal(node.calls.at(-1).url, URL5);
  // The same chain again changes nothing.
  await provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: '0x5' }] });
  assert.deepEqual(changes, ['0x5']);
  // Transactions now carry the new chain.
  await rejectsWith(provider.request({ method: 'eth_sendTransaction', params: [{ to: TO, chainId: '0x539' }] }), -32602);

  await rejectsWith(provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: '0x89' }] }), 4902);
  for (const params of [[], [{}], [{ chainId: 137 }], [{ chainId: 'eip155:137' }], [{ chainId: '0x0' }], [{ chainId: '0xzz' }]]) {
    await rejectsWith(provider.request({ method: 'wallet_switchEthereumChain', params }), -32602);
  }
  assert.equal(provider.chainId, '0x5');
});

test('wallet_addEthereumChain asks for approval, checks the node\'s chain id, then adds and switches', async () => {
  const { provider, node, hookCalls } = setup({ hook: () => true });
  node.chainIds['http://127.0.0.1:9000/'] = '0x89';
  node.chainIds['https://polygon.example/'] = '0x1';
  const changes = [];
  provider.on('chainChanged', (c) => changes.push(c));
  await provider.request({ method: 'wallet_addEthereumChain', params: [{ chainId: '0x89', chainName: 'Polygon', rpcUrls: ['http://127.0.0.1:9000'] }] });
  assert.equal(provider.chainId, '0x89');
  assert.equal(hookCalls.length, 1);
  assert.deepEqual({ ...hookCalls[0] }, { kind: 'addChain', method: 'wallet_addEthereumChain', chainId: 'eip155:137', rpcUrl: 'http://127.0.0.1:9000/', chainName: 'Polygon' });
  await provider.request({ method: 'eth_blockNumber' });
  assert.equal(node.calls.at(-1).url, 'http://127.0.0.1:9000/');
  // A configured chain is switched to without asking, and its URL wins.
  await provider.request({ method: 'wallet_addEthereumChain', params: [{ chainId: '0x539', rpcUrls: ['http://evil.example'] }] });
  await provider.request({ method: 'eth_blockNumber' });
  assert.equal(node.calls.at(-1).url, URL1337);
  assert.equal(hookCalls.length, 1);
  // Switching back to the added chain asks again.
  await provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: '0x89' }] });
  assert.equal(hookCalls.length, 2);
  assert.equal(hookCalls[1].kind, 'switchChain');
  assert.deepEqual(changes, ['0x89', '0x539', '0x89']);
  await provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: '0x539' }] });

  // A node on another chain, plain http off loopback, and malformed params
  // are refused before anyone is asked.
  const before = node.calls.length;
  await rejectsWith(provider.request({ method: 'wallet_addEthereumChain', params: [{ chainId: '0xa', rpcUrls: ['https://polygon.example'] }] }), -32602, /is on chain 0x1, not 0xa/);
  assert.equal(node.calls.length, before + 1);
  for (const params of [[{ chainId: '0xa' }], [{ chainId: '0xa', rpcUrls: [] }], [{ chainId: '0xa', rpcUrls: ['javascript:alert(1)'] }],
    [{ chainId: '0xa', rpcUrls: ['http://rpc.example'] }], [{ chainId: '0xa', rpcUrls: ['http://user:pw@127.0.0.1:1'] }],
    [{ rpcUrls: ['http://x'] }], [{ chainId: '0x0a', rpcUrls: ['https://x.example'] }]]) {
    await rejectsWith(provider.request({ method: 'wallet_addEthereumChain', params }), -32602, undefined);
  }
  assert.equal(node.calls.length, before + 1);
  assert.equal(hookCalls.length, 2);
  assert.equal(provider.chainId, '0x539');
});

test('a chain the user does not approve is neither added nor switched to', async () => {
  const { provider, node, hookCalls } = setup({ hook: (d) => d.kind !== 'addChain' });
  node.chainIds['https://rpc.example/'] = '0xa';
  await rejectsWith(provider.request({ method: 'wallet_addEthereumChain', params: [{ chainId: '0xa', rpcUrls: ['https://rpc.example'] }] }), 4001);
  assert.equal(hookCalls.length, 1);
  assert.equal(provider.chainId, '0x539');
  await rejectsWith(provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: '0xa' }] }), 4902);
});

test('a transaction keeps the chain it was requested on, whatever switches meanwhile', async () => {
  let provider;
  let switched = false;
  const node = fakeNode({
    eth_getBlockByNumber: () => {
      // The dapp switches chains while the transaction is being filled.
      if (!switched) {
        switched = true;
        provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: '0x5' }] });
      }
      return { number: '0x10', baseFeePerGas: '0x3b9aca00' };
    },
  });
  const s = setup({ node, hook: () => true });
  provider = s.provider;
  const hash = await provider.request({ method: 'eth_sendTransaction', params: [{ to: TO, value: '0x1' }] });
  assert.equal(hash, TXHASH);
  assert.equal(provider.chainId, '0x5');
  assert.equal(s.hookCalls[0].chainId, 'eip155:1337');
  assert.equal(s.wallet.transactions[0].chainId, '0x539');
  // Every node call of the request, the send included, went to its chain.
  assert.ok(node.calls.every((c) => c.url === URL1337), JSON.stringify(node.calls.map((c) => c.url)));
});

test('the provider exposes no table of methods and its class is frozen', async () => {
  const mod = await import('../provider.js');
  assert.equal(mod.methods, undefined);
  assert.equal(mod.emitEvent, undefined);
  assert.ok(Object.isFrozen(DuetProvider) && Object.isFrozen(DuetProvider.prototype));
  const { provider } = setup();
  assert.equal(Object.getOwnPropertySymbols(provider).length, 0);
  assert.deepEqual(Object.keys(provider), []);
});

test('EIP-6963: the provider announces itself and answers requestProvider', () => {
  const { provider } = setup();
  const target = new EventTarget();
  const seen = [];
  target.addEventListener('eip6963:announceProvider', (e) => seen.push(e.detail));
  const stop = announceProvider(provider, target);
  assert.equal(seen.length, 1);
  const { info } = seen[0];
  assert.equal(seen[0].provider, provider);
  assert.equal(info.name, 'Duet');
  assert.equal(info.rdns, 'dev.duetwallet');
  assert.match(info.icon, /^data:image\/svg\+xml,/);
  assert.match(info.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(Object.isFrozen(seen[0]) && Object.isFrozen(info));
  assert.equal(providerInfo.name, 'Duet');
  target.dispatchEvent(new Event('eip6963:requestProvider'));
  assert.equal(seen.length, 2);
  assert.equal(seen[1].info.uuid, info.uuid);
  stop();
  target.dispatchEvent(new Event('eip6963:requestProvider'));
  assert.equal(seen.length, 2);
});
