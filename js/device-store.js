// The device share's storage: IndexedDB, every value sealed with AES-256-GCM
// under a WebCrypto key made with extractable = false.
//
// A script that defines globalThis.DuetDeviceStore: the device worker imports
// it as a module (so bundlers bundle it with the worker), and the SDK's tests
// load it as a classic script.
//
// The key is kept in IndexedDB as a CryptoKey object: structured clone
// preserves non-extractability, so neither this origin's scripts nor anyone
// reading the database files can export the raw key; they can only ask this
// browser to decrypt. Each (server URL, client) pair gets its own database and
// its own key, so two wallets on one origin never see each other's values.
//
// A sealed value is
//
//     version (1 byte, 2) ‖ IV (12 random bytes) ‖ AES-GCM ciphertext and tag
//
// with associated data naming the wallet (the database's namespace: server
// URL and client), the value's name, its write counter and the generation of
// the share it belongs to (which the device module gives with each put). The
// counters live in one more sealed record, the store's index
// ("\u0000index"), which holds a monotonic counter of writes and, for each
// name, the counter and generation it was last written at; a value and the
// index are written in one IndexedDB transaction. So a value copied to another name or another wallet's
// database fails to open, and so does an older value of the same name put
// back in place of the newer one: it was sealed under an older counter.
// (Putting back the whole database as it was, index included, is not
// detected here; the server then holds another generation of the share than
// the one that came back, and the device drops it at its next session.)
//
// Stores of version 1 (no index, no counter in the associated data) are
// moved to version 2 when opened; after that, version 1 values are refused.
(function (global) {
  'use strict';

  const sealVersion = 2;
  const legacyVersion = 1;
  const indexName = '\u0000index';
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

  const clientKeyPattern = /^duet_c(?:li|st)_([0-9a-f]{32})_/;

  /**
   * Returns the namespace of a wallet's values: 32 hex digits of SHA-256 over
   * the server URL and the client. The client is the id inside a Duet client
   * API key or client session token, which stays the same when the key is
   * rotated or the token renewed; any other key string stands for itself.
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
    if (typeof name !== 'string' || name === '' || name.length > maxNameLength || name[0] === '\u0000') {
      throw storeError('INVALID_ARGUMENT', 'value names are non-empty strings of at most ' + maxNameLength +
        ' characters, not starting with NUL');
    }
  }

  function additionalData(version, namespace, name, at) {
    if (version === legacyVersion) {
      return new TextEncoder().encode('duet device store v1\u0000' + namespace + '\u0000' + name);
    }
    return new TextEncoder().encode('duet device store v2\u0000' + namespace + '\u0000' + name + '\u0000' +
      at.counter + '\u0000' + at.generation);
  }

  function checkPlace(at) {
    if (!at || !Number.isSafeInteger(at.counter) || at.counter < 0 || !Number.isSafeInteger(at.generation) || at.generation < 0) {
      throw storeError('INTERNAL', 'a value\'s write counter and generation must be non-negative integers');
    }
  }

  /**
   * Seals plaintext stored under name in namespace at at = {counter,
   * generation}: its place in the store's writes and its share's generation.
   */
  async function seal(key, namespace, name, at, plaintext, randomValues) {
    checkPlace(at);
    const iv = new Uint8Array(ivBytes);
    (randomValues || ((b) => global.crypto.getRandomValues(b)))(iv);
    const ct = new Uint8Array(await subtle().encrypt(
      { name: 'AES-GCM', iv, additionalData: additionalData(sealVersion, namespace, name, at), tagLength: 128 },
      key,
      plaintext,
    ));
    const out = new Uint8Array(1 + ivBytes + ct.length);
    out[0] = sealVersion;
    out.set(iv, 1);
    out.set(ct, 1 + ivBytes);
    return out;
  }

  /**
   * Opens a value sealed by seal for the same namespace, name and place.
   * A version 1 value opens only with version 1 (while migrating).
   */
  async function open(key, namespace, name, at, sealed, version) {
    const want = version === undefined ? sealVersion : version;
    if (!(sealed instanceof Uint8Array) || sealed.length < 1 + ivBytes + 16 || sealed[0] !== want) {
      throw storeError('INTERNAL', 'stored value ' + JSON.stringify(name) + ' is malformed');
    }
    try {
      const pt = await subtle().decrypt(
        { name: 'AES-GCM', iv: sealed.subarray(1, 1 + ivBytes), additionalData: additionalData(want, namespace, name, at), tagLength: 128 },
        key,
        sealed.subarray(1 + ivBytes),
      );
      return new Uint8Array(pt);
    } catch (err) {
      throw storeError('INTERNAL', 'stored value ' + JSON.stringify(name) + ' failed authentication');
    }
  }

  const indexPlace = Object.freeze({ counter: 0, generation: 0 });

  // The index: {counter, names: {name: [counter, generation]}}, sealed at
  // counter 0 under its own name with its counter inside.
  async function openIndex(key, namespace, sealed) {
    const pt = await open(key, namespace, indexName, indexPlace, sealed);
    let index;
    try {
      index = JSON.parse(new TextDecoder().decode(pt));
    } catch {
      index = null;
    }
    if (!index || !Number.isSafeInteger(index.counter) || index.counter < 0 || !index.names || typeof index.names !== 'object') {
      throw storeError('INTERNAL', 'stored index is malformed');
    }
    const names = new Map();
    for (const [n, at] of Object.entries(index.names)) {
      if (!Array.isArray(at) || at.length !== 2 || !Number.isSafeInteger(at[0]) || at[0] < 1 || at[0] > index.counter ||
          !Number.isSafeInteger(at[1]) || at[1] < 0) {
        throw storeError('INTERNAL', 'stored index is malformed');
      }
      names.set(n, { counter: at[0], generation: at[1] });
    }
    return { counter: index.counter, names };
  }

  function sealIndex(key, namespace, index) {
    const names = {};
    for (const [n, at] of index.names) {
      names[n] = [at.counter, at.generation];
    }
    const pt = new TextEncoder().encode(JSON.stringify({ counter: index.counter, names }));
    return seal(key, namespace, indexName, indexPlace, pt);
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

    async _index() {
      const sealed = await this._backend.get(indexName);
      if (sealed === undefined || sealed === null) {
        return { sealed: null, index: { counter: 0, names: new Map() } };
      }
      return { sealed, index: await openIndex(this._key, this.namespace, sealed) };
    }

    async get(name) {
      checkName(name);
      // The index and the value are read in one transaction, so that a
      // write in between (another tab's) cannot pair them wrongly.
      const [sealedIndex, sealed] = await this._backend.read(indexName, name);
      const index = sealedIndex === undefined || sealedIndex === null
        ? { counter: 0, names: new Map() }
        : await openIndex(this._key, this.namespace, sealedIndex);
      const at = index.names.get(name);
      if (sealed === undefined || sealed === null) {
        if (at !== undefined) {
          throw storeError('INTERNAL', 'stored value ' + JSON.stringify(name) + ' is missing');
        }
        return null;
      }
      if (at === undefined) {
        throw storeError('INTERNAL', 'stored value ' + JSON.stringify(name) + ' is not in the index');
      }
      return open(this._key, this.namespace, name, at, sealed);
    }

    // Writes value (or deletes name, for null) and the index advanced by
    // one, in one transaction, provided the index is still the one read;
    // another writer in between makes it start again.
    async _write(name, plaintext, generation) {
      for (let attempt = 0; attempt < 8; attempt++) {
        const { sealed, index } = await this._index();
        const counter = index.counter + 1;
        const names = new Map(index.names);
        let value = null;
        if (plaintext === null) {
          names.delete(name);
        } else {
          const at = { counter, generation };
          names.set(name, at);
          value = await seal(this._key, this.namespace, name, at, plaintext);
        }
        const newIndex = await sealIndex(this._key, this.namespace, { counter, names });
        if (await this._backend.commit(indexName, sealed, newIndex, name, value)) {
          return;
        }
      }
      throw storeError('INTERNAL', 'the store kept changing while ' + JSON.stringify(name) + ' was written');
    }

    /**
     * Resolves only once the value is durably committed. options.generation
     * is the generation of the share the value belongs to (0 if none).
     */
    async put(name, value, options) {
      checkName(name);
      if (!ArrayBuffer.isView(value)) {
        throw storeError('INVALID_ARGUMENT', 'value of ' + JSON.stringify(name) + ' must be a Uint8Array');
      }
      const generation = options && options.generation !== undefined ? options.generation : 0;
      if (!Number.isSafeInteger(generation) || generation < 0) {
        throw storeError('INVALID_ARGUMENT', 'generation must be a non-negative integer');
      }
      await this._write(name, new Uint8Array(value.buffer, value.byteOffset, value.byteLength), generation);
    }

    /** Resolves only once the deletion is durably committed. */
    async delete(name) {
      checkName(name);
      await this._write(name, null, 0);
    }
  }

  function sameBytes(a, b) {
    if (a === null || a === undefined || b === null || b === undefined) {
      return (a === null || a === undefined) && (b === null || b === undefined);
    }
    if (a.length !== b.length) {
      return false;
    }
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) {
        return false;
      }
    }
    return true;
  }

  /**
   * Moves a version 1 store (values without counters, no index) to version
   * 2: every value is opened with its version 1 associated data and sealed
   * again under a counter, and the index is written with them in one
   * transaction. A store that has an index is left alone.
   */
  async function migrate(backend, key, namespace) {
    if (await backend.get(indexName)) {
      return;
    }
    const entries = await backend.entries();
    if (entries.length === 0) {
      return;
    }
    const names = new Map();
    const writes = [];
    let counter = 0;
    try {
      for (const [name, sealed] of entries) {
        const pt = await open(key, namespace, name, null, sealed, legacyVersion);
        counter++;
        // Version 1 did not record generations; the device module checks
        // the share's own against the server's at its next session.
        const at = { counter, generation: 0 };
        names.set(name, at);
        writes.push([name, await seal(key, namespace, name, at, pt)]);
        pt.fill(0);
      }
    } catch (err) {
      // Another tab may have moved the store meanwhile; then all is well.
      if (await backend.get(indexName)) {
        return;
      }
      throw err;
    }
    const index = await sealIndex(key, namespace, { counter, names });
    // False when another tab moved the store first, which is as good.
    await backend.commitMany(indexName, null, index, writes);
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
      async read(indexKey, name) {
        const d = await db();
        return new Promise((resolve, reject) => {
          const tx = d.transaction('values', 'readonly');
          const st = tx.objectStore('values');
          const a = st.get(indexKey);
          const b = st.get(name);
          tx.oncomplete = () => resolve([a.result, b.result]);
          tx.onerror = () => reject(tx.error);
          tx.onabort = () => reject(tx.error || storeError('INTERNAL', 'transaction aborted'));
        });
      },
      async entries() {
        const d = await db();
        const names = await transact(d, 'values', 'readonly', (s) => s.getAllKeys());
        const out = [];
        for (const n of names) {
          out.push([n, await transact(d, 'values', 'readonly', (s) => s.get(n))]);
        }
        return out;
      },
      async commit(indexKey, expected, index, name, value) {
        return this.commitMany(indexKey, expected, index, [[name, value]]);
      },
      // In one transaction: if the index is still expected, writes it and
      // each [name, value] (null deletes); reports whether it did.
      async commitMany(indexKey, expected, index, writes) {
        const d = await db();
        return new Promise((resolve, reject) => {
          let tx;
          try {
            tx = d.transaction('values', 'readwrite', { durability: 'strict' });
          } catch (err) {
            reject(err);
            return;
          }
          const st = tx.objectStore('values');
          let wrote = false;
          const req = st.get(indexKey);
          req.onsuccess = () => {
            if (!sameBytes(req.result, expected)) {
              return;
            }
            st.put(index, indexKey);
            for (const [n, v] of writes) {
              if (v === null) {
                st.delete(n);
              } else {
                st.put(v, n);
              }
            }
            wrote = true;
          };
          tx.oncomplete = () => resolve(wrote);
          tx.onerror = (e) => reject((e.target && e.target.error) || tx.error);
          tx.onabort = () => reject(tx.error || storeError('INTERNAL', 'transaction aborted'));
        });
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
      async read(indexKey, name) {
        return [values.get(indexKey), values.get(name)];
      },
      async entries() {
        return [...values.entries()].map(([n, v]) => [n, v.slice()]);
      },
      async commit(indexKey, expected, index, name, value) {
        return this.commitMany(indexKey, expected, index, [[name, value]]);
      },
      async commitMany(indexKey, expected, index, writes) {
        if (!sameBytes(values.get(indexKey), expected)) {
          return false;
        }
        values.set(indexKey, index.slice());
        for (const [n, v] of writes) {
          if (v === null) {
            values.delete(n);
          } else {
            values.set(n, v.slice());
          }
        }
        return true;
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
    await migrate(b, key, namespace);
    return new DeviceStore(b, key, namespace);
  }

  global.DuetDeviceStore = Object.freeze({
    namespaceFor,
    databaseName,
    seal,
    open,
    loadOrCreateKey,
    migrate,
    indexName,
    DeviceStore,
    openIdbBackend,
    memoryBackend,
    openDeviceStore,
  });
})(globalThis);
