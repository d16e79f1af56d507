// Browser tests of the SDK and the demo page, run in headless Chromium by
// js/test/browser.test.mjs against its test server and the fake device module
// (fake-wasm-exec.js). The page runs in stages across real reloads and posts
// every check's outcome to /__result.

import { Duet, DuetError, ErrorCode, ProviderRpcError } from '/duet.js';

const stageKey = 'duet-test/stage';
const results = [];

function record(name, ok, detail) {
  results.push({ name, ok, detail });
  const li = document.createElement('li');
  li.textContent = `${ok ? 'ok' : 'FAIL'} ${name}${detail ? ': ' + detail : ''}`;
  document.getElementById('results').append(li);
}

// A check that hangs fails alone instead of stalling the rest.
const checkTimeoutMs = 15000;

async function check(name, fn) {
  try {
    const t0 = performance.now();
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`did not finish within ${checkTimeoutMs} ms`)), checkTimeoutMs);
    });
    try {
      await Promise.race([fn(), timeout]);
    } finally {
      clearTimeout(timer);
    }
    record(name, true, `${Math.round(performance.now() - t0)} ms`);
  } catch (err) {
    record(name, false, `${err && err.stack ? err.stack : err}`);
  }
}

function assert(cond, message) {
  if (!cond) {
    throw new Error(message);
  }
}

function equal(got, want, what) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  assert(g === w, `${what}: got ${g}, want ${w}`);
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const el = document.createElement('script');
    el.src = src;
    el.onload = resolve;
    el.onerror = () => reject(new Error('cannot load ' + src));
    document.head.append(el);
  });
}

async function rejectsWith(promise, code, what) {
  let err = null;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert(err !== null, `${what}: resolved, want rejection with ${code}`);
  assert(err.code === code, `${what}: got code ${err.code} (${err.message}), want ${code}`);
  return err;
}

function waitFor(pred, what, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    (function poll() {
      let v;
      try {
        v = pred();
      } catch {
        v = false;
      }
      if (v) {
        resolve(v);
      } else if (Date.now() > deadline) {
        reject(new Error(`timed out waiting for ${what}`));
      } else {
        setTimeout(poll, 20);
      }
    })();
  });
}

// The demo keys: the client's, as GET /dev/client-key serves it, and the
// organization's, which duetd keeps in its data folder (the fake server's
// /__dev-keys).
async function devKeys() {
  const res = await fetch('/__dev-keys');
  return res.json();
}

async function deviceDatabases() {
  return (await indexedDB.databases()).map((d) => d.name).filter((n) => n.startsWith('duet-device-'));
}

function idbRequest(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function readDatabase(name) {
  const db = await idbRequest(indexedDB.open(name));
  try {
    const tx = db.transaction(['keys', 'values']);
    const key = await idbRequest(tx.objectStore('keys').get('device-key'));
    const names = await idbRequest(tx.objectStore('values').getAllKeys());
    const values = {};
    for (const n of names) {
      values[n] = await idbRequest(db.transaction('values').objectStore('values').get(n));
    }
    return { key, values };
  } finally {
    db.close();
  }
}

async function deleteDatabases() {
  for (const name of await deviceDatabases()) {
    await idbRequest(indexedDB.deleteDatabase(name));
  }
}

function includesBytes(haystack, needle) {
  const h = new TextDecoder('latin1').decode(haystack);
  return h.includes(needle);
}

// What the fake device module signs for personal_sign(message bytes).
async function expectedPersonalSignature(bytes) {
  const prefix = new TextEncoder().encode('\x19Ethereum Signed Message:\n' + bytes.length);
  const input = new Uint8Array(prefix.length + bytes.length);
  input.set(prefix);
  input.set(bytes, prefix.length);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', input));
  const s = new Uint8Array(await crypto.subtle.digest('SHA-256', digest));
  const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return '0x' + hex(digest) + hex(s) + (27 + (digest[31] & 1)).toString(16);
}

async function stageOne() {
  localStorage.clear();
  await deleteDatabases();
  const keys = await devKeys();
  const events = [];
  let duet;

  await check('connect reports loading and readiness', async () => {
    duet = await Duet.connect({ autoApprove: true, apiKey: keys.clientApiKey, onProgress: (e) => events.push(e) });
    equal(events.map((e) => `${e.operation}/${e.phase}`), ['connect/check', 'connect/load', 'connect/ready'], 'events');
    equal(duet.isWalletOnDevice(), false, 'isWalletOnDevice');
    equal(duet.address, null, 'address');
    equal(await duet.doesWalletExist(), false, 'doesWalletExist');
    equal(duet.url, location.origin, 'default url');
  });

  await check('the provider emits no connect until a dapp asks for the accounts', async () => {
    const d = await Duet.connect({ autoApprove: true, apiKey: keys.clientApiKey });
    const got = [];
    d.provider.on('connect', (info) => got.push(info));
    await new Promise((r) => setTimeout(r, 100));
    await rejectsWith(d.provider.request({ method: 'eth_requestAccounts' }), 4100, 'eth_requestAccounts without a wallet');
    equal(got, [], 'connect events without a wallet');
    d.close();
  });

  const accountEvents = [];
  let address;
  await check('createWallet reports each phase and round and stores the wallet', async () => {
    duet.provider.on('accountsChanged', (a) => accountEvents.push(a));
    const own = [];
    events.length = 0;
    const res = await duet.createWallet({ onProgress: (e) => own.push(e) });
    address = res.address;
    equal(res.generation, 1, 'generation');
    const want = [
      'keygen/1', 'keygen/2', 'keygen/3', 'aux-info/1', 'aux-info/2', 'aux-info/3',
    ];
    equal(own.map((e) => `${e.phase}/${e.round}`), want, 'per-call progress');
    equal(events.map((e) => `${e.operation}:${e.phase}/${e.round}`), want.map((w) => 'createWallet:' + w), 'connect-level progress');
    equal(duet.isWalletOnDevice(), true, 'isWalletOnDevice');
    equal(duet.address, address, 'address');
    equal(accountEvents, [[address]], 'accountsChanged');
    const info = await duet.getWalletInfo();
    equal(info.address, address, 'server address');
    equal(info.generation, 1, 'server generation');
    equal(await duet.doesWalletExist(), true, 'doesWalletExist');
    const connects = [];
    duet.provider.on('connect', (info) => connects.push(info));
    equal(await duet.provider.request({ method: 'eth_accounts' }), [address], 'eth_accounts');
    equal(connects, [], 'connect events before eth_requestAccounts');
    equal(await duet.provider.request({ method: 'eth_requestAccounts' }), [address], 'eth_requestAccounts');
    equal(await duet.provider.request({ method: 'eth_requestAccounts' }), [address], 'eth_requestAccounts again');
    equal(connects, [{ chainId: '0x539' }], 'connect events after eth_requestAccounts');
  });

  await check('IndexedDB holds a non-extractable key and only sealed values', async () => {
    const names = await deviceDatabases();
    equal(names.length, 1, 'databases');
    const { key, values } = await readDatabase(names[0]);
    assert(key instanceof CryptoKey, 'stored key is a CryptoKey');
    equal([key.extractable, key.algorithm.name, key.algorithm.length], [false, 'AES-GCM', 256], 'key');
    let exported = true;
    try {
      await crypto.subtle.exportKey('raw', key);
    } catch {
      exported = false;
    }
    equal(exported, false, 'exportKey');
    equal(Object.keys(values), ['\u0000index', 'share/active'], 'stored names (pending deleted)');
    const sealed = new Uint8Array(values['share/active']);
    equal(sealed[0], 2, 'seal version');
    assert(!includesBytes(sealed, 'FAKE-SHARE-PLAINTEXT'), 'share stored in the clear');
    assert(!includesBytes(sealed, address.slice(2)), 'address stored in the clear');
  });

  await check('in IndexedDB, an older sealed value put back is refused', async () => {
    await loadScript('/device-store.js');
    const apiKey = 'duet_cli_' + 'e'.repeat(32) + '_rollback';
    const store = await DuetDeviceStore.openDeviceStore({ url: location.origin, apiKey });
    await store.put('share/active', new Uint8Array([1]));
    const dbName = DuetDeviceStore.databaseName(store.namespace);
    const old = (await readDatabase(dbName)).values['share/active'];
    await store.put('share/active', new Uint8Array([2]));
    equal(await store.get('share/active'), new Uint8Array([2]), 'newer value');
    const db = await idbRequest(indexedDB.open(dbName));
    await idbRequest(db.transaction('values', 'readwrite').objectStore('values').put(old, 'share/active'));
    db.close();
    await rejectsWith(store.get('share/active'), 'INTERNAL', 'rolled-back value');
    store._backend.close();
    await idbRequest(indexedDB.deleteDatabase(dbName));
  });

  await check('personal_sign signs UTF-8 and hex messages, v = 27/28', async () => {
    const text = await duet.provider.request({ method: 'personal_sign', params: ['Hello, Duet ✓', address] });
    equal(text, await expectedPersonalSignature(new TextEncoder().encode('Hello, Duet ✓')), 'utf-8');
    const hex = await duet.provider.request({ method: 'personal_sign', params: ['0x00ff10', address.toUpperCase().replace('0X', '0x')] });
    equal(hex, await expectedPersonalSignature(new Uint8Array([0, 255, 16])), 'hex');
    assert(/^0x[0-9a-f]{128}(1b|1c)$/.test(text), `signature shape ${text}`);
  });

  await check('signDigest returns r, s, yParity and the 65-byte signature', async () => {
    const digest = new Uint8Array(32).fill(9);
    digest[31] = 3;
    const sig = await duet.signDigest(digest);
    equal(sig.r, '0x' + '09'.repeat(31) + '03', 'r');
    equal(sig.yParity, 1, 'yParity');
    equal(sig.signature, sig.r + sig.s.slice(2) + '1c', 'signature');
    await rejectsWith(duet.signDigest(new Uint8Array(31)), ErrorCode.INVALID_ARGUMENT, 'short digest');
  });

  await check('without a hook the SDK asks first and signs only what is approved', async () => {
    const d = await Duet.connect({ apiKey: keys.clientApiKey });
    const pending = d.signMessage('pay the attacker');
    let settled = false;
    pending.then(() => { settled = true; }, () => { settled = true; });
    await waitFor(() => document.querySelector('dialog.duet-approval') !== null, 'confirmation dialog');
    let dialog = document.querySelector('dialog.duet-approval');
    assert(dialog.open && !settled, 'dialog is open and nothing is signed');
    assert(dialog.getAttribute('aria-labelledby') && document.getElementById(dialog.getAttribute('aria-labelledby')), 'dialog is labelled');
    assert(dialog.textContent.includes('pay the attacker'), 'dialog shows the message');
    assert(document.activeElement === dialog.querySelector('.duet-approval-reject'), 'focus starts on Reject');
    dialog.querySelector('.duet-approval-reject').click();
    await rejectsWith(pending, ErrorCode.REJECTED, 'rejected');
    assert(document.querySelector('dialog.duet-approval') === null, 'dialog removed');
    const accepted = d.signMessage('fine');
    await waitFor(() => document.querySelector('dialog.duet-approval') !== null, 'second dialog');
    dialog = document.querySelector('dialog.duet-approval');
    dialog.querySelector('.duet-approval-approve').click();
    equal(await accepted, await expectedPersonalSignature(new TextEncoder().encode('fine')), 'approved signature');
    d.close();
  });

  await check('errors carry stable codes', async () => {
    const e = await rejectsWith(duet.createWallet(), ErrorCode.WALLET_EXISTS, 'second createWallet');
    assert(e instanceof DuetError && e instanceof Error, 'DuetError');
    const other = '0x' + '12'.repeat(20);
    const pe = await rejectsWith(duet.provider.request({ method: 'personal_sign', params: ['x', other] }), 4100, 'other address');
    assert(pe instanceof ProviderRpcError, 'ProviderRpcError');
    await rejectsWith(duet.provider.request({ method: 'wallet_watchAsset', params: [] }), 4200, 'unsupported');
    await rejectsWith(duet.provider.request({ method: 'personal_sign', params: ['x'] }), -32602, 'missing address');
    await rejectsWith(duet.backupWallet({ method: 'password' }), ErrorCode.INVALID_ARGUMENT, 'no password');
    await rejectsWith(duet.backupWallet({ method: 'sms', password: 'x' }), ErrorCode.INVALID_ARGUMENT, 'unknown method');
    await rejectsWith(duet.backupWallet({ method: 'passkey', key: new Uint8Array(16) }), ErrorCode.INVALID_ARGUMENT, 'short key');
    await rejectsWith(Duet.connect({}), ErrorCode.INVALID_ARGUMENT, 'connect without apiKey');
    await rejectsWith(Duet.connect({ apiKey: 'k', url: 'ftp://x' }), ErrorCode.INVALID_ARGUMENT, 'connect with ftp url');
  });

  await check('another client on the same origin has its own device store', async () => {
    const res = await fetch('/v1/clients', { method: 'POST', headers: { Authorization: `Bearer ${keys.orgApiKey}` } });
    equal(res.status, 201, 'POST /v1/clients');
    const other = await res.json();
    const d = await Duet.connect({ apiKey: other.clientApiKey });
    equal(d.isWalletOnDevice(), false, 'other client sees a wallet');
    equal(await d.doesWalletExist(), false, 'other client on server');
    d.close();
    equal((await deviceDatabases()).length, 2, 'databases');
  });

  await check('in isolation mode a script of the app\'s origin finds no share, no key and no way to sign', async () => {
    const res = await fetch('/v1/clients', { method: 'POST', headers: { Authorization: `Bearer ${keys.orgApiKey}` } });
    const iso = await res.json();
    // The frame is on another origin than this page: localhost, not 127.0.0.1.
    const frameOrigin = `http://localhost:${location.port}`;
    const before = await deviceDatabases();
    await rejectsWith(Duet.connect({ apiKey: iso.clientApiKey, isolation: { frameUrl: frameOrigin + '/duet-frame.html' }, autoApprove: true }),
      ErrorCode.INVALID_ARGUMENT, 'isolation with autoApprove');
    const d = await Duet.connect({ apiKey: iso.clientApiKey, isolation: { frameUrl: frameOrigin + '/duet-frame.html' } });
    equal(d.isolated, true, 'isolated');
    const created = await d.createWallet();
    assert(/^0x[0-9a-fA-F]{40}$/.test(created.address), 'address');
    equal(await d.doesWalletExist(), true, 'wallet exists on the server, read through the frame');
    // Nothing of the wallet is stored on this origin.
    equal(await deviceDatabases(), before, 'device databases of the page\'s origin');
    const frame = document.querySelector(`iframe[src^="${frameOrigin}"]`);
    assert(frame, 'the frame');
    let reached = true;
    try {
      void frame.contentWindow.document;
    } catch {
      reached = false;
    }
    assert(!reached, 'the page reached into the frame');
    // The page can ask, but not answer: a signature waits for the frame's dialog.
    const pending = d.signMessage('isolated');
    let settled = false;
    pending.then(() => { settled = true; }, () => { settled = true; });
    await waitFor(() => frame.style.width === '100vw', 'the frame to show its confirmation');
    // Forged calls straight to the frame: unknown calls and extra keys are refused.
    const answers = [];
    const listener = (e) => {
      if (e.origin === frameOrigin && e.data?.id >= 1000) {
        answers.push(e.data);
      }
    };
    window.addEventListener('message', listener);
    frame.contentWindow.postMessage({ duet: 'duet-frame/1', type: 'call', id: 1000, method: 'sign', params: { digest: new Uint8Array(32) } }, frameOrigin);
    frame.contentWindow.postMessage({ duet: 'duet-frame/1', type: 'call', id: 1001, method: 'deviceState', params: {}, store: 1 }, frameOrigin);
    frame.contentWindow.postMessage({ duet: 'duet-frame/1', type: 'call', id: 1002, method: 'get', params: { path: '/v1/clients' } }, frameOrigin);
    await waitFor(() => answers.length === 3, 'the frame\'s answers');
    window.removeEventListener('message', listener);
    assert(answers.every((a) => a.type === 'error' && a.error.code === 'INVALID_ARGUMENT'), JSON.stringify(answers));
    assert(!settled, 'the signature settled without approval');
    d.close();
    await rejectsWith(pending, ErrorCode.CLOSED, 'pending signature after close');
    assert(document.querySelector(`iframe[src^="${frameOrigin}"]`) === null, 'frame removed');
  });

  duet.close();
  sessionStorage.setItem(stageKey, JSON.stringify({ stage: 2, keys, address, results }));
  location.reload();
}

async function stageTwo(saved) {
  const { keys, address } = saved;
  let duet;

  await check('after a reload the wallet is still on the device', async () => {
    duet = await Duet.connect({ autoApprove: true, apiKey: keys.clientApiKey });
    equal(duet.isWalletOnDevice(), true, 'isWalletOnDevice');
    equal(duet.address, address, 'address');
    const state = await duet.deviceState();
    assert(/^[0-9a-f]{32}$/.test(state.deviceId), `deviceId ${state.deviceId}`);
    // The fake device module is not WebAssembly, so it has no module memory.
    equal(state, { hasShare: true, stale: false, removed: false, address, generation: 1, deviceId: state.deviceId, sparePrimes: 0, presignatures: 0, moduleMemoryBytes: 0 }, 'deviceState');
  });

  await check('backupWallet makes the wallet backed up and recoverable', async () => {
    equal(await duet.isWalletBackedUp(), false, 'backed up before');
    equal(await duet.isWalletRecoverable(), false, 'recoverable before');
    equal(await duet.backupWallet({ method: 'password', password: 'correct horse' }), { method: 'password' }, 'result');
    equal(await duet.isWalletBackedUp(), true, 'backed up');
    equal(await duet.isWalletBackedUp('password'), true, 'backed up with password');
    equal(await duet.isWalletBackedUp('passkey'), false, 'backed up with passkey');
    equal(await duet.isWalletRecoverable(), true, 'recoverable');
    equal(await duet.availableRecoveryMethods(), ['password'], 'methods');
    const status = await duet.getBackupStatus();
    equal([status.backedUp, status.recoveryMethods, status.ejectAuthorized], [true, ['password'], false], 'status');
  });

  await check('sessions run one at a time, in the order they were called', async () => {
    const order = [];
    const log = (e) => order.push(`${e.operation}:${e.phase}`);
    const backup = duet.backupWallet({ method: 'password', password: 'correct horse', onProgress: log }).then(() => order.push('backup done'));
    const sign = duet.signDigest(new Uint8Array(32), { onProgress: log }).then(() => order.push('sign done'));
    await Promise.all([backup, sign]);
    equal(order, [
      'backupWallet:backup', 'backup done',
      'signDigest:presign', 'signDigest:presign', 'signDigest:presign', 'signDigest:sign', 'sign done',
    ], 'order');
  });

  await check('recoverWallet brings the wallet to a new device', async () => {
    duet.close();
    await deleteDatabases();
    duet = await Duet.connect({ autoApprove: true, apiKey: keys.clientApiKey });
    const accountEvents = [];
    duet.provider.on('accountsChanged', (a) => accountEvents.push(a));
    equal(duet.isWalletOnDevice(), false, 'on the new device before');
    equal(await duet.doesWalletExist(), true, 'on the server');
    equal(await duet.provider.request({ method: 'eth_accounts' }), [], 'eth_accounts');
    await rejectsWith(duet.provider.request({ method: 'eth_requestAccounts' }), 4100, 'eth_requestAccounts');
    await rejectsWith(duet.recoverWallet({ method: 'password', password: 'wrong' }), ErrorCode.WRONG_PASSWORD, 'wrong password');
    await rejectsWith(duet.recoverWallet({ method: 'app', key: new Uint8Array(32) }), ErrorCode.NOT_BACKED_UP, 'other method');
    equal(duet.isWalletOnDevice(), false, 'on device after failures');
    const res = await duet.recoverWallet({ method: 'password', password: 'correct horse' });
    equal(res, { address, generation: 2 }, 'result');
    equal(duet.isWalletOnDevice(), true, 'on device');
    equal(accountEvents, [[address]], 'accountsChanged');
  });

  await check('addDevice adds this device beside the others; listDevices and removeDevice manage them', async () => {
    const first = (await duet.deviceState()).deviceId;
    await rejectsWith(duet.addDevice({ method: 'password' }), ErrorCode.INVALID_ARGUMENT, 'addDevice without a password');
    await rejectsWith(duet.removeDevice('not hex'), ErrorCode.INVALID_ARGUMENT, 'removeDevice of a malformed id');
    await rejectsWith(duet.removeDevice('ab'.repeat(17)), ErrorCode.INVALID_ARGUMENT, 'removeDevice of a long id');
    await rejectsWith(duet.removeDevice(undefined), ErrorCode.INVALID_ARGUMENT, 'removeDevice without an id');
    // A second device: a new store, as a new browser would have.
    duet.close();
    await deleteDatabases();
    duet = await Duet.connect({ autoApprove: true, apiKey: keys.clientApiKey });
    equal(duet.isWalletOnDevice(), false, 'on the second device before');
    const progress = [];
    const added = await duet.addDevice({ method: 'password', password: 'correct horse', onProgress: (e) => progress.push(`${e.operation}:${e.phase}`) });
    equal([added.address, added.generation], [address, 2], 'addDevice result');
    assert(/^[0-9a-f]{32}$/.test(added.deviceId) && added.deviceId !== first, `new device id ${added.deviceId}`);
    equal(progress, ['addDevice:decrypting', 'addDevice:done'], 'addDevice progress');
    equal(duet.isWalletOnDevice(), true, 'on the second device');
    equal((await duet.deviceState()).deviceId, added.deviceId, 'deviceState names the new device');
    const listed = await duet.listDevices();
    equal(listed.map((d) => [d.id, d.current]), [[first, false], [added.deviceId, true]], 'both devices');
    assert(listed.every((d) => !Number.isNaN(Date.parse(d.createdAt))), 'createdAt');
    equal(await duet.removeDevice(first.toUpperCase()), { id: first }, 'removeDevice of the first');
    equal((await duet.listDevices()).map((d) => d.id), [added.deviceId], 'one device left');
    await duet.signMessage('still signs');

    // Removed from another device: the next session is refused, and the
    // wallet is not on this device until it is added again.
    const accounts = [];
    duet.provider.on('accountsChanged', (a) => accounts.push(a));
    const res = await fetch('/__remove-device', { method: 'POST', headers: { Authorization: `Bearer ${keys.clientApiKey}` }, body: JSON.stringify({ id: added.deviceId }) });
    equal(res.status, 200, 'removal elsewhere');
    equal(duet.isWalletOnDevice(), true, 'before the device learns of it');
    await rejectsWith(duet.signMessage('removed'), ErrorCode.DEVICE_REMOVED, 'sign of a removed device');
    equal(duet.isWalletOnDevice(), false, 'isWalletOnDevice once removed');
    equal(duet.address, null, 'address once removed');
    equal(accounts, [[]], 'accountsChanged once removed');
    const removed = await duet.deviceState();
    equal([removed.hasShare, removed.stale, removed.removed, removed.address], [true, true, true, null], 'deviceState once removed');
    // The device module refuses the share as stale now; the SDK says why.
    await rejectsWith(duet.signMessage('removed again'), ErrorCode.DEVICE_REMOVED, 'second sign of a removed device');
    await rejectsWith(duet.listDevices(), ErrorCode.DEVICE_REMOVED, 'listDevices of a removed device');
    equal([await duet.isSigningReady(), await duet.isWalletRecoverable()], [false, true], 'not ready, recoverable');
    await rejectsWith(duet.provider.request({ method: 'eth_requestAccounts' }), 4100, 'eth_requestAccounts once removed');

    // Added again over the removed share; then it removes itself.
    const again = await duet.addDevice({ method: 'password', password: 'correct horse' });
    equal([duet.isWalletOnDevice(), duet.address, (await duet.deviceState()).removed], [true, address, false], 'added again');
    await duet.signMessage('added again');
    equal(await duet.removeDevice(again.deviceId), { id: again.deviceId }, 'removeDevice of itself');
    equal([duet.isWalletOnDevice(), (await duet.deviceState()).hasShare], [false, false], 'after removing itself');
    await rejectsWith(duet.listDevices(), ErrorCode.NO_WALLET, 'listDevices without a share');
    // Back for the checks that follow.
    await duet.recoverWallet({ method: 'password', password: 'correct horse' });
  });

  await check('ejectPrivateKey needs the organization to authorise it', async () => {
    await rejectsWith(duet.ejectPrivateKey({ method: 'password', password: 'correct horse' }), ErrorCode.EJECT_NOT_AUTHORIZED, 'before');
    const clientId = keys.clientApiKey.split('_')[2];
    const res = await fetch(`/v1/clients/${clientId}/eject`, { method: 'POST', headers: { Authorization: `Bearer ${keys.orgApiKey}` } });
    assert(res.ok, `authorise: ${res.status}`);
    equal((await duet.getBackupStatus()).ejectAuthorized, true, 'ejectAuthorized');
    await rejectsWith(duet.ejectPrivateKey({ method: 'password', password: 'nope' }), ErrorCode.WRONG_PASSWORD, 'wrong password');
    const key = await duet.ejectPrivateKey({ method: 'password', password: 'correct horse' });
    assert(/^0x[0-9a-f]{64}$/.test(key), `key shape ${key}`);
  });

  await check('connect refuses a wrong or malformed client key with UNAUTHORIZED', async () => {
    const e = await rejectsWith(Duet.connect({ apiKey: 'duet_cli_' + 'f'.repeat(32) + '_' + 'A'.repeat(43) }), ErrorCode.UNAUTHORIZED, 'unknown key');
    assert(!/bridge:|wire:|mpc:/.test(e.message), e.message);
    await rejectsWith(Duet.connect({ apiKey: 'test-exit' }), ErrorCode.UNAUTHORIZED, 'malformed key');
    await rejectsWith(Duet.connect({ apiKey: keys.orgApiKey }), ErrorCode.UNAUTHORIZED, 'org key');
  });

  await check('a server without the client routes is a SERVER_ERROR, not "no wallet"', async () => {
    await rejectsWith(Duet.connect({ autoApprove: true, apiKey: keys.clientApiKey, url: location.origin + '/nowhere/' }), ErrorCode.SERVER_ERROR, 'connect');
  });

  await check('an unreachable module, glue script or worker fails connect with NETWORK', async () => {
    const k = keys.clientApiKey;
    await rejectsWith(Duet.connect({ apiKey: k, wasmUrl: '/missing.wasm' }), ErrorCode.NETWORK, 'wasm 404');
    await rejectsWith(Duet.connect({ apiKey: k, wasmExecUrl: '/missing.js' }), ErrorCode.NETWORK, 'wasm_exec 404');
    await rejectsWith(Duet.connect({ apiKey: k, workerUrl: '/missing-worker.js' }), ErrorCode.NETWORK, 'worker 404');
    await rejectsWith(Duet.connect({ apiKey: k, wasmUrl: '/__hang.wasm', loadTimeoutMs: 300 }), ErrorCode.NETWORK, 'hanging wasm');
    await rejectsWith(Duet.connect({ apiKey: k, wasmUrl: '/not-wasm.wasm' }), ErrorCode.INTERNAL, 'not wasm');
  });

  await check('a device module that exits fails the running call, later calls and the provider', async () => {
    const d = await Duet.connect({ apiKey: 'duet_cli_' + '1'.repeat(32) + '_test-exit' });
    const disconnects = [];
    d.provider.on('disconnect', (e) => disconnects.push(e));
    const e = await rejectsWith(d.refreshWallet(), ErrorCode.INTERNAL, 'refresh');
    assert(/exited with code 2/.test(e.message), e.message);
    await rejectsWith(d.deviceState(), ErrorCode.INTERNAL, 'later call');
    equal(d.closed, true, 'closed');
    equal(disconnects.map((x) => [x.code, x.data.code]), [[4900, 'INTERNAL']], 'disconnect');
    await rejectsWith(d.provider.request({ method: 'eth_accounts' }), 4900, 'provider after exit');
  });

  await check('a crashing worker fails the running call with INTERNAL', async () => {
    const d = await Duet.connect({ apiKey: 'duet_cli_' + '2'.repeat(32) + '_test-crash' });
    await rejectsWith(d.refreshWallet(), ErrorCode.INTERNAL, 'refresh');
    equal(d.closed, true, 'closed');
  });

  await check('close rejects later calls with CLOSED and keeps the wallet', async () => {
    const d = await Duet.connect({ autoApprove: true, apiKey: keys.clientApiKey });
    const disconnects = [];
    d.provider.on('disconnect', (e) => disconnects.push(e));
    const pending = d.signMessage('late');
    d.close();
    await rejectsWith(pending, ErrorCode.CLOSED, 'in-flight');
    await rejectsWith(d.createWallet(), ErrorCode.CLOSED, 'after close');
    await rejectsWith(d.doesWalletExist(), ErrorCode.CLOSED, 'server query after close');
    equal(disconnects.length, 1, 'disconnect events');
    const again = await Duet.connect({ autoApprove: true, apiKey: keys.clientApiKey });
    equal(again.address, address, 'wallet kept');
    again.close();
  });

  duet.close();
  sessionStorage.setItem(stageKey, JSON.stringify({ stage: 3, results }));
  location.reload();
}

async function stageThree() {
  await fetch('/__reset-dev', { method: 'POST' });
  localStorage.clear();
  await deleteDatabases();
  const frame = document.createElement('iframe');
  frame.style.width = '900px';
  frame.style.height = '1200px';
  document.body.append(frame);

  const load = async () => {
    frame.src = '/index.html?' + Date.now();
    await new Promise((r) => frame.addEventListener('load', r, { once: true }));
  };
  const $ = (id) => frame.contentDocument.getElementById(id);
  const settled = () => waitFor(() => {
    const s = $('status').dataset.state;
    return (s === 'ready' || s === 'error') && frame.contentDocument.body.getAttribute('aria-busy') === 'false';
  }, 'the demo page to settle');
  const click = async (id) => {
    $(id).click();
    await settled();
  };

  await check('the demo page documents and has every id the tests use', async () => {
    await load();
    await settled();
    const ids = [
      'client-key', 'org-key', 'dev-client', 'connect', 'status', 'error', 'wallet-on-device', 'wallet-backups',
      'create', 'address', 'sign-message', 'sign', 'signature', 'backup-password', 'backup', 'recover-password',
      'recover', 'eject-password', 'eject', 'private-key', 'log', 'progress', 'progress-step', 'progress-bar',
      'signing-ready', 'backup-methods', 'balance', 'eject-confirm', 'reveal-key', 'history',
      'add-device-password', 'add-device', 'list-devices', 'devices',
    ];
    const html = await (await fetch('/index.html')).text();
    for (const id of ids) {
      assert($(id) !== null, `#${id} missing`);
      assert(html.includes(`#${id} `), `#${id} not documented`);
    }
    for (const input of frame.contentDocument.querySelectorAll('input, textarea')) {
      assert(frame.contentDocument.querySelector(`label[for="${input.id}"]`), `no label for #${input.id}`);
    }
  });

  await check('the demo page creates, signs, backs up and ejects', async () => {
    equal($('status').dataset.state, 'ready', 'connected');
    assert($('client-key').value.startsWith('duet_cli_'), 'dev client key');
    equal($('wallet-on-device').textContent, 'no', 'on device before');
    equal($('signing-ready').dataset.ready, 'false', 'not ready to sign before');
    equal([$('sign').disabled, $('backup').disabled, $('eject').disabled, $('create').disabled], [true, true, true, false], 'buttons without a wallet');
    const steps = [];
    const seen = new MutationObserver(() => steps.push($('progress-step').textContent));
    seen.observe($('progress-step'), { childList: true, characterData: true, subtree: true });
    await click('create');
    seen.disconnect();
    assert(steps.some((x) => /^Step \d+ of \d+: Generating the key together with the server$/.test(x)), `keygen step in ${JSON.stringify(steps)}`);
    assert(steps.some((x) => /aux-info/.test(x)), `aux-info step in ${JSON.stringify(steps)}`);
    assert(!steps.some((x) => /round|mpc/.test(x)), `internal words in ${JSON.stringify(steps)}`);
    equal($('signing-ready').dataset.ready, 'true', 'ready to sign');
    equal($('create').disabled, true, 'create once the wallet exists');
    equal($('status').dataset.state, 'ready', `create: ${$('error').textContent}`);
    assert(/^0x[0-9a-fA-F]{40}$/.test($('address').textContent), `address ${$('address').textContent}`);
    equal($('wallet-on-device').textContent, 'yes', 'on device');
    assert($('log').children.length >= 6, 'progress log');

    $('sign-message').value = 'demo';
    $('sign').click();
    // The demo page has no hook: the SDK's dialog asks, in the demo's document.
    await waitFor(() => frame.contentDocument.querySelector('dialog.duet-approval') !== null, 'the confirmation');
    const dialog = frame.contentDocument.querySelector('dialog.duet-approval');
    assert(dialog.textContent.includes('demo'), 'the confirmation shows the message');
    dialog.querySelector('.duet-approval-approve').click();
    await settled();
    equal($('signature').textContent, await expectedPersonalSignature(new TextEncoder().encode('demo')), 'signature');

    $('backup-password').value = 'demo password';
    await click('backup');
    equal($('status').dataset.state, 'ready', `backup: ${$('error').textContent}`);
    equal($('wallet-backups').textContent, 'password', 'backups');
    equal([...$('backup-methods').children].map((li) => `${li.dataset.method}:${li.dataset.backedUp}`), ['password:true', 'passkey:false', 'custom:false'], 'backup status per method');
    assert($('history').textContent.includes('demo'), 'the signature in the history');

    $('eject-password').value = 'demo password';
    equal($('eject').disabled, true, 'eject before the confirmation');
    $('eject-confirm').click();
    equal($('eject').disabled, false, 'eject after the confirmation');
    await click('eject');
    equal($('status').dataset.state, 'ready', `eject: ${$('error').textContent}`);
    assert(/^0x[0-9a-f]{64}$/.test($('private-key').textContent), 'private key');
    equal($('private-key').hidden, true, 'the key is hidden until revealed');
    await click('reveal-key');
    equal($('private-key').hidden, false, 'the key revealed');
  });

  await check('the demo page shows errors with their code', async () => {
    $('recover-password').value = 'not the password';
    await click('recover');
    equal($('status').dataset.state, 'error', 'state');
    equal($('error').dataset.code, 'WRONG_PASSWORD', 'code');
    assert(!$('error').hidden, 'error shown');
    equal($('error').closest('section')?.getAttribute('aria-labelledby'), 'recover-heading', 'error in the recover section');
    assert(!/bridge:|mpc:|wire:/.test($('error').textContent), $('error').textContent);
  });

  await check('the demo page keeps the wallet across a reload and recovers on a new device', async () => {
    const address = $('address').textContent;
    await load();
    await settled();
    equal($('address').textContent, address, 'address after reload');
    frame.remove();
    await deleteDatabases();
    document.body.append(frame);
    await load();
    await settled();
    equal($('wallet-on-device').textContent, 'no', 'on the new device');
    $('recover-password').value = 'demo password';
    await click('recover');
    equal($('status').dataset.state, 'ready', `recover: ${$('error').textContent}`);
    equal($('address').textContent, address, 'recovered address');
    assert($('error').hidden, 'error cleared');
  });

  await check('the demo page adds this device, lists the devices and removes one', async () => {
    const devices = () => [...$('devices').children].map((li) => li.dataset.current);
    await click('list-devices');
    equal($('status').dataset.state, 'ready', `list: ${$('error').textContent}`);
    equal(devices(), ['true'], 'one device');
    // A second device: the same page with a new store.
    frame.remove();
    await deleteDatabases();
    document.body.append(frame);
    await load();
    await settled();
    equal([$('wallet-on-device').textContent, $('add-device').disabled, $('list-devices').disabled], ['no', false, true], 'a new device');
    $('add-device-password').value = 'demo password';
    await click('add-device');
    equal($('status').dataset.state, 'ready', `add: ${$('error').textContent}`);
    equal($('wallet-on-device').textContent, 'yes', 'on the added device');
    equal(devices(), ['false', 'true'], 'both devices');
    [...$('devices').children].find((li) => li.dataset.current === 'false').querySelector('button.remove-device').click();
    await settled();
    equal($('status').dataset.state, 'ready', `remove: ${$('error').textContent}`);
    equal(devices(), ['true'], 'the other device removed');
  });
}

async function main() {
  const saved = JSON.parse(sessionStorage.getItem(stageKey) ?? 'null');
  if (saved) {
    results.push(...saved.results);
  }
  try {
    if (saved === null) {
      await stageOne();
      return;
    }
    if (saved.stage === 2) {
      await stageTwo(saved);
      return;
    }
    await stageThree();
  } catch (err) {
    record('the test page ran to the end', false, String(err && err.stack ? err.stack : err));
  }
  sessionStorage.removeItem(stageKey);
  await fetch('/__result', { method: 'POST', body: JSON.stringify(results) });
}

main();
