import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';

// device-store.js is a classic script for the worker; run it as one.
vm.runInThisContext(readFileSync(new URL('../device-store.js', import.meta.url), 'utf8'), { filename: 'device-store.js' });
const S = globalThis.DuetDeviceStore;

const URL1 = 'https://duet.example';
const KEY_A1 = 'duet_cli_' + 'a'.repeat(32) + '_' + 'x'.repeat(43);
const KEY_A2 = 'duet_cli_' + 'a'.repeat(32) + '_' + 'y'.repeat(43);
const KEY_B = 'duet_cli_' + 'b'.repeat(32) + '_' + 'x'.repeat(43);

function contains(haystack, needle) {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) {
        continue outer;
      }
    }
    return true;
  }
  return false;
}

test('the namespace follows the server and the client, not the key secret', async () => {
  const a1 = await S.namespaceFor(URL1, KEY_A1);
  assert.match(a1, /^[0-9a-f]{32}$/);
  assert.equal(await S.namespaceFor(URL1, KEY_A2), a1);
  assert.notEqual(await S.namespaceFor(URL1, KEY_B), a1);
  assert.notEqual(await S.namespaceFor('https://other.example', KEY_A1), a1);
  // Keys of another shape stand for themselves.
  assert.notEqual(await S.namespaceFor(URL1, 'opaque-1'), await S.namespaceFor(URL1, 'opaque-2'));
  await assert.rejects(S.namespaceFor('', KEY_A1), { code: 'INVALID_ARGUMENT' });
  await assert.rejects(S.namespaceFor(URL1, ''), { code: 'INVALID_ARGUMENT' });
});

test('values round-trip, and a missing value is null', async () => {
  const store = await S.openDeviceStore({ url: URL1, apiKey: KEY_A1, backend: S.memoryBackend() });
  assert.equal(await store.get('share/active'), null);
  const share = new Uint8Array([1, 2, 3, 250, 251, 252]);
  await store.put('share/active', share);
  assert.deepEqual(await store.get('share/active'), share);
  await store.put('share/active', new Uint8Array([9]));
  assert.deepEqual(await store.get('share/active'), new Uint8Array([9]));
  await store.delete('share/active');
  assert.equal(await store.get('share/active'), null);
  // The methods work detached, as the device module may call them.
  const { put, get } = store;
  await put('p', new Uint8Array([4]));
  assert.deepEqual(await get('p'), new Uint8Array([4]));
});

test('a view into a larger buffer stores only its own bytes', async () => {
  const store = await S.openDeviceStore({ url: URL1, apiKey: KEY_A1, backend: S.memoryBackend() });
  const big = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7]);
  await store.put('v', big.subarray(2, 5));
  assert.deepEqual(await store.get('v'), new Uint8Array([2, 3, 4]));
});

test('the device key cannot be exported', async () => {
  const backend = S.memoryBackend();
  await S.openDeviceStore({ url: URL1, apiKey: KEY_A1, backend });
  const key = backend.keys.get('device-key');
  assert.equal(key.extractable, false);
  assert.equal(key.algorithm.name, 'AES-GCM');
  assert.equal(key.algorithm.length, 256);
  await assert.rejects(crypto.subtle.exportKey('raw', key));
});

test('what is stored is sealed: versioned, random IV, no plaintext', async () => {
  const backend = S.memoryBackend();
  const store = await S.openDeviceStore({ url: URL1, apiKey: KEY_A1, backend });
  const share = new TextEncoder().encode('a device share that must not be stored in the clear');
  await store.put('a', share);
  await store.put('b', share);
  const a = backend.values.get('a');
  const b = backend.values.get('b');
  assert.equal(a[0], 2);
  assert.equal(a.length, 1 + 12 + share.length + 16);
  assert.ok(!contains(a, share.subarray(0, 16)));
  assert.notDeepEqual(a.subarray(1, 13), b.subarray(1, 13));
});

test('a value moved to another name does not open', async () => {
  const backend = S.memoryBackend();
  const store = await S.openDeviceStore({ url: URL1, apiKey: KEY_A1, backend });
  await store.put('share/active', new Uint8Array([9]));
  await store.put('share/pending', new Uint8Array([1, 2, 3]));
  backend.values.set('share/active', backend.values.get('share/pending'));
  await assert.rejects(store.get('share/active'), (e) => e.code === 'INTERNAL' && /failed authentication/.test(e.message));
  assert.deepEqual(await store.get('share/pending'), new Uint8Array([1, 2, 3]));
});

test('a value copied into another wallet\'s store does not open', async () => {
  const backend = S.memoryBackend();
  const a = await S.openDeviceStore({ url: URL1, apiKey: KEY_A1, backend });
  await a.put('share/active', new Uint8Array([5]));
  // Same key, another namespace: only the associated data differs.
  const key = backend.keys.get('device-key');
  const b = new S.DeviceStore(backend, key, await S.namespaceFor(URL1, KEY_B));
  await assert.rejects(b.get('share/active'), { code: 'INTERNAL' });
});

test('a tampered value does not open', async () => {
  const backend = S.memoryBackend();
  const store = await S.openDeviceStore({ url: URL1, apiKey: KEY_A1, backend });
  await store.put('x', new Uint8Array(40).fill(3));
  for (const i of [0, 5, 20, 40 + 12]) {
    const t = backend.values.get('x').slice();
    t[i] ^= 1;
    const tampered = new S.DeviceStore({ ...backend, read: async (i) => [backend.values.get(i), t] }, backend.keys.get('device-key'), store.namespace);
    await assert.rejects(tampered.get('x'), { code: 'INTERNAL' }, `byte ${i}`);
  }
  const short = new S.DeviceStore({ ...backend, read: async (i) => [backend.values.get(i), new Uint8Array(10)] }, backend.keys.get('device-key'), store.namespace);
  await assert.rejects(short.get('x'), { code: 'INTERNAL' });
});

test('two openers racing for a new database end up with one key', async () => {
  const backend = S.memoryBackend();
  const [s1, s2] = await Promise.all([
    S.openDeviceStore({ url: URL1, apiKey: KEY_A1, backend }),
    S.openDeviceStore({ url: URL1, apiKey: KEY_A1, backend }),
  ]);
  await s1.put('share/active', new Uint8Array([7, 7]));
  assert.deepEqual(await s2.get('share/active'), new Uint8Array([7, 7]));
});

test('an extractable key found in storage is refused', async () => {
  const backend = S.memoryBackend();
  const weak = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
  await backend.addKey(weak);
  await assert.rejects(S.openDeviceStore({ url: URL1, apiKey: KEY_A1, backend }), { code: 'INTERNAL' });
});

test('bad names and values are refused', async () => {
  const store = await S.openDeviceStore({ url: URL1, apiKey: KEY_A1, backend: S.memoryBackend() });
  await assert.rejects(store.put('', new Uint8Array(1)), { code: 'INVALID_ARGUMENT' });
  await assert.rejects(store.put('x'.repeat(257), new Uint8Array(1)), { code: 'INVALID_ARGUMENT' });
  await assert.rejects(store.get(5), { code: 'INVALID_ARGUMENT' });
  await assert.rejects(store.put('x', 'a string'), { code: 'INVALID_ARGUMENT' });
  await assert.rejects(store.put('x', [1, 2]), { code: 'INVALID_ARGUMENT' });
});

test('an older value put back in place of a newer one does not open', async () => {
  const backend = S.memoryBackend();
  const store = await S.openDeviceStore({ url: URL1, apiKey: KEY_A1, backend });
  await store.put('share/active', new Uint8Array([1]));
  const old = backend.values.get('share/active').slice();
  await store.put('share/active', new Uint8Array([2]));
  backend.values.set('share/active', old);
  await assert.rejects(store.get('share/active'), (e) => e.code === 'INTERNAL' && /failed authentication/.test(e.message));
  // Nor does a deleted value put back.
  await store.put('share/pending', new Uint8Array([3]));
  const pending = backend.values.get('share/pending').slice();
  await store.delete('share/pending');
  assert.equal(await store.get('share/pending'), null);
  backend.values.set('share/pending', pending);
  await assert.rejects(store.get('share/pending'), (e) => e.code === 'INTERNAL' && /not in the index/.test(e.message));
});

test('an older index put back with newer values refuses them', async () => {
  const backend = S.memoryBackend();
  const store = await S.openDeviceStore({ url: URL1, apiKey: KEY_A1, backend });
  await store.put('share/active', new Uint8Array([1]));
  const oldIndex = backend.values.get(S.indexName).slice();
  await store.put('share/active', new Uint8Array([2]));
  backend.values.set(S.indexName, oldIndex);
  await assert.rejects(store.get('share/active'), { code: 'INTERNAL' });
});

// Seals as version 1 of the store did: no counter, no index.
async function sealV1(key, namespace, name, plaintext) {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ad = new TextEncoder().encode('duet device store v1\u0000' + namespace + '\u0000' + name);
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: ad, tagLength: 128 }, key, plaintext));
  const out = new Uint8Array(1 + 12 + ct.length);
  out[0] = 1;
  out.set(iv, 1);
  out.set(ct, 13);
  return out;
}

test('a version 1 store is moved to version 2 when opened, and version 1 values are refused after', async () => {
  const backend = S.memoryBackend();
  const namespace = await S.namespaceFor(URL1, KEY_A1);
  const key = await S.loadOrCreateKey(backend);
  backend.values.set('share/active', await sealV1(key, namespace, 'share/active', new Uint8Array([7, 7])));
  backend.values.set('wallet', await sealV1(key, namespace, 'wallet', new Uint8Array([8])));
  const oldActive = backend.values.get('share/active').slice();
  const store = await S.openDeviceStore({ url: URL1, apiKey: KEY_A1, backend });
  assert.deepEqual(await store.get('share/active'), new Uint8Array([7, 7]));
  assert.deepEqual(await store.get('wallet'), new Uint8Array([8]));
  assert.equal(backend.values.get('share/active')[0], 2);
  assert.ok(backend.values.has(S.indexName));
  backend.values.set('share/active', oldActive);
  await assert.rejects(store.get('share/active'), (e) => e.code === 'INTERNAL' && /malformed/.test(e.message));
  // A version 1 value that does not open stops the migration, and nothing changes.
  const b2 = S.memoryBackend();
  await S.loadOrCreateKey(b2);
  b2.values.set('x', await sealV1(key, namespace, 'x', new Uint8Array([1])));
  await assert.rejects(S.openDeviceStore({ url: URL1, apiKey: KEY_A1, backend: b2 }), { code: 'INTERNAL' });
  assert.deepEqual([...b2.values.keys()], ['x']);
});

test('two openers moving one version 1 store at once both end up with version 2', async () => {
  const backend = S.memoryBackend();
  const namespace = await S.namespaceFor(URL1, KEY_A1);
  const key = await S.loadOrCreateKey(backend);
  backend.values.set('share/active', await sealV1(key, namespace, 'share/active', new Uint8Array([4])));
  const [a, b] = await Promise.all([
    S.openDeviceStore({ url: URL1, apiKey: KEY_A1, backend }),
    S.openDeviceStore({ url: URL1, apiKey: KEY_A1, backend }),
  ]);
  assert.deepEqual(await a.get('share/active'), new Uint8Array([4]));
  assert.deepEqual(await b.get('share/active'), new Uint8Array([4]));
});

test('a value is sealed with the generation of its share', async () => {
  const backend = S.memoryBackend();
  const store = await S.openDeviceStore({ url: URL1, apiKey: KEY_A1, backend });
  await store.put('share/active', new Uint8Array([1]), { generation: 3 });
  assert.deepEqual(await store.get('share/active'), new Uint8Array([1]));
  const { index } = await store._index();
  assert.deepEqual(index.names.get('share/active'), { counter: 1, generation: 3 });
  // The associated data binds the generation: the same place with another
  // generation does not open.
  const key = backend.keys.get('device-key');
  const sealed = await S.seal(key, store.namespace, 'x', { counter: 1, generation: 2 }, new Uint8Array([9]));
  assert.deepEqual(await S.open(key, store.namespace, 'x', { counter: 1, generation: 2 }, sealed), new Uint8Array([9]));
  await assert.rejects(S.open(key, store.namespace, 'x', { counter: 1, generation: 3 }, sealed), /failed authentication/);
  await assert.rejects(S.open(key, store.namespace, 'x', { counter: 2, generation: 2 }, sealed), /failed authentication/);
  for (const generation of [-1, 1.5, '1', 2 ** 60]) {
    await assert.rejects(store.put('y', new Uint8Array([1]), { generation }), { code: 'INVALID_ARGUMENT' }, String(generation));
  }
  assert.equal(await store.get('y'), null);
});

test('values written after the site data was cleared under an open store open after a reload', async () => {
  // A backend whose data the browser clears while the store is open: the
  // next operation sees a new, empty database, as IndexedDB does.
  const inner = S.memoryBackend();
  let opened = 1;
  const backend = Object.create(inner, {
    opened: { get: () => opened },
    clear: {
      value() {
        inner.keys.clear();
        inner.values.clear();
        opened++;
      },
    },
  });
  const store = await S.openDeviceStore({ url: URL1, apiKey: KEY_A1, backend });
  await store.put('share/active', new Uint8Array([1]));
  backend.clear();
  assert.equal(await store.get('share/active'), null);
  await store.put('share/active', new Uint8Array([2]));
  const reloaded = await S.openDeviceStore({ url: URL1, apiKey: KEY_A1, backend });
  assert.deepEqual(await reloaded.get('share/active'), new Uint8Array([2]));

  // Another tab made a new key after the clear: writing under the old one
  // is refused rather than left unreadable.
  backend.clear();
  const other = await S.openDeviceStore({ url: URL1, apiKey: KEY_A1, backend });
  opened++;
  await assert.rejects(store.put('share/active', new Uint8Array([3])), { code: 'BUSY' });
  assert.equal(await other.get('share/active'), null);
});
