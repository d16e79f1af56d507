// passkey.js against a scripted WebAuthn credentials container; the real
// thing (Chromium's virtual authenticator with PRF) runs in e2e/.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, hkdfSync } from 'node:crypto';

import { keyFromPrf, passkeyBackupKey, prfSalt } from '../passkey.js';

globalThis.PublicKeyCredential ??= class {};

const wallet = '0123456789abcdef0123456789abcdef';
const prfOut = new Uint8Array(32).map((_, i) => 255 - i);

test('the key is HKDF-SHA-256 of the PRF output, bound to the wallet', async () => {
  const key = await keyFromPrf(prfOut, wallet);
  const want = new Uint8Array(hkdfSync('sha256', prfOut, 'duet/passkey-backup/v1', 'duet wallet backup key/' + wallet, 32));
  assert.deepEqual(key, want);
  assert.notDeepEqual(await keyFromPrf(prfOut, 'fedcba9876543210fedcba9876543210'), key);
  assert.notDeepEqual(await keyFromPrf(new Uint8Array(32), wallet), key);
  assert.deepEqual(await prfSalt(), new Uint8Array(createHash('sha256').update('duet passkey backup prf v1').digest()));
});

function fakeCredentials({ prf = true, results = prfOut } = {}) {
  const rawId = new Uint8Array([1, 2, 3, 4]).buffer;
  const calls = [];
  return {
    calls,
    async create(opts) {
      calls.push({ create: opts.publicKey });
      return { rawId, getClientExtensionResults: () => (prf ? { prf: { enabled: true } } : {}) };
    },
    async get(opts) {
      calls.push({ get: opts.publicKey });
      return { rawId, getClientExtensionResults: () => (prf ? { prf: { results: { first: results.buffer.slice(0) } } } : {}) };
    },
  };
}

test('a backup makes a discoverable passkey with PRF, then asks it for the output', async () => {
  const credentials = fakeCredentials();
  const key = await passkeyBackupKey(wallet, { create: true, credentials, rpName: 'Example' });
  assert.deepEqual(key, await keyFromPrf(prfOut, wallet));
  const [{ create }, { get }] = credentials.calls;
  assert.equal(create.rp.name, 'Example');
  assert.equal(create.authenticatorSelection.residentKey, 'required');
  assert.equal(create.authenticatorSelection.userVerification, 'required');
  assert.deepEqual(new Uint8Array(create.extensions.prf.eval.first), await prfSalt());
  assert.deepEqual(get.allowCredentials.map((c) => [...c.id]), [[1, 2, 3, 4]]);
  assert.deepEqual(new Uint8Array(get.extensions.prf.eval.first), await prfSalt());
});

test('a recovery with no remembered credential asks any discoverable passkey', async () => {
  const credentials = fakeCredentials();
  const key = await passkeyBackupKey(wallet, { credentials, rpId: 'example.com' });
  assert.deepEqual(key, await keyFromPrf(prfOut, wallet));
  assert.equal(credentials.calls.length, 1);
  assert.equal(credentials.calls[0].get.allowCredentials, undefined);
  assert.equal(credentials.calls[0].get.rpId, 'example.com');
});

test('no PRF, a cancelled prompt and no WebAuthn are clear errors', async () => {
  await assert.rejects(passkeyBackupKey(wallet, { create: true, credentials: fakeCredentials({ prf: false }) }), { code: 'UNSUPPORTED' });
  await assert.rejects(passkeyBackupKey(wallet, { credentials: fakeCredentials({ prf: false }) }), { code: 'UNSUPPORTED' });
  const cancelled = {
    create: async () => {
      throw Object.assign(new Error('cancelled'), { name: 'NotAllowedError' });
    },
    get: async () => {
      throw Object.assign(new Error('cancelled'), { name: 'NotAllowedError' });
    },
  };
  await assert.rejects(passkeyBackupKey(wallet, { create: true, credentials: cancelled }), { code: 'REJECTED' });
  await assert.rejects(passkeyBackupKey(wallet, { credentials: cancelled }), { code: 'REJECTED' });
  await assert.rejects(passkeyBackupKey(wallet, { credentials: {} }), { code: 'UNSUPPORTED' });
});
