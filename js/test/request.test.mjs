// Strict parsing of signing requests (request.js), the device host's frozen
// descriptions (host.js), and the encodings against go-ethereum's vectors
// (bridge/testdata, made by bridge/vectors_test.go) and ethers.

import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  canonicalTransaction, canonicalTypedData, isSealed, parseStrictJSON, seal, typedDataJSON,
} from '../request.js';
import { DeviceHost } from '../host.js';
import { approvalGate, checkApprovalOptions } from '../approval.js';
import { ErrorCode } from '../errors.js';
import { ADDRESS, fakeChannel, fakeSigner } from './fake-device.mjs';
import { DuetProvider } from '../provider.js';

const vectorsDir = new URL('../../bridge/testdata/', import.meta.url);
const typedVectors = JSON.parse(readFileSync(new URL('eip712-vectors.json', vectorsDir), 'utf8'));
const txVectors = JSON.parse(readFileSync(new URL('tx-vectors.json', vectorsDir), 'utf8'));

const invalid = { code: ErrorCode.INVALID_ARGUMENT };

const permit = () => ({
  types: {
    EIP712Domain: [
      { name: 'name', type: 'string' }, { name: 'version', type: 'string' },
      { name: 'chainId', type: 'uint256' }, { name: 'verifyingContract', type: 'address' },
    ],
    Permit: [
      { name: 'owner', type: 'address' }, { name: 'spender', type: 'address' }, { name: 'value', type: 'uint256' },
      { name: 'nonce', type: 'uint256' }, { name: 'deadline', type: 'uint256' },
    ],
  },
  primaryType: 'Permit',
  domain: { name: 'Token', version: '1', chainId: 1337, verifyingContract: '0x' + 'cc'.repeat(20) },
  message: {
    owner: ADDRESS, spender: '0x' + 'ee'.repeat(20), value: (2n ** 256n - 1n).toString(), nonce: 0, deadline: '0x10',
  },
});

test('parseStrictJSON refuses duplicate keys and non-canonical numbers', () => {
  assert.deepEqual({ ...parseStrictJSON('{"a":[1,-2,"x"],"b":{"c":null}}') }.a, [1, -2, 'x']);
  const proto = parseStrictJSON('{"__proto__":{"x":1}}');
  assert.equal(Object.getPrototypeOf(proto), null);
  assert.equal(proto.__proto__.x, 1);
  for (const bad of ['{"a":1,"a":2}', '{"a":{"b":1,"b":1}}', '[1.5]', '[1e3]', '[01]', '[9007199254740992]', '[-0]',
    '{"a":1', '{"a":1}x', "{'a':1}", '[1,]', '{"a" 1}']) {
    assert.throws(() => parseStrictJSON(bad), invalid, bad);
  }
});

test('typed data becomes one canonical form, whatever its spelling', () => {
  const a = canonicalTypedData(permit());
  const b = canonicalTypedData(JSON.stringify(permit()));
  const c = canonicalTypedData({ ...permit(), domain: { ...permit().domain, chainId: '0x539' } });
  assert.deepEqual(a, b);
  assert.deepEqual(a, c);
  assert.equal(a.domain.chainId, '1337');
  assert.equal(a.message.owner, ADDRESS.toLowerCase());
  assert.equal(a.message.value, (2n ** 256n - 1n).toString());
  assert.equal(a.message.deadline, '16');
  assert.deepEqual(Object.keys(a), ['types', 'primaryType', 'domain', 'message']);
  assert.deepEqual(canonicalTypedData(typedDataJSON(a)), a);
});

test('typed data with case-variant, duplicate or unknown keys is refused', () => {
  const p = permit();
  const cases = {
    'case-variant domain key': { ...p, domain: { ...p.domain, chainid: 1 } },
    'capitalised top key': { types: p.types, primaryType: p.primaryType, domain: p.domain, Message: p.message },
    'extra top key': { ...p, Message: { ...p.message, value: '1' } },
    'unknown message key': { ...p, message: { ...p.message, Value: '1' } },
    'unknown type entry key': { ...p, types: { ...p.types, Permit: [...p.types.Permit, { name: 'x', type: 'uint8', Type: 'string' }] } },
    'duplicate JSON key': JSON.stringify(p).replace('"chainId":1337', '"chainId":1337,"chainId":1'),
    'duplicate in message': JSON.stringify(p).replace('"nonce":0', '"nonce":0,"nonce":1'),
    'missing message field': { ...p, message: { ...p.message, deadline: undefined } },
    'uint alias': { ...p, types: { ...p.types, Permit: [{ name: 'owner', type: 'uint' }] }, message: { owner: 1 } },
    'int alias in array': { ...p, types: { ...p.types, Permit: [{ name: 'owner', type: 'int[]' }] }, message: { owner: [1] } },
    'unsafe number': { ...p, message: { ...p.message, value: 2 ** 60 } },
    'fractional number': { ...p, message: { ...p.message, nonce: 1.5 } },
    'out of range': { ...p, message: { ...p.message, value: (2n ** 256n).toString() } },
    'negative unsigned': { ...p, message: { ...p.message, nonce: -1 } },
    'leading zero decimal': { ...p, message: { ...p.message, nonce: '01' } },
    'domain out of order': { ...p, types: { ...p.types, EIP712Domain: [...p.types.EIP712Domain].reverse() } },
    'domain field not declared': { ...p, domain: { ...p.domain, salt: '0x' + '00'.repeat(32) } },
    'short bytes32': {
      ...p, types: { ...p.types, Permit: [{ name: 'h', type: 'bytes32' }] }, message: { h: '0x01' },
    },
    'recursive type': {
      ...p, types: { ...p.types, Node: [{ name: 'next', type: 'Node[]' }] }, primaryType: 'Node', message: { next: [] },
    },
    'getter': { ...p, message: Object.defineProperty({ ...p.message }, 'value', { get: () => '1', enumerable: true }) },
    'primary EIP712Domain': { ...p, primaryType: 'EIP712Domain' },
  };
  for (const [name, td] of Object.entries(cases)) {
    if (td.message && 'deadline' in td.message && td.message.deadline === undefined) {
      delete td.message.deadline;
    }
    assert.throws(() => canonicalTypedData(td), invalid, name);
  }
  assert.throws(() => canonicalTypedData(cases['uint alias']), /alias/);
});

test('transactions: exact keys, canonical quantities', () => {
  const tx = {
    type: '0x2', chainId: '0x539', nonce: '0x0', to: '0x' + 'AB'.repeat(20), value: '0x10', data: '0xABCD',
    gas: '0x5208', maxFeePerGas: '0x2', maxPriorityFeePerGas: '0x1',
  };
  assert.deepEqual(canonicalTransaction(tx), {
    type: '0x2', chainId: '0x539', nonce: '0x0', to: '0x' + 'ab'.repeat(20), value: '0x10', data: '0xabcd',
    gas: '0x5208', maxFeePerGas: '0x2', maxPriorityFeePerGas: '0x1', accessList: [],
  });
  for (const [name, bad] of Object.entries({
    'case variant': { ...tx, ChainId: '0x1' },
    'leading zero': { ...tx, nonce: '0x00' },
    'number': { ...tx, gas: 21000 },
    'no gas': { ...tx, gas: undefined },
    'fees of another type': { ...tx, gasPrice: '0x1' },
    'tip above cap': { ...tx, maxPriorityFeePerGas: '0x3' },
    'type 3': { ...tx, type: '0x3' },
  })) {
    assert.throws(() => canonicalTransaction(bad), invalid, name);
  }
});

test('a description is deep-frozen, and only the SDK makes one', () => {
  const d = seal({ a: { b: [1, { c: 2 }] } });
  assert.ok(isSealed(d));
  assert.ok(Object.isFrozen(d.a.b[1]));
  assert.ok(!isSealed({ a: 1 }));
});

test('typed data mutated after the request changes nothing: the hook sees and the device hashes one copy', async () => {
  const signer = fakeSigner({
    hook: async (d) => {
      // The dapp rewrites its object while the user looks at the request.
      td.message.value = '1';
      td.message.spender = '0x' + '00'.repeat(20);
      td.domain.chainId = 1;
      shown.push(d);
      assert.throws(() => { d.typedData.message.value = '1'; }, TypeError);
      return true;
    },
  });
  const shown = [];
  const td = permit();
  const provider = new DuetProvider(signer, { chainId: 1337 });
  await provider.request({ method: 'eth_signTypedData_v4', params: [ADDRESS, td] });
  assert.equal(shown.length, 1);
  assert.equal(shown[0].typedData.message.value, (2n ** 256n - 1n).toString());
  assert.equal(shown[0].typedData.message.spender, '0x' + 'ee'.repeat(20));
  // The device hashed exactly what was shown.
  assert.deepEqual(signer.channel.typed, [typedDataJSON(shown[0].typedData)]);
  assert.equal(signer.channel.digests.length, 1);
});

test('the host refuses requests for another address and unknown kinds', async () => {
  const host = new DeviceHost(fakeChannel(), approvalGate({ autoApprove: true }));
  await assert.rejects(host.authorize({ kind: 'message', method: 'x', address: '0x' + '11'.repeat(20), message: '0x00' }), { code: ErrorCode.UNAUTHORIZED });
  await assert.rejects(host.authorize({ kind: 'nothing', method: 'x' }), invalid);
  await assert.rejects(host.authorize({ kind: 'digest', method: 'x', digest: '0x1234' }), invalid);
  await assert.rejects(host.call('sign', { digest: new Uint8Array(32) }), invalid);
  await assert.rejects(host.call('signTransaction', {}), invalid);
  const noWallet = new DeviceHost(fakeChannel(null), approvalGate({ autoApprove: true }));
  await assert.rejects(noWallet.authorize({ kind: 'digest', method: 'x', digest: '0x' + '00'.repeat(32) }), { code: ErrorCode.NO_WALLET });
});

test('approval: only true approves, autoApprove is explicit, and without a page nothing is approved', async () => {
  for (const answer of [false, 'true', 1, undefined, null]) {
    await assert.rejects(approvalGate({ onSignatureRequest: () => answer })({}), { code: ErrorCode.REJECTED }, String(answer));
  }
  await assert.rejects(approvalGate({ onSignatureRequest: () => { throw new Error('closed'); } })({}), /closed/);
  await approvalGate({ onSignatureRequest: () => true })({});
  await approvalGate({ autoApprove: true })({});
  await assert.rejects(approvalGate({ document: undefined })({ kind: 'digest' }), (e) => e.code === ErrorCode.REJECTED && /autoApprove/.test(e.message));
  assert.throws(() => checkApprovalOptions({ autoApprove: 'yes' }), invalid);
  assert.throws(() => checkApprovalOptions({ hooks: { onSignatureRequest: 1 } }), invalid);
  assert.throws(() => checkApprovalOptions({ hooks: { onSignatureRequest: () => true }, autoApprove: true }), invalid);
  assert.deepEqual(checkApprovalOptions({}), { onSignatureRequest: undefined, autoApprove: false });
});

test('requests are shown one at a time', async () => {
  const order = [];
  let release;
  const first = new Promise((r) => { release = r; });
  const approve = approvalGate({
    onSignatureRequest: async (d) => {
      order.push('show ' + d.n);
      if (d.n === 1) {
        await first;
      }
      order.push('done ' + d.n);
      return true;
    },
  });
  const a = approve({ n: 1 });
  const b = approve({ n: 2 });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, ['show 1']);
  release();
  await Promise.all([a, b]);
  assert.deepEqual(order, ['show 1', 'done 1', 'show 2', 'done 2']);
});

test('go-ethereum\'s random typed data is canonical here too, byte for byte', () => {
  assert.ok(typedVectors.length >= 40 && txVectors.length >= 40);
  for (const [i, v] of typedVectors.entries()) {
    const c = canonicalTypedData(v.typedData);
    assert.equal(typedDataJSON(c), JSON.stringify(v.typedData), `vector ${i}`);
  }
});

test('go-ethereum\'s random transactions are canonical here too', () => {
  for (const [i, v] of txVectors.entries()) {
    const want = { ...v.transaction };
    if (want.to) {
      want.to = want.to.toLowerCase();
    }
    if (want.type === '0x0') {
      delete want.accessList;
    } else {
      want.accessList = (want.accessList ?? []).map((e) => ({ address: e.address.toLowerCase(), storageKeys: e.storageKeys }));
    }
    assert.deepEqual(canonicalTransaction(v.transaction), want, `vector ${i}`);
  }
});

const ethersPath = join(homedir(), '.cache/duet/npm-ethers-6.17.0/node_modules/ethers/lib.esm/index.js');

test('ethers agrees with go-ethereum on the random vectors', async (t) => {
  if (!existsSync(ethersPath)) {
    t.skip(`ethers is not installed at ${ethersPath} (make ${'$(DUET_ETHERS_JS)'} installs it)`);
    return;
  }
  const { ethers } = await import(pathToFileURL(ethersPath).href);
  for (const [i, v] of typedVectors.entries()) {
    const td = canonicalTypedData(v.typedData);
    const types = { ...td.types };
    delete types.EIP712Domain;
    const domain = { ...td.domain };
    assert.equal(ethers.TypedDataEncoder.hash(domain, types, td.message), v.digest, `typed data vector ${i}`);
  }
  for (const [i, v] of txVectors.entries()) {
    const c = canonicalTransaction(v.transaction);
    const tx = ethers.Transaction.from({
      type: Number(c.type), chainId: BigInt(c.chainId), nonce: Number(c.nonce), to: c.to ?? null, value: BigInt(c.value),
      data: c.data, gasLimit: BigInt(c.gas), gasPrice: c.gasPrice, maxFeePerGas: c.maxFeePerGas,
      maxPriorityFeePerGas: c.maxPriorityFeePerGas, accessList: c.accessList,
    });
    assert.equal(tx.unsignedHash, v.signingHash, `transaction vector ${i}`);
  }
});

test('a field named __proto__ stays a field', () => {
  const td = canonicalTypedData('{"types":{"EIP712Domain":[{"name":"name","type":"string"}],"T":[{"name":"__proto__","type":"string"}]},' +
    '"primaryType":"T","domain":{"name":"x"},"message":{"__proto__":"hi"}}');
  assert.equal(Object.getPrototypeOf(td.message), Object.prototype);
  assert.equal(Object.getOwnPropertyDescriptor(td.message, '__proto__').value, 'hi');
  assert.match(typedDataJSON(td), /"message":\{"__proto__":"hi"\}/);
  assert.throws(() => canonicalTypedData({ ...permit(), types: { ...permit().types, _Hidden: [] } }), invalid);
});
