import test from 'node:test';
import assert from 'node:assert/strict';
import {
  bytesToHex, digestBytes, formatSignature, hexToBytes, isAddress, isHexData, messageBytes, sameAddress,
} from '../bytes.js';

test('hex round trip', () => {
  const b = new Uint8Array([0, 1, 0x7f, 0x80, 0xab, 0xff]);
  assert.equal(bytesToHex(b), '0x00017f80abff');
  assert.deepEqual(hexToBytes('0x00017F80ABff'), b);
  assert.deepEqual(hexToBytes('0x'), new Uint8Array());
});

test('hexToBytes rejects what is not 0x hex of whole bytes', () => {
  for (const s of ['', '00', '0x0', '0xzz', '0x 0', 'hello', '0X00']) {
    assert.throws(() => hexToBytes(s), { code: 'INVALID_ARGUMENT' }, s);
    assert.equal(isHexData(s), false, s);
  }
  assert.throws(() => hexToBytes(12), { code: 'INVALID_ARGUMENT' });
});

test('messageBytes reads strings as UTF-8, never as hex', () => {
  assert.deepEqual(messageBytes('é'), new Uint8Array([0xc3, 0xa9]));
  assert.deepEqual(messageBytes('0x00'), new Uint8Array([0x30, 0x78, 0x30, 0x30]));
  const raw = new Uint8Array([1, 2]);
  assert.equal(messageBytes(raw), raw);
  assert.throws(() => messageBytes(5), { code: 'INVALID_ARGUMENT' });
});

test('digestBytes wants exactly 32 bytes', () => {
  const d = new Uint8Array(32).fill(7);
  assert.deepEqual(digestBytes(bytesToHex(d)), d);
  assert.equal(digestBytes(d), d);
  assert.throws(() => digestBytes(new Uint8Array(31)), { code: 'INVALID_ARGUMENT' });
  assert.throws(() => digestBytes('0x' + '00'.repeat(33)), { code: 'INVALID_ARGUMENT' });
  assert.throws(() => digestBytes('not hex'), { code: 'INVALID_ARGUMENT' });
});

test('formatSignature turns v ∈ {0,1} into 27/28', () => {
  const sig = new Uint8Array(65);
  sig.fill(0x11, 0, 32);
  sig.fill(0x22, 32, 64);
  for (const yParity of [0, 1]) {
    sig[64] = yParity;
    const f = formatSignature(sig);
    assert.equal(f.yParity, yParity);
    assert.equal(f.r, '0x' + '11'.repeat(32));
    assert.equal(f.s, '0x' + '22'.repeat(32));
    assert.equal(f.signature, '0x' + '11'.repeat(32) + '22'.repeat(32) + (27 + yParity).toString(16));
  }
  // The module's array is not modified.
  assert.equal(sig[64], 1);
});

test('formatSignature rejects malformed signatures', () => {
  const bad = new Uint8Array(65);
  bad[64] = 27;
  assert.throws(() => formatSignature(bad), { code: 'INTERNAL' });
  assert.throws(() => formatSignature(new Uint8Array(64)), { code: 'INTERNAL' });
  assert.throws(() => formatSignature(undefined), { code: 'INTERNAL' });
});

test('addresses compare without letter case', () => {
  const a = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';
  assert.ok(isAddress(a));
  assert.ok(sameAddress(a, a.toLowerCase()));
  assert.ok(!sameAddress(a, '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAee'));
  assert.ok(!sameAddress(a, a.slice(0, 41)));
  assert.ok(!isAddress(a.slice(2)));
});
