// Runs the SDK and the demo page in headless Chromium against a small test
// server: the real duet.js, worker.js and device-store.js, IndexedDB and
// WebCrypto, with a fake device module (js/testdata/browser/fake-wasm-exec.js)
// in place of duet.wasm and a fake of the Duet server's client routes. The
// checks run in js/testdata/browser/test-page.js; each is reported here as a
// subtest.
//
// Chromium is found as $DUET_CHROMIUM or on PATH (`make deps` installs it).

import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const jsDir = fileURLToPath(new URL('..', import.meta.url));
const webDir = fileURLToPath(new URL('../../web/', import.meta.url));
const testDir = fileURLToPath(new URL('../testdata/browser/', import.meta.url));

// The smallest valid WebAssembly module: magic and version.
const emptyWasm = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

const staticFiles = {
  '/duet.js': join(jsDir, 'duet.js'),
  '/errors.js': join(jsDir, 'errors.js'),
  '/credential.js': join(jsDir, 'credential.js'),
  '/bytes.js': join(jsDir, 'bytes.js'),
  '/rpc.js': join(jsDir, 'rpc.js'),
  '/provider.js': join(jsDir, 'provider.js'),
  '/request.js': join(jsDir, 'request.js'),
  '/approval.js': join(jsDir, 'approval.js'),
  '/host.js': join(jsDir, 'host.js'),
  '/frame.js': join(jsDir, 'frame.js'),
  '/frame-channel.js': join(jsDir, 'frame-channel.js'),
  '/passkey.js': join(jsDir, 'passkey.js'),
  '/key-storage.js': join(jsDir, 'key-storage.js'),
  '/duet-frame.html': join(jsDir, 'duet-frame.html'),
  '/worker.js': join(jsDir, 'worker.js'),
  '/device-store.js': join(jsDir, 'device-store.js'),
  '/wasm_exec.js': join(testDir, 'fake-wasm-exec.js'),
  '/test.html': join(testDir, 'test.html'),
  '/test-page.js': join(testDir, 'test-page.js'),
  '/index.html': join(webDir, 'index.html'),
  '/app.js': join(webDir, 'app.js'),
  '/style.css': join(webDir, 'style.css'),
};

const contentTypes = {
  '.js': 'text/javascript; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

function findChromium() {
  const candidates = process.env.DUET_CHROMIUM ? [process.env.DUET_CHROMIUM] : ['chromium', 'chromium-browser', 'google-chrome'];
  for (const c of candidates) {
    try {
      return execFileSync('sh', ['-c', 'command -v "$0"', c], { encoding: 'utf8' }).trim();
    } catch {
      // Try the next name.
    }
  }
  return null;
}

// FakeServer plays the Duet server's client-facing routes, as server/api
// serves them, and the test routes the fake device module calls in place of
// MPC sessions.
class FakeServer {
  clients = new Map(); // client id (or test key) → {orgKey, wallet}
  orgs = new Set();
  dev = null;
  hanging = [];
  results = null;
  onResults = null;

  constructor() {
    this.resetDev();
  }

  // A fresh demo organization and client, as duetd --dev makes for a new
  // data folder.
  resetDev() {
    const orgKey = `duet_org_${randomBytes(16).toString('hex')}_${randomBytes(32).toString('base64url')}`;
    this.orgs.add(orgKey);
    this.dev = { clientApiKey: this.newClient(orgKey).clientApiKey, orgApiKey: orgKey };
  }

  newClient(orgKey) {
    const id = randomBytes(16).toString('hex');
    this.clients.set(id, { orgKey, wallet: null });
    return { clientId: id, clientApiKey: `duet_cli_${id}_${randomBytes(32).toString('base64url')}` };
  }

  newDevice(wallet) {
    const id = randomBytes(16).toString('hex');
    wallet.devices.set(id, { createdAt: new Date().toISOString(), lastUsedAt: null });
    return id;
  }

  bearer(req) {
    const auth = req.headers.authorization ?? '';
    return auth.startsWith('Bearer ') ? auth.slice(7) : '';
  }

  identity(req) {
    const key = this.bearer(req);
    const m = /^duet_cli_([0-9a-f]{32})_/.exec(key);
    const id = m ? m[1] : key;
    // Keys the test page makes up for failure tests (duet_cli_<id>_test-…)
    // stand for themselves.
    if (!this.clients.has(id) && /^duet_cli_[0-9a-f]{32}_test-[a-z]+$/.test(key)) {
      this.clients.set(id, { orgKey: null, wallet: null });
    }
    return this.clients.has(id) ? id : null;
  }

  async handle(req, res) {
    const url = new URL(req.url, 'http://x');
    const path = url.pathname === '/' ? '/index.html' : url.pathname;
    const body = req.method === 'POST' ? await readBody(req) : '';
    const json = (status, v) => {
      res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(JSON.stringify(v) + '\n');
    };
    const apiError = (status, code, message) => json(status, { error: { code, message } });

    if (staticFiles[path]) {
      res.writeHead(200, { 'Content-Type': contentTypes[path.slice(path.lastIndexOf('.'))], 'Cache-Control': 'no-store' });
      res.end(readFileSync(staticFiles[path]));
      return;
    }
    if (path === '/duet.wasm') {
      res.writeHead(200, { 'Content-Type': 'application/wasm' });
      res.end(emptyWasm);
      return;
    }
    if (path === '/not-wasm.wasm') {
      res.writeHead(200, { 'Content-Type': 'application/wasm' });
      res.end('not a module');
      return;
    }
    if (path === '/__hang.wasm') {
      this.hanging.push(res);
      return;
    }
    if (path === '/__result') {
      this.results = JSON.parse(body);
      this.onResults?.();
      return json(200, {});
    }
    if (path === '/__remove-device' && req.method === 'POST') {
      // What removeDevice on another device of the wallet does on the server.
      const id = this.identity(req);
      const w = id === null ? null : this.clients.get(id).wallet;
      if (w === null || !w.devices.delete(JSON.parse(body).id)) {
        return apiError(404, 'not_found', 'no such device');
      }
      return json(200, {});
    }
    if (path === '/__reset-dev') {
      this.resetDev();
      return json(200, {});
    }
    if (path === '/dev/client-key' && req.method === 'GET') {
      // duetd serves the demo client's key only; the organization's stays
      // in its data folder, which /__dev-keys stands for.
      return json(200, { clientApiKey: this.dev.clientApiKey });
    }
    if (path === '/__dev-keys' && req.method === 'GET') {
      return json(200, this.dev);
    }
    if (path === '/dev/eject' && req.method === 'POST') {
      const id = this.identity(req);
      if (id === null) {
        return apiError(401, 'unauthorized', 'invalid API key');
      }
      if (this.bearer(req) !== this.dev.clientApiKey) {
        return apiError(403, 'forbidden', 'only the demo client');
      }
      const client = this.clients.get(id);
      if (client.wallet === null) {
        return apiError(404, 'no_wallet', 'client has no wallet');
      }
      client.wallet.ejectAuthorized = true;
      return json(200, { clientId: id, walletId: client.wallet.walletId, ejectAuthorized: true });
    }
    if (path === '/v1/clients' && req.method === 'POST') {
      if (!this.orgs.has(this.bearer(req))) {
        return apiError(401, 'unauthorized', 'invalid API key');
      }
      return json(201, this.newClient(this.bearer(req)));
    }
    if (path === '/v1/wallet' && req.method === 'GET') {
      const id = this.identity(req);
      if (id === null) {
        return apiError(401, 'unauthorized', 'invalid API key');
      }
      const w = this.clients.get(id).wallet;
      if (w === null) {
        return json(200, { exists: false });
      }
      return json(200, { exists: true, walletId: w.walletId, address: w.address, publicKey: '02ab', generation: w.generation });
    }
    const backup = /^\/v1\/wallets\/([^/]+)\/backup$/.exec(path);
    if (backup && req.method === 'GET') {
      const id = this.identity(req);
      if (id === null) {
        return apiError(401, 'unauthorized', 'invalid API key');
      }
      const owner = [...this.clients.values()].find((c) => c.wallet?.walletId === backup[1]);
      if (!owner) {
        return apiError(404, 'no_wallet', `no wallet ${backup[1]}`);
      }
      if (owner !== this.clients.get(id)) {
        return apiError(403, 'forbidden', 'wallet belongs to another client');
      }
      const methods = [...owner.wallet.backups.keys()];
      return json(200, { walletId: backup[1], backedUp: methods.length > 0, recoveryMethods: methods, backups: [], ejectAuthorized: owner.wallet.ejectAuthorized });
    }
    const eject = /^\/v1\/clients\/([^/]+)\/eject$/.exec(path);
    if (eject && req.method === 'POST') {
      const orgKey = this.bearer(req);
      if (!this.orgs.has(orgKey)) {
        return apiError(401, 'unauthorized', 'invalid API key');
      }
      const client = this.clients.get(eject[1]);
      if (!client) {
        return apiError(404, 'not_found', `no client ${eject[1]}`);
      }
      if (client.orgKey !== orgKey) {
        return apiError(403, 'forbidden', 'client belongs to another organization');
      }
      if (client.wallet === null) {
        return apiError(404, 'no_wallet', 'client has no wallet');
      }
      client.wallet.ejectAuthorized = true;
      return json(200, { clientId: eject[1], walletId: client.wallet.walletId, ejectAuthorized: true });
    }
    if (path.startsWith('/__fake/')) {
      return this.fakeDevice(path.slice(8), req, body, json);
    }
    apiError(404, 'not_found', `no such file: ${path}`);
  }

  // What the fake device module's sessions do on the server side; errors use
  // the device module's codes.
  fakeDevice(route, req, body, json) {
    const id = this.identity(req);
    const fail = (code) => json(400, { code });
    if (id === null) {
      return fail('UNAUTHORIZED');
    }
    const client = this.clients.get(id);
    const args = JSON.parse(body || '{}');
    switch (route) {
      case 'keygen': {
        if (client.wallet !== null) {
          return fail('WALLET_EXISTS');
        }
        const address = '0x' + createHash('sha256').update(id).digest('hex').slice(0, 40);
        client.wallet = { walletId: randomBytes(16).toString('hex'), address, generation: 1, backups: new Map(), ejectAuthorized: false, devices: new Map() };
        return json(200, { address, deviceId: this.newDevice(client.wallet) });
      }
      case 'sign':
      case 'listDevices':
      case 'removeDevice': {
        const w = client.wallet;
        if (w === null) {
          return fail('NO_WALLET');
        }
        if (!w.devices.has(args.deviceId)) {
          return fail('DEVICE_REMOVED');
        }
        w.devices.get(args.deviceId).lastUsedAt = new Date().toISOString();
        if (route === 'listDevices') {
          return json(200, { devices: [...w.devices].map(([id, d]) => ({ id, createdAt: d.createdAt, lastUsedAt: d.lastUsedAt, current: id === args.deviceId })) });
        }
        if (route === 'removeDevice' && !w.devices.delete(args.id)) {
          return fail('INVALID_ARGUMENT');
        }
        return json(200, {});
      }
      case 'backup':
        if (client.wallet === null) {
          return fail('NO_WALLET');
        }
        client.wallet.backups.set(args.method, args.credential);
        return json(200, {});
      case 'recover':
      case 'addDevice':
      case 'eject': {
        const w = client.wallet;
        if (w === null) {
          return fail('NO_WALLET');
        }
        if (!w.backups.has(args.method)) {
          return fail('NOT_BACKED_UP');
        }
        if (route === 'eject' && !w.ejectAuthorized) {
          return fail('EJECT_NOT_AUTHORIZED');
        }
        if (w.backups.get(args.method) !== args.credential) {
          return fail('WRONG_PASSWORD');
        }
        if (route === 'eject') {
          return json(200, { privateKey: '0x' + createHash('sha256').update('key:' + id).digest('hex') });
        }
        if (route === 'addDevice') {
          return json(200, { address: w.address, generation: w.generation, deviceId: this.newDevice(w) });
        }
        // A recovery retires every other device.
        w.devices.clear();
        w.generation++;
        return json(200, { address: w.address, generation: w.generation, deviceId: this.newDevice(w) });
      }
    }
    return fail('INVALID_ARGUMENT');
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

test('the SDK and the demo page in Chromium', { timeout: 120000 }, async (t) => {
  const chromium = findChromium();
  assert.ok(chromium, 'Chromium not found: set DUET_CHROMIUM or install it (make deps)');

  const fake = new FakeServer();
  const server = createServer((req, res) => {
    fake.handle(req, res).catch((err) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  const profile = mkdtempSync(join(tmpdir(), 'duet-chromium-'));
  const browser = spawn(chromium, [
    '--headless=new',
    '--no-sandbox',
    '--disable-gpu',
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-extensions',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--user-data-dir=${profile}`,
    `http://127.0.0.1:${port}/test.html`,
  ], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  browser.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });

  try {
    const results = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no results from the test page within 90 s; Chromium said:\n${stderr}`)), 90000);
      fake.onResults = () => {
        clearTimeout(timer);
        resolve(fake.results);
      };
      browser.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`Chromium exited with ${code} before the tests ended:\n${stderr}`));
      });
    });
    assert.ok(results.length >= 20, `only ${results.length} checks ran`);
    for (const r of results) {
      await t.test(r.name, (st) => {
        assert.ok(r.ok, r.detail);
        // Time the check took in the browser.
        st.diagnostic(r.detail);
      });
    }
  } finally {
    browser.removeAllListeners('exit');
    // Chromium's helper processes share the group it was started in.
    try {
      process.kill(-browser.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    for (const res of fake.hanging) {
      res.destroy();
    }
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(profile, { recursive: true, force: true });
  }
});
