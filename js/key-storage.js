// Storage adapters for the keys of custom backups. A custom backup
// (backupWallet({ method: 'custom', key })) is encrypted under a 32-byte key
// that the app keeps, not Duet: an adapter is where it keeps it. Any object
// with these two methods is an adapter:
//
//     {
//       // The wallet's key, or null if none is stored.
//       load(walletId: string): Promise<Uint8Array | null>,
//       // Stores the wallet's key; refuses to replace a different one.
//       save(walletId: string, key: Uint8Array): Promise<void>,
//     }
//
// GoogleDriveKeyStorage is an example adapter that keeps the key as a file
// in the user's Google Drive appDataFolder, a folder only the app can see,
// through the Drive v3 REST API with the app's own OAuth access token (scope
// https://www.googleapis.com/auth/drive.appdata). Duet's tests run it
// against a local fake of those Drive calls (js/test/fake-drive.mjs), since
// Google Drive cannot be reached from the test machines.

import { DuetError, ErrorCode } from './errors.js';

const keySize = 32;

function invalid(message) {
  return new DuetError(ErrorCode.INVALID_ARGUMENT, 'duet: ' + message);
}

function checkWalletId(walletId) {
  if (typeof walletId !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(walletId)) {
    throw invalid('walletId must be a wallet id');
  }
}

function checkKey(key) {
  if (!(key instanceof Uint8Array) || key.length !== keySize) {
    throw invalid('a backup key must be a 32-byte Uint8Array');
  }
}

function sameBytes(a, b) {
  if (a.length !== b.length) {
    return false;
  }
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    d |= a[i] ^ b[i];
  }
  return d === 0;
}

/**
 * Returns the wallet's key from storage, making and saving a fresh random
 * one if none is stored yet. A saved key is read back before it is used, so
 * that a backup is never made under a key the storage did not keep.
 *
 * @param {{load: Function, save: Function}} storage
 * @param {string} walletId
 * @returns {Promise<Uint8Array>}
 */
export async function loadOrCreateKey(storage, walletId) {
  checkWalletId(walletId);
  if (!storage || typeof storage.load !== 'function' || typeof storage.save !== 'function') {
    throw invalid('storage must have load(walletId) and save(walletId, key)');
  }
  const stored = await storage.load(walletId);
  if (stored !== null && stored !== undefined) {
    checkKey(stored);
    return stored;
  }
  const key = crypto.getRandomValues(new Uint8Array(keySize));
  await storage.save(walletId, key);
  const back = await storage.load(walletId);
  if (!(back instanceof Uint8Array) || !sameBytes(back, key)) {
    throw new DuetError(ErrorCode.SERVER_ERROR, 'duet: the key storage did not keep the new backup key');
  }
  return key;
}

const driveBase = 'https://www.googleapis.com';

/**
 * Keeps backup keys in the user's Google Drive appDataFolder, one file per
 * wallet, through the Drive v3 REST API: files.list (spaces=appDataFolder),
 * a multipart files.create, and files.get with alt=media.
 */
export class GoogleDriveKeyStorage {
  #token;
  #base;
  #fetch;
  #fileName;

  /**
   * @param {{accessToken: string | (() => Promise<string>), baseUrl?: string, fetch?: Function, fileName?: (walletId: string) => string}} options
   *   accessToken is the app's OAuth 2.0 access token with the drive.appdata
   *   scope, or a function that returns a current one. baseUrl replaces
   *   https://www.googleapis.com (for a test double).
   */
  constructor(options) {
    const { accessToken, baseUrl = driveBase, fileName } = options ?? {};
    if (typeof accessToken !== 'function' && (typeof accessToken !== 'string' || accessToken === '')) {
      throw invalid('GoogleDriveKeyStorage wants accessToken, a string or a function');
    }
    this.#token = accessToken;
    this.#base = String(baseUrl).replace(/\/+$/, '');
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#fileName = fileName ?? ((walletId) => `duet-backup-key-${walletId}.bin`);
  }

  async #request(method, path, { body, headers = {} } = {}) {
    const token = typeof this.#token === 'function' ? await this.#token() : this.#token;
    let res;
    try {
      res = await this.#fetch(this.#base + path, {
        method,
        body,
        headers: { ...headers, Authorization: `Bearer ${token}` },
        cache: 'no-store',
      });
    } catch (err) {
      throw new DuetError(ErrorCode.NETWORK, `duet: cannot reach Google Drive: ${err?.message ?? err}`, { cause: err });
    }
    if (!res.ok) {
      const code = res.status === 401 || res.status === 403 ? ErrorCode.UNAUTHORIZED : ErrorCode.SERVER_ERROR;
      throw new DuetError(code, `duet: Google Drive answered ${method} ${path.split('?')[0]} with ${res.status}`);
    }
    return res;
  }

  // The id of the wallet's key file, or null.
  async #find(walletId) {
    const name = this.#fileName(walletId);
    const q = `name = '${name.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}' and trashed = false`;
    const params = new URLSearchParams({ spaces: 'appDataFolder', q, fields: 'files(id,name)', pageSize: '10' });
    const res = await this.#request('GET', `/drive/v3/files?${params}`);
    const body = await res.json();
    const files = Array.isArray(body?.files) ? body.files.filter((f) => f?.name === name && typeof f.id === 'string') : [];
    if (files.length > 1) {
      throw new DuetError(ErrorCode.SERVER_ERROR, `duet: Google Drive holds ${files.length} key files for wallet ${walletId}`);
    }
    return files.length === 1 ? files[0].id : null;
  }

  /** @returns {Promise<Uint8Array | null>} */
  async load(walletId) {
    checkWalletId(walletId);
    const id = await this.#find(walletId);
    if (id === null) {
      return null;
    }
    const res = await this.#request('GET', `/drive/v3/files/${encodeURIComponent(id)}?alt=media`);
    const key = new Uint8Array(await res.arrayBuffer());
    if (key.length !== keySize) {
      throw new DuetError(ErrorCode.SERVER_ERROR, `duet: the key file of wallet ${walletId} holds ${key.length} bytes, not ${keySize}`);
    }
    return key;
  }

  /** Stores the key; saving the same key again does nothing, a different one is refused. */
  async save(walletId, key) {
    checkWalletId(walletId);
    checkKey(key);
    const existing = await this.load(walletId);
    if (existing !== null) {
      if (sameBytes(existing, key)) {
        return;
      }
      throw invalid(`Google Drive already holds another key for wallet ${walletId}; a backup may depend on it`);
    }
    const boundary = 'duet-' + Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('');
    const meta = JSON.stringify({ name: this.#fileName(walletId), parents: ['appDataFolder'], mimeType: 'application/octet-stream' });
    const enc = new TextEncoder();
    const head = enc.encode(
      `--${boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n${meta}\r\n` +
        `--${boundary}\r\nContent-Type: application/octet-stream\r\n\r\n`,
    );
    const tail = enc.encode(`\r\n--${boundary}--\r\n`);
    const body = new Uint8Array(head.length + key.length + tail.length);
    body.set(head, 0);
    body.set(key, head.length);
    body.set(tail, head.length + key.length);
    await this.#request('POST', '/upload/drive/v3/files?uploadType=multipart&fields=id', {
      body,
      headers: { 'Content-Type': `multipart/related; boundary=${boundary}` },
    });
  }
}
