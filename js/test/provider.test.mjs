import test from 'node:test';
import assert from 'node:assert/strict';
import {
  DuetProvider, ProviderErrorCode, ProviderRpcError, normalizeChainId, personalMessageBytes,
} from '../provider.js';
import { DuetError, ErrorCode } from '../errors.js';
import { ADDRESS, SIG, fakeSigner } from './fake-device.mjs';

// A signer whose device records the messages it hashes for signing.
function fakeWallet(address = ADDRESS) {
  const w = fakeSigner({ address });
  w.signed = w.channel.messages;
  return w;
}

async function rejectsWith(p, code) {
  await assert.rejects(p, (e) => {
    assert.ok(e instanceof ProviderRpcError, `want ProviderRpcError, got ${e}`);
    assert.ok(e instanceof Error);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

test('eth_chainId defaults to 1337 and follows the option', async () => {
  assert.equal(await new DuetProvider(fakeWallet()).request({ method: 'eth_chainId' }), '0x539');
  assert.equal(await new DuetProvider(fakeWallet(), { chainId: 1 }).request({ method: 'eth_chainId' }), '0x1');
  assert.equal(await new DuetProvider(fakeWallet(), { chainId: '0x89' }).request({ method: 'eth_chainId' }), '0x89');
});

test('normalizeChainId rejects what is not a positive integer', () => {
  for (const v of [0, -1, 1.5, '137', '0x', 'abc', null, NaN, 2 ** 60]) {
    assert.throws(() => normalizeChainId(v), { code: ProviderErrorCode.INVALID_PARAMS }, String(v));
  }
  assert.equal(normalizeChainId(11155111n), '0xaa36a7');
});

test('eth_accounts lists the wallet, or nothing', async () => {
  assert.deepEqual(await new DuetProvider(fakeWallet()).request({ method: 'eth_accounts' }), [ADDRESS]);
  assert.deepEqual(await new DuetProvider(fakeWallet(null)).request({ method: 'eth_accounts' }), []);
});

test('eth_requestAccounts without a wallet is unauthorized', async () => {
  assert.deepEqual(await new DuetProvider(fakeWallet()).request({ method: 'eth_requestAccounts' }), [ADDRESS]);
  await rejectsWith(new DuetProvider(fakeWallet(null)).request({ method: 'eth_requestAccounts' }), 4100);
});

test('personal_sign signs hex as bytes and anything else as UTF-8', async () => {
  const w = fakeWallet();
  const p = new DuetProvider(w);
  assert.equal(await p.request({ method: 'personal_sign', params: ['0xdeadbeef', ADDRESS] }), SIG);
  assert.equal(await p.request({ method: 'personal_sign', params: ['hello', ADDRESS.toLowerCase()] }), SIG);
  assert.equal(await p.request({ method: 'personal_sign', params: ['0xabc', ADDRESS] }), SIG);
  assert.deepEqual(w.signed, [
    new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
    new TextEncoder().encode('hello'),
    new TextEncoder().encode('0xabc'),
  ]);
});

test('personal_sign checks its params', async () => {
  const w = fakeWallet();
  const p = new DuetProvider(w);
  const bad = [
    undefined,
    [],
    ['hello'],
    [42, ADDRESS],
    ['hello', 'not an address'],
    ['hello', ADDRESS.slice(0, 40)],
    { message: 'hello', address: ADDRESS },
  ];
  for (const params of bad) {
    await rejectsWith(p.request({ method: 'personal_sign', params }), -32602);
  }
  await rejectsWith(p.request({ method: 'personal_sign', params: 'hello' }), -32602);
  assert.equal(w.signed.length, 0);
});

test('personal_sign for another address, or without a wallet, is unauthorized', async () => {
  const other = '0x' + '11'.repeat(20);
  await rejectsWith(new DuetProvider(fakeWallet()).request({ method: 'personal_sign', params: ['hi', other] }), 4100);
  await rejectsWith(new DuetProvider(fakeWallet(null)).request({ method: 'personal_sign', params: ['hi', other] }), 4100);
});

test('wallet errors become provider errors that keep the SDK code', async () => {
  const w = fakeWallet();
  const p = new DuetProvider(w);
  const cases = [
    [ErrorCode.NETWORK, -32603],
    [ErrorCode.PROTOCOL_ABORT, -32603],
    [ErrorCode.NO_WALLET, 4100],
    [ErrorCode.UNAUTHORIZED, 4100],
    [ErrorCode.INVALID_ARGUMENT, -32602],
    [ErrorCode.CLOSED, 4900],
    [ErrorCode.REJECTED, 4001],
  ];
  for (const [sdk, want] of cases) {
    w.channel.fail = new DuetError(sdk, 'duet: ' + sdk);
    await assert.rejects(p.request({ method: 'personal_sign', params: ['hi', ADDRESS] }), (e) => {
      assert.equal(e.code, want, sdk);
      assert.deepEqual(e.data, { code: sdk });
      assert.equal(e.message, 'duet: ' + sdk);
      return true;
    });
  }
});

test('wallet methods Duet lacks and malformed requests are refused', async () => {
  const p = new DuetProvider(fakeWallet());
  for (const method of ['wallet_watchAsset', 'eth_signTypedData_v3', 'eth_signTypedData', 'personal_unlockAccount',
    'eth_subscribe', 'eth_coinbase', 'eth_decrypt']) {
    await rejectsWith(p.request({ method, params: [] }), 4200);
  }
  await rejectsWith(p.request({ method: 'toString' }), 4200);
  await rejectsWith(p.request({ method: '__proto__' }), 4200);
  await rejectsWith(p.request(null), -32600);
  await rejectsWith(p.request({}), -32600);
  await rejectsWith(p.request('eth_accounts'), -32600);
  await rejectsWith(p.request({ method: 'eth_accounts', params: 5 }), -32602);
});

test('listeners are added, called and removed', () => {
  const w = fakeWallet();
  const p = new DuetProvider(w);
  const emit = w.control.emit;
  const got = [];
  const l = (a) => got.push(['l', a]);
  const o = (a) => got.push(['once', a]);
  assert.equal(p.on('accountsChanged', l), p);
  p.once('accountsChanged', o);
  assert.equal(p.listenerCount('accountsChanged'), 2);
  emit('accountsChanged', [ADDRESS]);
  emit('accountsChanged', []);
  p.removeListener('accountsChanged', l);
  emit('accountsChanged', ['x']);
  assert.deepEqual(got, [['l', [ADDRESS]], ['once', [ADDRESS]], ['l', []]]);
  assert.equal(p.listenerCount('accountsChanged'), 0);
  assert.throws(() => p.on('nonsense', l), TypeError);
  assert.throws(() => p.on('connect', 'not a function'), TypeError);
});

test('a once listener can be removed before it fires', () => {
  const w = fakeWallet();
  const p = new DuetProvider(w);
  let called = false;
  const o = () => { called = true; };
  p.once('chainChanged', o);
  p.off('chainChanged', o);
  w.control.emit('chainChanged', '0x1');
  assert.equal(called, false);
});

test('after disconnect the provider emits once and refuses requests with 4900', async () => {
  const w = fakeWallet();
  const p = new DuetProvider(w);
  const events = [];
  p.on('disconnect', (e) => events.push(e));
  assert.equal(p.isConnected(), true);
  w.control.disconnect(new DuetError(ErrorCode.INTERNAL, 'duet: device module exited'));
  w.control.disconnect(new DuetError(ErrorCode.CLOSED, 'duet: closed'));
  assert.equal(events.length, 1);
  assert.equal(events[0].code, 4900);
  assert.deepEqual(events[0].data, { code: 'INTERNAL' });
  assert.equal(p.isConnected(), false);
  await rejectsWith(p.request({ method: 'eth_accounts' }), 4900);
  await rejectsWith(p.request({ method: 'wallet_no_such_method' }), 4200);
  await rejectsWith(p.request({ method: 'eth_blockNumber' }), 4900);
});

test('personalMessageBytes decodes only whole-byte hex', () => {
  assert.deepEqual(personalMessageBytes('0x'), new Uint8Array());
  assert.deepEqual(personalMessageBytes('0x0a'), new Uint8Array([10]));
  assert.deepEqual(personalMessageBytes('0x0'), new TextEncoder().encode('0x0'));
});
