// The device share's storage: IndexedDB, every value sealed with AES-256-GCM
// under a WebCrypto key made with extractable = false.
//
// A classic script, loaded by the device worker with importScripts (and by
// the SDK's tests), that defines globalThis.DuetDeviceStore.
//
// The key is kept in IndexedDB as a CryptoKey object: structured clone
// preserves non-extractability, so neither this origin's scripts nor anyone
// reading the database files can export the raw key; they can only ask this
// browser to decrypt. Each (server URL, client) pair gets its own database and
// its own key, so two wallets on one origin never see each other's values.
//
// A sealed value is
//
//     version (1 byte, 1) ‖ IV (12 random bytes) ‖ AES-GCM ciphertext and tag
//
// with associated data naming the database and the value's name, so a value
// copied to another name or another wallet's database fails to open.
(function (global) {
  'use strict';

  const sealVersion = 1;
  const ivBytes = 12;
  const keyId = 'device-key';
  const dbVersion = 1;
  const maxNameLength = 256;

  function storeError(code, message) {
    const err = new Error('duet: device store: ' + message);
    err.code = code;
    return err;
  }

  function subtle() {
    const s = global.crypto && global.crypto.subtle;
    if (!s) {
      throw storeError('UNSUPPORTED', 'WebCrypto is unavailable (it needs a secure context: https or localhost)');
    }
    return s;
  }

  function hex(bytes) {
    let s = '';
    for (const b of bytes) {
      s += (b < 16 ? '0' : '') + b.toString(16);
    }
    return s;
  }

  const clientKeyPattern = /^duet_cli_([0-9a-f]{32})_/;

  /**
   * Returns the namespace of a wallet's values: 32 hex digits of SHA-256 over
   * the server URL and the client. The client is the id inside a Duet client
   * API key, which stays the same when the key is rotated; any other key
   * string stands for itself.
   */
  async function namespaceFor(url, apiKey) {
    if (typeof url !== 'string' || url === '' || typeof apiKey !== 'string' || apiKey === '') {
      throw storeError('INVALID_ARGUMENT', 'url and apiKey are required');
    }
    const m = clientKeyPattern.exec(apiKey);
    const client = m ? 'client:' + m[1] : 'key:' + apiKey;
    const input = new TextEncoder().encode('duet device store v1\n' + url + '\n' + client);
    const digest = new Uint8Array(await subtle().digest('SHA-256', input));
    return hex(digest.subarray(0, 16));
  }

  function checkName(name) {
    if (typeof name !== 'string' || name === '' || name.length > maxNameLength) {
      throw storeError('INVALID_ARGUMENT', 'value names are non-empty strings of at most ' + maxNameLength + ' characters');
    }
  }

  function additionalData(namespace, name) {
    return new TextEncoder().encode('duet device store v1\u0000' + namespace + '\u0000' + name);
  }

  /** Seals plaintext stored under name in namespace. */
  async function seal(key, namespace, name, plaintext, randomValues) {
    const iv = new Uint8Array(ivBytes);
    (randomValues || ((b) => global.crypto.getRandomValues(b)))(iv);
    const ct = new Uint8Array(await subtle().encrypt(
      { name: 'AES-GCM', iv, additionalData: additionalData(namespace, name), tagLength: 128 },
      key,
      plaintext,
    ));
    const out = new Uint8Array(1 + ivBytes + ct.length);
    out[0] = sealVersion;
    out.set(iv, 1);
    out.set(ct, 1 + ivBytes);
    return out;
  }

  /** Opens a value sealed by seal for the same namespace and name. */
  async function open(key, namespace, name, sealed) {
    if (!(sealed instanceof Uint8Array) || sealed.length < 1 + ivBytes + 16 || sealed[0] !== sealVersion) {
      throw storeError('INTERNAL', 'stored value ' + JSON.stringify(name) + ' is malformed');
    }
    try {
      const pt = await subtle().decrypt(
        { name: 'AES-GCM', iv: sealed.subarray(1, 1 + ivBytes), additionalData: additionalData(namespace, name), tagLength: 128 },
        key,
        sealed.subarray(1 + ivBytes),
      );
      return new Uint8Array(pt);
    } catch (err) {
      throw storeError('INTERNAL', 'stored value ' + JSON.stringify(name) + ' failed authentication');
    }
  }

  function checkKey(key) {
    if (!key || key.extractable !== false || !key.algorithm || key.algorithm.name !== 'AES-GCM' ||
        key.algorithm.length !== 256) {
      throw storeError('INTERNAL', 'stored device key is not a non-extractable AES-256-GCM key');
    }
    return key;
  }

  /**
   * Returns the backend's device key, creating it on first use. Two tabs may
   * race to create it; add() lets only the first one store its key and the
   * other reads the winner's.
   */
  async function loadOrCreateKey(backend) {
    const existing = await backend.getKey();
    if (existing) {
      return checkKey(existing);
    }
    const fresh = await subtle().generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    if (await backend.addKey(fresh)) {
      return checkKey(fresh);
    }
    const winner = await backend.getKey();
    if (!winner) {
      throw storeError('INTERNAL', 'device key vanished while being created');
    }
    return checkKey(winner);
  }

  /**
   * DeviceStore is the store object handed to the device module: async
   * get(name) → Uint8Array | null, put(name, Uint8Array), delete(name).
   */
  class DeviceStore {
    constructor(backend, key, namespace) {
      this._backend = backend;
      this._key = key;
      this.namespace = namespace;
      // Bound, so the device module can call them detached from the object.
      this.get = this.get.bind(this);
      this.put = this.put.bind(this);
      this.delete = this.delete.bind(this);
    }

    async get(name) {
      checkName(name);
      const sealed = await this._backend.get(name);
      if (sealed === undefined || sealed === null) {
        return null;
      }
      return open(this._key, this.namespace, name, sealed);
    }

    /** Resolves only once the value is durably committed. */
    async put(name, value) {
      checkName(name);
      if (!ArrayBuffer.isView(value)) {
        throw storeError('INVALID_ARGUMENT', 'value of ' + JSON.stringify(name) + ' must be a Uint8Array');
      }
      const plaintext = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      await this._backend.put(name, await seal(this._key, this.namespace, name, plaintext));
    }

    /** Resolves only once the deletion is durably committed. */
    async delete(name) {
      checkName(name);
      await this._backend.delete(name);
    }
  }

  function request(req) {
    return new Promise((resolve, reject) => {
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  /**
   * Runs body in a transaction and resolves with its result once the
   * transaction completes. Waiting for complete rather than for the request's
   * success is what makes a put durable: the device's ACK in the two-phase
   * commit (docs/ARCHITECTURE.md §3) is sent only after this resolves.
   */
  function transact(db, storeName, mode, body) {
    return new Promise((resolve, reject) => {
      let tx;
      try {
        // Strict durability flushes to disk before complete fires; browsers
        // that do not know the option ignore it.
        tx = db.transaction(storeName, mode, { durability: 'strict' });
      } catch (err) {
        reject(err);
        return;
      }
      let result;
      const req = body(tx.objectStore(storeName));
      req.onsuccess = () => {
        result = req.result;
      };
      tx.oncomplete = () => resolve(result);
      // An error aborts the transaction (nothing is prevented), so a failed
      // request never leaves a half-done write behind.
      tx.onerror = (e) => reject((e.target && e.target.error) || req.error || tx.error);
      tx.onabort = () => reject(tx.error || req.error || storeError('INTERNAL', 'transaction aborted'));
    });
  }

  /** An IndexedDB backend for the database named dbName. */
  function openIdbBackend(dbName) {
    const idb = global.indexedDB;
    if (!idb) {
      throw storeError('UNSUPPORTED', 'IndexedDB is unavailable');
    }
    let dbPromise = null;

    function db() {
      if (dbPromise === null) {
        dbPromise = new Promise((resolve, reject) => {
          const req = idb.open(dbName, dbVersion);
          req.onupgradeneeded = () => {
            const d = req.result;
            if (!d.objectStoreNames.contains('keys')) {
              d.createObjectStore('keys');
            }
            if (!d.objectStoreNames.contains('values')) {
              d.createObjectStore('values');
            }
          };
          req.onsuccess = () => {
            const d = req.result;
            // Let another tab upgrade or delete the database; the next
            // operation here opens it again.
            d.onversionchange = () => {
              d.close();
              dbPromise = null;
            };
            d.onclose = () => {
              dbPromise = null;
            };
            resolve(d);
          };
          req.onerror = () => {
            dbPromise = null;
            reject(storeError('INTERNAL', 'cannot open IndexedDB database: ' + (req.error && req.error.message)));
          };
          req.onblocked = () => {
            dbPromise = null;
            reject(storeError('INTERNAL', 'IndexedDB database is blocked by another tab'));
          };
        });
      }
      return dbPromise;
    }

    return {
      name: dbName,
      async getKey() {
        return transact(await db(), 'keys', 'readonly', (s) => s.get(keyId));
      },
      async addKey(key) {
        try {
          await transact(await db(), 'keys', 'readwrite', (s) => s.add(key, keyId));
          return true;
        } catch (err) {
          if (err && err.name === 'ConstraintError') {
            return false;
          }
          throw err;
        }
      },
      async get(name) {
        return transact(await db(), 'values', 'readonly', (s) => s.get(name));
      },
      async put(name, sealed) {
        await transact(await db(), 'values', 'readwrite', (s) => s.put(sealed, name));
      },
      async delete(name) {
        await transact(await db(), 'values', 'readwrite', (s) => s.delete(name));
      },
      close() {
        if (dbPromise !== null) {
          dbPromise.then((d) => d.close(), () => {});
          dbPromise = null;
        }
      },
    };
  }

  /** An in-memory backend with the same contract, for tests. */
  function memoryBackend() {
    const keys = new Map();
    const values = new Map();
    return {
      keys,
      values,
      async getKey() {
        return keys.get(keyId);
      },
      async addKey(key) {
        if (keys.has(keyId)) {
          return false;
        }
        keys.set(keyId, key);
        return true;
      },
      async get(name) {
        return values.get(name);
      },
      async put(name, sealed) {
        values.set(name, sealed.slice());
      },
      async delete(name) {
        values.delete(name);
      },
      close() {},
    };
  }

  /** The IndexedDB database name of a namespace. */
  function databaseName(namespace) {
    return 'duet-device-' + namespace;
  }

  /**
   * Opens the store of the wallet of (url, apiKey): in IndexedDB unless a
   * backend is given.
   */
  async function openDeviceStore({ url, apiKey, backend }) {
    const namespace = await namespaceFor(url, apiKey);
    const b = backend || openIdbBackend(databaseName(namespace));
    const key = await loadOrCreateKey(b);
    return new DeviceStore(b, key, namespace);
  }

  global.DuetDeviceStore = Object.freeze({
    namespaceFor,
    databaseName,
    seal,
    open,
    loadOrCreateKey,
    DeviceStore,
    openIdbBackend,
    memoryBackend,
    openDeviceStore,
  });
})(globalThis);
