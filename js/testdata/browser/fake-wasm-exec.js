// A stand-in for Go's wasm_exec.js in the SDK's browser tests. Its Go class
// "runs" any module by publishing a fake DuetDevice with the device module's
// contract: the same functions, options, progress events, error codes and
// use of the sealed store, against the test server's /__fake routes instead
// of an MPC session. It lets the tests drive worker.js and duet.js in a real
// browser without the Go toolchain.
'use strict';

(function () {
  const enc = new TextEncoder();

  function coded(code, message) {
    const err = new Error(message);
    err.code = code;
    return err;
  }

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  }

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }

  async function server(opts, route, body) {
    let res;
    try {
      res = await fetch(opts.url + '/__fake/' + route, {
        method: 'POST',
        headers: { Authorization: 'Bearer ' + opts.apiKey, 'Content-Type': 'application/json' },
        body: JSON.stringify(body || {}),
      });
    } catch (err) {
      throw coded('NETWORK', 'fake device: ' + err.message);
    }
    const json = await res.json();
    if (!res.ok) {
      throw coded(json.code, 'fake device: ' + json.code);
    }
    return json;
  }

  // The share is stored as JSON with a marker the tests look for in the
  // database, to show it is sealed there.
  async function readShare(store) {
    const raw = await store.get('share/active');
    return raw === null ? null : JSON.parse(new TextDecoder().decode(raw));
  }

  async function writeShare(store, share) {
    await store.put('share/pending', enc.encode(JSON.stringify(share)));
    await store.put('share/active', enc.encode(JSON.stringify(share)));
    await store.delete('share/pending');
    await store.delete('share/stale');
  }

  // As the device module does, a share the server refuses as removed is
  // kept, marked stale for that reason ({2}; {1} is another pair's).
  async function markRemoved(store, err) {
    if (err.code === 'DEVICE_REMOVED') {
      await store.put('share/stale', new Uint8Array([2]));
    }
    throw err;
  }

  function rounds(opts, phase, protocol, n) {
    for (let round = 1; round <= n; round++) {
      opts.onProgress({ phase, protocol, round });
    }
  }

  function credential(opts) {
    if (opts.method === 'password') {
      return opts.password;
    }
    return Array.from(opts.key).join(',');
  }

  const device = {
    async keygen(opts) {
      if (await readShare(opts.store)) {
        throw coded('WALLET_EXISTS', 'fake device: wallet exists');
      }
      rounds(opts, 'keygen', 'keygen', 3);
      const { address, deviceId } = await server(opts, 'keygen');
      rounds(opts, 'aux-info', 'aux-info', 3);
      await writeShare(opts.store, { marker: 'FAKE-SHARE-PLAINTEXT', address, generation: 1, deviceId });
      return { address, generation: 1, deviceId };
    },

    async sign(opts) {
      const share = await readShare(opts.store);
      if (!share) {
        throw coded('NO_WALLET', 'fake device: no wallet');
      }
      if (!(opts.digest instanceof Uint8Array) || opts.digest.length !== 32) {
        throw coded('INVALID_ARGUMENT', 'fake device: digest must be 32 bytes');
      }
      rounds(opts, 'presign', 'presign', 3);
      await server(opts, 'sign', { deviceId: share.deviceId }).catch((err) => markRemoved(opts.store, err));
      opts.onProgress({ phase: 'sign', protocol: 'sign', round: 1 });
      const s = await sha256(opts.digest);
      return { signature: concat(opts.digest, s, new Uint8Array([opts.digest[31] & 1])) };
    },

    async backup(opts) {
      if (!(await readShare(opts.store))) {
        throw coded('NO_WALLET', 'fake device: no wallet');
      }
      opts.onProgress({ phase: 'backup', protocol: 'refresh', round: 1 });
      await server(opts, 'backup', { method: opts.method, credential: credential(opts) });
      return { method: opts.method };
    },

    async recover(opts) {
      opts.onProgress({ phase: 'recover', protocol: 'refresh', round: 1 });
      const { address, generation, deviceId } = await server(opts, 'recover', { method: opts.method, credential: credential(opts) });
      await writeShare(opts.store, { marker: 'FAKE-SHARE-PLAINTEXT', address, generation, deviceId });
      return { address, generation, deviceId };
    },

    // A new signing device beside the others; like recover, it replaces a
    // share the server no longer takes.
    async addDevice(opts) {
      opts.onProgress({ phase: 'decrypting' });
      const { address, generation, deviceId } = await server(opts, 'addDevice', { method: opts.method, credential: credential(opts) });
      await writeShare(opts.store, { marker: 'FAKE-SHARE-PLAINTEXT', address, generation, deviceId });
      opts.onProgress({ phase: 'done' });
      return { address, generation, deviceId };
    },

    async listDevices(opts) {
      const share = await readShare(opts.store);
      if (!share) {
        throw coded('NO_WALLET', 'fake device: no wallet');
      }
      return server(opts, 'listDevices', { deviceId: share.deviceId }).catch((err) => markRemoved(opts.store, err));
    },

    async removeDevice(opts) {
      const share = await readShare(opts.store);
      if (!share) {
        throw coded('NO_WALLET', 'fake device: no wallet');
      }
      await server(opts, 'removeDevice', { deviceId: share.deviceId, id: opts.id });
      if (opts.id === share.deviceId) {
        await opts.store.delete('share/active');
      }
      return {};
    },

    async eject(opts) {
      opts.onProgress({ phase: 'eject' });
      return server(opts, 'eject', { method: opts.method, credential: credential(opts) });
    },

    refresh(opts) {
      // apiKey selects how the module fails, so tests can show that the
      // page learns of each failure.
      if (opts.apiKey.endsWith('_test-crash')) {
        setTimeout(() => {
          throw new Error('fake device: uncaught');
        });
      } else {
        setTimeout(() => globalThis.fakeGoExit(2), 10);
      }
      return new Promise(() => {});
    },

    async deviceState({ store }) {
      const share = await readShare(store);
      const mark = await store.get('share/stale');
      // The fake's pair digest: one per share written.
      return share
        ? {
          hasShare: true, stale: mark !== null, removed: mark !== null && mark[0] === 2, address: share.address, generation: share.generation,
          deviceId: share.deviceId, pair: share.deviceId + '/' + share.generation,
        }
        : { hasShare: false };
    },

    async hashPersonalMessage(bytes) {
      const prefix = enc.encode('\x19Ethereum Signed Message:\n' + bytes.length);
      return sha256(concat(prefix, bytes));
    },

    async hashTypedData(json) {
      return sha256(enc.encode(json));
    },

    async keccak256(bytes) {
      return sha256(bytes);
    },
  };

  globalThis.Go = class {
    constructor() {
      this.importObject = {};
      this.exited = false;
      this.exit = (code) => {
        if (code !== 0) {
          console.warn('exit code:', code);
        }
      };
    }

    run() {
      return new Promise((resolve) => {
        globalThis.fakeGoExit = (code) => {
          this.exited = true;
          this.exit(code);
          resolve();
        };
        globalThis.DuetDevice = device;
      });
    }
  };
})();
