// The Duet SDK: a browser MPC wallet whose key is split between this device
// and the Duet server (docs/ARCHITECTURE.md). Served by the server at /duet.js:
//
//     import { Duet } from '/duet.js';
//     const duet = await Duet.connect({ url, apiKey, onProgress });
//     const { address } = await duet.createWallet();
//
// The device party runs as WebAssembly in a Web Worker (worker.js); this
// module is the page's side: argument checks, one session at a time, the
// lifecycle queries to the server's client API, and duet.provider.

import { DuetError, ErrorCode, errorFromResponse, toDuetError } from './errors.js';
import { bytesToHex, digestBytes, isAddress, messageBytes } from './bytes.js';
import { WorkerChannel, callListener } from './rpc.js';
import { DuetProvider, announceProvider, checkProviderOptions } from './provider.js';
import { approvalCode, approvalGate, checkApprovalOptions, formatApprovalCode, showCodeDialog } from './approval.js';
import { DeviceHost, RequestKind } from './host.js';
import { FrameChannel, FrameHost } from './frame-channel.js';
import { Credential, clientIdOf, isUnauthorized } from './credential.js';
import { passkeyBackupKey } from './passkey.js';

export { DuetError, ErrorCode } from './errors.js';
export { DuetProvider, ProviderErrorCode, ProviderRpcError, providerInfo } from './provider.js';
export { RequestKind } from './host.js';
export { sessionTokenExpiry } from './credential.js';
export { GoogleDriveKeyStorage, loadOrCreateKey } from './key-storage.js';

/** How a backup share is encrypted, and so how it is opened again. */
export const BackupMethod = Object.freeze({
  /** A password, stretched with Argon2id by the device module. */
  PASSWORD: 'password',
  /**
   * A passkey of the app's relying party: the SDK asks it (WebAuthn with the
   * PRF extension) and derives the key on this device.
   */
  PASSKEY: 'passkey',
  /** A 32-byte key the app keeps, for instance in the user's cloud drive (see key-storage.js). */
  CUSTOM: 'custom',
  /** @deprecated The former name of CUSTOM; it means custom. */
  APP: 'app',
});

const backupMethods = new Set(Object.values(BackupMethod));
// The methods an app names; app is read as custom.
const methodNames = 'password, passkey, custom';

/** The default for Duet.connect's loadTimeoutMs. */
export const DEFAULT_LOAD_TIMEOUT_MS = 120000;

/** The default for Duet.connect's connectTimeoutMs. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10000;

// The device module's calls that open a session with the server, and so
// present the credential.
const sessionMethods = new Set([
  'keygen', 'sign', 'signTransaction', 'backup', 'recover', 'eject', 'refresh', 'addDevice', 'requestApproval', 'approveDevice',
  'listDevices', 'removeDevice',
]);

const constructing = Symbol('Duet.connect');

// The operation a provider request reports progress under, as the public
// method that does the same.
const operationNames = Object.freeze({
  [RequestKind.MESSAGE]: 'signMessage',
  [RequestKind.TYPED_DATA]: 'signTypedData',
  [RequestKind.TRANSACTION]: 'signTransaction',
  [RequestKind.DIGEST]: 'signDigest',
});

function invalid(message) {
  return new DuetError(ErrorCode.INVALID_ARGUMENT, 'duet: ' + message);
}

function resolveUrl(u, what) {
  try {
    return new URL(u, globalThis.location?.href ?? import.meta.url).href;
  } catch {
    throw invalid(`${what} is not a URL: ${String(u)}`);
  }
}

/** Returns the server's base URL without query, fragment or trailing slash. */
export function normalizeServerUrl(url) {
  let u;
  try {
    u = new URL(url);
  } catch {
    throw invalid(`url is not an absolute URL: ${String(url)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw invalid(`url must be http or https, not ${u.protocol}`);
  }
  return u.origin + u.pathname.replace(/\/+$/, '');
}

/**
 * Returns the client id inside a Duet client API key
 * ("duet_cli_<32 hex digits>_<secret>") or client session token
 * ("duet_cst_<32 hex digits>_<expiry>_<mac>"), or null for another string.
 */
export function clientIdFromApiKey(apiKey) {
  return clientIdOf(apiKey);
}

// GETs a route of the server's client API with the credential and returns
// its JSON body. A session token the server refuses is renewed once.
async function getJson(fetchFn, url, path, credential, timeoutMs) {
  const attempt = async (key) => {
    let res;
    try {
      res = await fetchFn(url + path, {
        headers: { Authorization: `Bearer ${key}`, Accept: 'application/json' },
        cache: 'no-store',
        signal: timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const why = err?.name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : 'the connection failed';
      throw new DuetError(ErrorCode.NETWORK, `duet: cannot reach the Duet server at ${url} (${why}); check that it runs and that it allows this page's origin`, { cause: err });
    }
    const body = await readJson(res);
    if (!res.ok) {
      throw errorFromResponse(res.status, body);
    }
    if (body === undefined) {
      throw new DuetError(ErrorCode.SERVER_ERROR, `duet: the server answered ${path} without JSON: is ${url} a Duet server?`);
    }
    return body;
  };
  const key = await credential.fresh();
  try {
    return await attempt(key);
  } catch (err) {
    if (!credential.renewable || !isUnauthorized(err)) {
      throw err;
    }
    return attempt(await credential.renew());
  }
}

// A device channel that presents a fresh credential to the device worker
// before each session, and renews a session token the server refused and
// runs the session once more (a refused Hello changes nothing).
class CredentialChannel {
  #channel;
  #credential;
  #sent;

  constructor(channel, credential, sent) {
    this.#channel = channel;
    this.#credential = credential;
    this.#sent = sent;
  }

  get closed() {
    return this.#channel.closed;
  }

  get failure() {
    return this.#channel.failure;
  }

  close(err) {
    this.#channel.close(err);
  }

  async call(method, params, options) {
    if (!sessionMethods.has(method) || !this.#credential.renewable) {
      return this.#channel.call(method, params, options);
    }
    await this.#sync(await this.#credential.fresh());
    try {
      return await this.#channel.call(method, params, options);
    } catch (err) {
      if (!isUnauthorized(err)) {
        throw err;
      }
      await this.#sync(await this.#credential.renew());
      return this.#channel.call(method, params, options);
    }
  }

  async #sync(key) {
    if (key !== this.#sent) {
      await this.#channel.call('setApiKey', { apiKey: key });
      this.#sent = key;
    }
  }
}

// backupOptions checks the options of an operation that needs a backup
// secret. A passkey's key is derived later, once the wallet id is known.
function backupOptions(options, operation) {
  if (options === null || typeof options !== 'object') {
    throw invalid(`${operation} wants {method, password}, {method: 'passkey'} or {method: 'custom', key}`);
  }
  const { password, key } = options;
  let { method } = options;
  if (!backupMethods.has(method)) {
    throw invalid(`method must be one of ${methodNames}`);
  }
  if (method === BackupMethod.APP) {
    method = BackupMethod.CUSTOM;
  }
  if (method === BackupMethod.PASSWORD) {
    if (typeof password !== 'string' || password === '') {
      throw invalid(`${operation} with method password wants a non-empty password`);
    }
    return { method, password };
  }
  if (method === BackupMethod.PASSKEY && key === undefined) {
    const passkey = {};
    for (const k of ['rpId', 'rpName', 'userName', 'userDisplayName']) {
      if (options[k] !== undefined) {
        if (typeof options[k] !== 'string' || options[k] === '') {
          throw invalid(`${operation}: ${k} must be a non-empty string`);
        }
        passkey[k] = options[k];
      }
    }
    return { method, passkey };
  }
  if (!(key instanceof Uint8Array) || key.length !== 32) {
    throw invalid(`${operation} with method ${method} wants key, a 32-byte Uint8Array`);
  }
  return { method, key: key.slice() };
}

// The method of addDevice that adds this device once another device of the
// wallet approves it with the code this one shows: not a backup method.
const APPROVAL = 'approval';

// Checks the options of addDevice with method approval.
function approvalOptions(options, isolated) {
  for (const k of Object.keys(options)) {
    if (k !== 'method' && k !== 'onCode' && k !== 'onProgress') {
      throw invalid(`addDevice with method approval takes no ${k}`);
    }
  }
  const { onCode } = options;
  if (isolated) {
    if (onCode !== undefined) {
      throw invalid('in isolation mode the frame shows the code itself, so that the page never has it: give no onCode');
    }
    return undefined;
  }
  if (onCode !== undefined && typeof onCode !== 'function') {
    throw invalid('onCode must be a function');
  }
  if (onCode === undefined && typeof globalThis.document?.createElement !== 'function') {
    throw invalid('addDevice with method approval wants onCode where there is no page to show the code on');
  }
  return onCode;
}

// A device id as listDevices names it: 16 bytes in hex, or empty for the
// one device of a wallet made before devices existed.
const deviceIdPattern = /^(?:[0-9a-f]{32})?$/;

function deviceIdOption(id, operation) {
  if (typeof id !== 'string' || !deviceIdPattern.test(id.toLowerCase())) {
    throw invalid(`${operation} wants a device id as listDevices names it: 32 hex digits (or '' for a wallet's device from before devices)`);
  }
  return id.toLowerCase();
}

// Checks one entry of the device module's device list.
function deviceEntry(d) {
  const time = (v) => typeof v === 'string' && v !== '' && !Number.isNaN(Date.parse(v));
  if (d === null || typeof d !== 'object' || typeof d.id !== 'string' || !deviceIdPattern.test(d.id) ||
      !time(d.createdAt) || !(d.lastUsedAt === null || d.lastUsedAt === undefined || time(d.lastUsedAt)) ||
      typeof d.current !== 'boolean') {
    throw new DuetError(ErrorCode.INTERNAL, 'duet: device module returned a malformed device list');
  }
  return { id: d.id, createdAt: d.createdAt, lastUsedAt: d.lastUsedAt ?? null, current: d.current };
}

function methodOption(method, operation) {
  if (!backupMethods.has(method)) {
    throw invalid(`${operation}: method must be one of ${methodNames}`);
  }
  return method === BackupMethod.APP ? BackupMethod.CUSTOM : method;
}

function progressOption(options) {
  if (options === undefined || options === null) {
    return undefined;
  }
  if (typeof options !== 'object') {
    throw invalid('options must be an object');
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw invalid('onProgress must be a function');
  }
  return options.onProgress;
}

// Starts the device worker as a module worker. Without a workerUrl it is
// started with the literal `new Worker(new URL('./worker.js', import.meta.url),
// {type: 'module'})` that Vite and webpack recognise, so an app that bundles
// the SDK bundles the worker and its store too. A page of another origin
// than the SDK's cannot start a worker from the SDK's URL; it starts a
// same-origin module that imports it (a blob:, which a CSP of worker-src
// 'self' refuses: such pages bundle the SDK or use isolation mode).
function startWorker(workerUrl, isDefault) {
  if (typeof globalThis.Worker !== 'function') {
    throw new DuetError(ErrorCode.UNSUPPORTED, 'duet: this browser has no Web Workers');
  }
  const sameOrigin = globalThis.location && new URL(workerUrl).origin === globalThis.location.origin;
  let blobUrl = null;
  try {
    if (isDefault && sameOrigin) {
      return { worker: new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'duet-device' }), release() {} };
    }
    if (sameOrigin) {
      return { worker: new Worker(workerUrl, { type: 'module', name: 'duet-device' }), release() {} };
    }
    const source = `import ${JSON.stringify(workerUrl)};\n`;
    blobUrl = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
    const worker = new Worker(blobUrl, { type: 'module', name: 'duet-device' });
    return {
      worker,
      release() {
        URL.revokeObjectURL(blobUrl);
      },
    };
  } catch (err) {
    if (blobUrl !== null) {
      URL.revokeObjectURL(blobUrl);
    }
    if (err?.name === 'SecurityError') {
      throw cspBlocked(`worker-src`, workerUrl, err);
    }
    throw new DuetError(ErrorCode.NETWORK, `duet: cannot start the device worker from ${workerUrl}: ${err.message}`, { cause: err });
  }
}

function cspBlocked(directive, url, cause) {
  return new DuetError(
    ErrorCode.CSP_BLOCKED,
    `duet: the page's Content-Security-Policy (${directive}) blocked the device worker ${url}: ` +
      `allow it with worker-src 'self' and script-src 'self' 'wasm-unsafe-eval', serving the SDK from the page's origin`,
    { cause },
  );
}

// Watches the page for Content-Security-Policy violations while the device
// worker starts, so that a worker the policy refused is reported as
// CSP_BLOCKED rather than as a network failure. The violation event and the
// worker's error event arrive in either order, so explain waits briefly for
// the former.
function watchCsp() {
  const doc = globalThis.document;
  let seen = null;
  // A worker refused by worker-src, or by the child-src, script-src or
  // default-src it falls back to, is reported with effectiveDirective
  // worker-src; the directive named is the one the policy states.
  const onViolation = (e) => {
    if (seen === null && e.effectiveDirective === 'worker-src') {
      seen = { directive: String(e.violatedDirective || 'worker-src').split(' ')[0], url: String(e.blockedURI || '') };
    }
  };
  doc?.addEventListener?.('securitypolicyviolation', onViolation);
  return {
    async explain(err) {
      if (err.code !== ErrorCode.NETWORK || !doc) {
        return err;
      }
      if (seen === null) {
        await new Promise((r) => setTimeout(r, 100));
      }
      return seen === null ? err : cspBlocked(seen.directive, seen.url || 'script', err);
    },
    stop() {
      doc?.removeEventListener?.('securitypolicyviolation', onViolation);
    },
  };
}

/**
 * A connection to one wallet: the wallet of the client whose API key was
 * given, on this device and on the server at url.
 *
 * Sessions with the server (createWallet, signing, backupWallet,
 * recoverWallet, ejectPrivateKey, refreshWallet) run one at a time, in the
 * order they were called; across tabs the device worker serialises them too.
 */
export class Duet {
  #channel;
  #host;
  #providerControl = null;
  #url;
  #credential;
  #isolated;
  #fetch;
  #onProgress;
  #provider;
  #state = { hasShare: false, stale: false, removed: false, address: null, generation: 0, walletId: '', deviceId: null, signingReady: false, sparePrimes: 0, presignatures: 0, moduleMemoryBytes: 0 };
  // The server refused this device (DEVICE_REMOVED): the pair of the share
  // it refused, once read, and whether a refusal awaits that read.
  #removedPair = null;
  #removedPending = false;
  #persistence = Promise.resolve(null);
  #queue = Promise.resolve();
  #queued_ = 0; // operations queued or running
  #filling = false; // a background presignature is queued
  #background = true; // connect's background option
  #sparePrimes = true; // connect's sparePrimes option
  #stocking = false; // the spare prime search runs
  #listeners = new Map(); // event name → Set of listeners
  #ready = false;
  #stopAnnouncing = () => {};

  /** Use Duet.connect. */
  constructor(token, init) {
    if (token !== constructing) {
      throw new TypeError('duet: use Duet.connect to make a Duet');
    }
    this.#url = init.url;
    // In isolation mode the page keeps no API key: the frame has it.
    this.#isolated = init.host instanceof FrameHost;
    this.#credential = this.#isolated ? null : init.credential;
    this.#fetch = init.fetch;
    this.#onProgress = init.onProgress;
    this.#channel = init.channel;
    this.#host = init.host ?? new DeviceHost(new CredentialChannel(init.channel, init.credential, init.credential.current), init.approve);
    const duet = this;
    // The provider's only way to the device: requests go through the host's
    // approval point like the public sign* methods' do.
    const signer = Object.freeze({
      get address() {
        return duet.#state.address;
      },
      authorize(request) {
        return duet.#authorize(operationNames[request?.kind] ?? 'approve', request);
      },
      attach(control) {
        if (duet.#providerControl === null) {
          duet.#providerControl = control;
        }
      },
    });
    this.#provider = new DuetProvider(signer, init.providerOptions);
  }

  /**
   * Starts the device worker, loads the device module and reads this
   * device's wallet state.
   *
   * @param {object} options
   * @param {string} [options.apiKey] the client API key; or give
   *   getSessionToken
   * @param {() => Promise<string>} [options.getSessionToken] returns a
   *   client session token that the app's backend minted (POST
   *   /v1/clients/{id}/session-tokens); called at connect, and again when
   *   the token expires or the server refuses it
   * @param {number} [options.connectTimeoutMs] how long connect waits for
   *   the server's answer to its first request; default 10000
   * @param {string} [options.url] the server's base URL; defaults to the
   *   origin this module was loaded from
   * @param {(event: {operation: string, phase: string, protocol?: string, round?: number, detail?: string}) => void} [options.onProgress]
   *   receives every progress event of this Duet's operations
   * @param {number | string} [options.chainId] the provider's chain: a CAIP-2
   *   id ('eip155:1'), a number or 0x hex; default the first chain of
   *   rpcConfig, else 1337
   * @param {Record<string, string>} [options.rpcConfig] the JSON-RPC URL of
   *   each chain, by CAIP-2 id: {'eip155:1': 'https://…'}
   * @param {{onSignatureRequest?: (request: object) => boolean | Promise<boolean>}} [options.hooks]
   *   onSignatureRequest approves (true) or rejects each signature, and each
   *   chain added or switched to outside rpcConfig; it is shown the frozen
   *   description that will be signed. Without it the SDK shows its own
   *   confirmation dialog.
   * @param {boolean} [options.autoApprove] true approves every request
   *   without asking anyone; default false
   * @param {boolean} [options.announceProvider] announce duet.provider to
   *   dapps by EIP-6963; default true
   * @param {string} [options.wasmUrl] default: duet.wasm beside this module
   * @param {string} [options.wasmExecUrl] default: wasm_exec.js beside this module
   * @param {string} [options.workerUrl] default: worker.js beside this module
   * @param {number} [options.loadTimeoutMs] how long loading the device
   *   module may take before connect fails with NETWORK; default 120000
   * @param {typeof fetch} [options.fetch] the fetch used for the server's
   *   HTTP API and the chains' RPC; default globalThis.fetch
   * @param {boolean} [options.background] run aux-info after createWallet
   *   and keep a pool of presignatures, in the background; default true.
   *   With false, aux-info runs when the first signature needs it and each
   *   signature presigns inline.
   * @param {boolean} [options.sparePrimes] search for the safe primes of
   *   the device's next Paillier keys in the background, from connect, in
   *   nested workers where the browser allows them, and keep them sealed in
   *   the device's store, so that aux-info, refresh and recovery need not
   *   search (operation 'sparePrimes', phase 'primes' in onProgress);
   *   default: as background
   * @param {boolean | {frameUrl?: string}} [options.isolation] run the
   *   device party (worker, sealed store, API key) and the approval dialog
   *   in an iframe of the server's origin (frameUrl, default
   *   url + '/duet-frame.html'); hooks and autoApprove are then refused,
   *   since the page cannot be the one that approves
   * @returns {Promise<Duet>}
   */
  static async connect(options = {}) {
    if (options === null || typeof options !== 'object') {
      throw invalid('connect wants an options object');
    }
    const {
      apiKey,
      getSessionToken,
      onProgress,
      chainId,
      rpcConfig,
      hooks,
      autoApprove,
      announceProvider: announce = true,
      loadTimeoutMs = DEFAULT_LOAD_TIMEOUT_MS,
      connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS,
      fetch: fetchFn = globalThis.fetch?.bind(globalThis),
    } = options;
    if (onProgress !== undefined && typeof onProgress !== 'function') {
      throw invalid('onProgress must be a function');
    }
    if (typeof fetchFn !== 'function') {
      throw invalid('fetch must be a function');
    }
    if (!Number.isFinite(loadTimeoutMs) || loadTimeoutMs <= 0) {
      throw invalid('loadTimeoutMs must be a positive number');
    }
    if (!Number.isFinite(connectTimeoutMs) || connectTimeoutMs <= 0) {
      throw invalid('connectTimeoutMs must be a positive number');
    }
    if (options.background !== undefined && typeof options.background !== 'boolean') {
      throw invalid('background must be a boolean');
    }
    const background = options.background !== false;
    if (options.sparePrimes !== undefined && typeof options.sparePrimes !== 'boolean') {
      throw invalid('sparePrimes must be a boolean');
    }
    const sparePrimes = options.sparePrimes ?? background;
    const providerOptions = { chainId, rpcConfig, fetch: fetchFn };
    try {
      checkProviderOptions(providerOptions);
    } catch (err) {
      throw invalid(err.message.replace(/^duet: /, ''));
    }
    const url = normalizeServerUrl(options.url ?? new URL(import.meta.url).origin);
    if (options.isolation !== undefined && options.isolation !== false) {
      if (hooks !== undefined || autoApprove !== undefined) {
        throw invalid('in isolation mode the frame asks the user itself: give neither hooks nor autoApprove');
      }
      const iso = options.isolation === true ? {} : options.isolation;
      if (iso === null || typeof iso !== 'object') {
        throw invalid('isolation must be true or {frameUrl}');
      }
      const frameUrl = resolveUrl(iso.frameUrl ?? url + '/duet-frame.html', 'isolation.frameUrl');
      if (getSessionToken !== undefined) {
        throw invalid('isolation mode takes apiKey, which the frame keeps; getSessionToken is for the standard mode');
      }
      new Credential({ apiKey });
      return Duet.#connectIsolated({ url, apiKey, frameUrl, onProgress, providerOptions, fetchFn, loadTimeoutMs, announce, background, sparePrimes });
    }
    const credential = new Credential({ apiKey, getSessionToken });
    const approve = approvalGate(checkApprovalOptions({ hooks, autoApprove }));
    // The default is the URL the literal in startWorker resolves to; it is
    // written out there, not here, so that bundlers see it only once.
    const workerUrl = resolveUrl(options.workerUrl ?? import.meta.url.replace(/[^/]*$/, 'worker.js'), 'workerUrl');
    const wasmUrl = resolveUrl(options.wasmUrl ?? new URL('./duet.wasm', import.meta.url), 'wasmUrl');
    const wasmExecUrl = resolveUrl(options.wasmExecUrl ?? new URL('./wasm_exec.js', import.meta.url), 'wasmExecUrl');

    const report = (event) => {
      if (onProgress) {
        callListener(onProgress, { operation: 'connect', ...event });
      }
    };
    // One cheap authenticated request, before the device module loads, so
    // that a wrong key or an unreachable server fails at once.
    report({ phase: 'check', detail: url });
    await getJson(fetchFn, url, '/v1/wallet', credential, connectTimeoutMs);
    report({ phase: 'load', detail: wasmUrl });

    let duet;
    const csp = watchCsp();
    let started;
    try {
      started = startWorker(workerUrl, options.workerUrl === undefined);
    } catch (err) {
      csp.stop();
      throw err;
    }
    const channel = new WorkerChannel(started.worker, { onFatal: (err) => duet?.#disconnect(err) });
    duet = new Duet(constructing, { url, credential, fetch: fetchFn, onProgress, channel, providerOptions, approve });
    try {
      // With neither URL given, the worker loads the server's content-hashed names.
      const hashedAssets = options.wasmUrl === undefined && options.wasmExecUrl === undefined;
      await channel.call('init', { url, apiKey: credential.current, wasmUrl, wasmExecUrl, hashedAssets }, { timeoutMs: loadTimeoutMs, timeoutCode: ErrorCode.NETWORK });
      await duet.#refreshState();
    } catch (err) {
      const e = await csp.explain(toDuetError(err));
      channel.close(e);
      throw e;
    } finally {
      csp.stop();
      started.release();
    }
    duet.#persistence = requestPersistence();
    duet.#finishConnect(announce, onProgress, background, sparePrimes);
    return duet;
  }

  static async #connectIsolated({ url, apiKey, frameUrl, onProgress, providerOptions, fetchFn, loadTimeoutMs, announce, background, sparePrimes }) {
    if (!globalThis.document) {
      throw new DuetError(ErrorCode.UNSUPPORTED, 'duet: isolation mode needs a page to add its frame to');
    }
    if (onProgress) {
      callListener(onProgress, { operation: 'connect', phase: 'load', detail: frameUrl });
    }
    let duet;
    const channel = await FrameChannel.open(globalThis.document, frameUrl, {
      timeoutMs: loadTimeoutMs,
      onFatal: (err) => duet?.#disconnect(err),
    });
    duet = new Duet(constructing, { url, fetch: fetchFn, onProgress, channel, providerOptions, host: new FrameHost(channel) });
    try {
      await channel.call('init', { apiKey });
      // The frame's first request to the server checks the key.
      await duet.#get('/v1/wallet');
      await duet.#refreshState();
    } catch (err) {
      const e = toDuetError(err);
      channel.close(e);
      throw e;
    }
    duet.#finishConnect(announce, onProgress, background, sparePrimes);
    return duet;
  }

  #finishConnect(announce, onProgress, background, sparePrimes) {
    this.#ready = true;
    this.#background = background;
    this.#sparePrimes = sparePrimes;
    if (announce) {
      this.#stopAnnouncing = announceProvider(this.#provider);
    }
    if (onProgress) {
      callListener(onProgress, { operation: 'connect', phase: 'ready' });
    }
    // A wallet whose aux-info did not finish (a tab closed while it ran)
    // finishes it now; a signing-ready one refills its presignature pool.
    this.#prepareSigning();
    this.#stockPrimes();
    // The provider emits connect when a dapp first asks for the accounts
    // (eth_requestAccounts), as wallets do: a dapp that found it by EIP-6963
    // is not connected before it asks.
  }

  /** Reports whether this Duet runs in isolation mode (see connect). */
  get isolated() {
    return this.#isolated;
  }

  /** The EIP-1193 provider of this wallet. */
  get provider() {
    return this.#provider;
  }

  /** The server's base URL. */
  get url() {
    return this.#url;
  }

  /** The address of the wallet on this device, or null if there is none. */
  get address() {
    return this.#state.address;
  }

  /** Reports whether close() was called or the device worker failed. */
  get closed() {
    return this.#channel.closed;
  }

  /**
   * Reports whether this device holds a share of the wallet that the server
   * last named as its active pair. It is read from the device's store when
   * connecting and after each of this Duet's sessions; deviceState() reads it
   * again, for instance after another tab changed it. A share the server no
   * longer names (the wallet was recovered elsewhere) is stale, and one the
   * server refused because this device was removed from the wallet
   * (DEVICE_REMOVED) is removed: kept, but not on this device in this
   * sense; isSigningReady() asks the server.
   */
  isWalletOnDevice() {
    return this.#state.hasShare && !this.#state.stale && !this.#state.removed;
  }

  /**
   * Reads this device's wallet state from its store. stale is true when the
   * last server session named another active pair than the share's: the
   * share is kept until a recovery replaces it, and cannot sign. removed is
   * true once the server refused this device with DEVICE_REMOVED (also
   * after a reload: the device module keeps the reason): the device was
   * removed from the wallet (removeDevice on another device), or retired
   * by a recovery; addDevice or recoverWallet replaces the share. deviceId is this
   * device's id as listDevices names it, where the device module knows it.
   *
   * sparePrimes counts the sets of safe primes kept for the device's next
   * Paillier keys (see connect's sparePrimes option), presignatures the
   * presignatures pooled for signing, and moduleMemoryBytes the size of the
   * device module's WebAssembly memory, which grows to its peak and never
   * shrinks.
   *
   * @returns {Promise<{hasShare: boolean, stale: boolean, removed: boolean, address: string | null, generation: number, deviceId: string | null, sparePrimes: number, presignatures: number, moduleMemoryBytes: number}>}
   */
  async deviceState() {
    await this.#refreshState();
    const { hasShare, stale, removed, address, generation, deviceId, sparePrimes, presignatures, moduleMemoryBytes } = this.#state;
    return { hasShare, stale, removed, address, generation, deviceId, sparePrimes, presignatures, moduleMemoryBytes };
  }

  /**
   * Reports whether this device can sign now: it holds a share that is not
   * stale, of the wallet and generation the server holds active. Rejects
   * (NETWORK, SERVER_ERROR, …) when the server cannot be asked, rather than
   * answering false.
   *
   * @returns {Promise<boolean>}
   */
  async isSigningReady() {
    await this.#refreshState();
    if (!this.isWalletOnDevice() || !this.#state.signingReady) {
      return false;
    }
    const info = await this.getWalletInfo();
    const s = this.#state;
    return info !== null && this.isWalletOnDevice() && s.generation === info.generation &&
      (s.walletId === '' || s.walletId === info.walletId) && s.address?.toLowerCase() === info.address.toLowerCase();
  }

  /**
   * Asks the browser to keep this device's storage (its share) persistently
   * rather than evict it under storage pressure; connect asks once. Resolves
   * to true if the storage is persistent, false if the browser may evict
   * it, null where it cannot say (no StorageManager, isolation mode, where
   * the frame's origin holds the share). Never rejects.
   *
   * @returns {Promise<boolean | null>}
   */
  storagePersisted() {
    return this.#persistence;
  }

  /**
   * Creates the wallet and resolves with its address as soon as key
   * generation commits. Aux-info, which signing needs, then runs in the
   * background (reported to the connect-time onProgress as operation
   * 'prepareSigning'); isSigningReady() tells when it is done, and the
   * 'signingReady' event fires then. A signature asked for before waits for
   * it.
   *
   * @returns {Promise<{address: string, generation: number}>}
   */
  async createWallet(options) {
    const onProgress = progressOption(options);
    const res = await this.#session('createWallet', 'keygen', {}, onProgress);
    if (!res || !isAddress(res.address)) {
      throw new DuetError(ErrorCode.INTERNAL, 'duet: device module returned no address');
    }
    this.#prepareSigning();
    return { address: res.address, generation: res.generation };
  }

  /**
   * Adds a listener of this Duet's events: 'signingReady' (no argument),
   * when the wallet's aux-info has run.
   *
   * @param {'signingReady'} event
   * @param {Function} listener
   */
  on(event, listener) {
    if (event !== 'signingReady') {
      throw invalid(`unknown event ${String(event)}`);
    }
    if (typeof listener !== 'function') {
      throw invalid('listener must be a function');
    }
    if (!this.#listeners.has(event)) {
      this.#listeners.set(event, new Set());
    }
    this.#listeners.get(event).add(listener);
  }

  /** Removes a listener added with on. */
  off(event, listener) {
    this.#listeners.get(event)?.delete(listener);
  }

  // Queues the background work that makes the wallet sign fast: aux-info if
  // it has not run, then the presignature pool.
  #prepareSigning() {
    if (!this.#background || !this.isWalletOnDevice() || this.#channel.closed) {
      return;
    }
    if (!this.#state.signingReady) {
      this.#queued('prepareSigning', (progress) => this.#host.call('finishAux', {}, { onProgress: progress }))
        .then(() => this.#fillPool(), () => {});
      return;
    }
    this.#fillPool();
  }

  // Searches for spare primes in the device worker's background until the
  // store holds enough; run at connect and after each operation that may
  // have used a set. It is no session: sessions run beside it, and the
  // worker starts no search while one runs.
  #stockPrimes() {
    if (!this.#sparePrimes || this.#stocking || this.#channel.closed) {
      return;
    }
    this.#stocking = true;
    this.#host.call('stockPrimes', {}, { onProgress: this.#progress('sparePrimes') })
      .catch((err) => {
        if (!this.#channel.closed) {
          this.#progress('sparePrimes')?.({ phase: 'primes', detail: 'the spare prime search stopped: ' + toDuetError(err).message });
        }
      })
      .finally(() => {
        this.#stocking = false;
      });
  }

  // Makes one pooled presignature at a time, while nothing else waits: a
  // user's operation never queues behind more than one.
  #fillPool() {
    if (!this.#background || this.#filling || this.#channel.closed || !this.#state.signingReady) {
      return;
    }
    this.#filling = true;
    this.#queued('fillPool', (progress) => this.#host.call('fillPool', { count: 1 }, { onProgress: progress }))
      .then((res) => {
        this.#filling = false;
        if (res && res.made > 0 && this.#queued_ === 0) {
          this.#fillPool();
        }
      }, () => {
        this.#filling = false;
      });
  }

  /**
   * Signs a 32-byte digest with the wallet, once it is approved. The digest
   * is signed as given: use signMessage for messages. The approval shows
   * only the digest, so prefer the methods that say what is signed.
   *
   * @param {Uint8Array | string} digest 32 bytes, or their 0x hex
   * @returns {Promise<{r: string, s: string, yParity: 0 | 1, signature: string}>}
   *   signature is r‖s‖v as 0x hex with v = 27 + yParity
   */
  async signDigest(digest, options) {
    const onProgress = progressOption(options);
    const d = bytesToHex(digestBytes(digest));
    return this.#authorize('signDigest', { kind: RequestKind.DIGEST, method: 'signDigest', digest: d }, onProgress);
  }

  /**
   * Signs a message as personal_sign does (EIP-191, version 0x45), once it
   * is approved: the keccak256 of "\x19Ethereum Signed Message:\n" + length +
   * message.
   *
   * @param {string | Uint8Array} message a string is signed as UTF-8
   * @returns {Promise<string>} the 65-byte signature as 0x hex, v ∈ {27, 28}
   */
  async signMessage(message, options) {
    const onProgress = progressOption(options);
    const hex = bytesToHex(messageBytes(message));
    const sig = await this.#authorize('signMessage', { kind: RequestKind.MESSAGE, method: 'signMessage', message: hex }, onProgress);
    return sig.signature;
  }

  /**
   * Returns the EIP-712 digest of typed data, as eth_signTypedData_v4 signs
   * it: the typed data is parsed strictly into its canonical form (see
   * signTypedData), which go-ethereum in the device module hashes.
   *
   * @param {object | string} typedData {types, primaryType, domain, message}
   *   or its JSON
   * @returns {Promise<Uint8Array>} 32 bytes
   */
  async hashTypedData(typedData) {
    this.#checkOpen();
    try {
      return await this.#host.hashTypedData(typedData);
    } catch (err) {
      throw toDuetError(err);
    }
  }

  /**
   * Signs EIP-712 typed data (eth_signTypedData_v4), once it is approved.
   * Keys are exact: an unknown or case-variant key, a duplicate key in the
   * JSON, the `uint`/`int` aliases, a value that does not fit its type, or an
   * EIP712Domain that does not list the domain's fields in EIP-712's order
   * is refused with INVALID_ARGUMENT.
   *
   * @param {object | string} typedData
   * @returns {Promise<string>} the 65-byte signature as 0x hex, v ∈ {27, 28}
   */
  async signTypedData(typedData, options) {
    const onProgress = progressOption(options);
    const sig = await this.#authorize('signTypedData', { kind: RequestKind.TYPED_DATA, method: 'signTypedData', typedData }, onProgress);
    return sig.signature;
  }

  /**
   * Signs a complete transaction, once it is approved: every field given,
   * as canonical 0x hex quantities (type 0x0, 0x1 or 0x2; chainId, nonce,
   * gas, the fees of its type; to, value, data and accessList as they
   * apply). duet.provider fills these from the node; this method fills
   * nothing.
   *
   * @param {object} tx
   * @returns {Promise<{raw: string, hash: string}>} the signed EIP-2718
   *   encoding for eth_sendRawTransaction, and the transaction hash
   */
  async signTransaction(tx, options) {
    const onProgress = progressOption(options);
    if (tx === null || typeof tx !== 'object') {
      throw invalid('signTransaction wants a transaction object');
    }
    return this.#authorize('signTransaction', { kind: RequestKind.TRANSACTION, method: 'signTransaction', transaction: tx }, onProgress);
  }

  /**
   * Backs the wallet up: a new backup pair, the user's half encrypted under
   * the method's key and kept by the organization's custodian store. Each
   * method has its own pair; backing up with one method leaves the others.
   *
   * - `{method: 'password', password}`
   * - `{method: 'passkey'}`: makes (or reuses) a passkey of the app's
   *   relying party and derives the key from its PRF output on this device;
   *   rpId, rpName, userName and userDisplayName are passed to WebAuthn.
   * - `{method: 'custom', key}`: a 32-byte Uint8Array the app keeps (for
   *   instance with a key-storage adapter). `app` is a deprecated alias.
   *
   * @param {{method: string, password?: string, key?: Uint8Array, rpId?: string, onProgress?: Function}} options
   * @returns {Promise<{method: string}>}
   */
  async backupWallet(options) {
    const opts = backupOptions(options, 'backupWallet');
    const credential = () => this.#backupSecret(opts, true);
    const res = await this.#session('backupWallet', 'backup', credential, progressOption(options));
    return { method: res?.method ?? opts.method };
  }

  /**
   * Recovers the wallet onto this device from a backup. The server's old
   * share is retired, so a lost device's share no longer signs.
   *
   * @param {{method: string, password?: string, key?: Uint8Array, rpId?: string, onProgress?: Function}} options
   * @returns {Promise<{address: string, generation: number}>}
   */
  async recoverWallet(options) {
    const opts = backupOptions(options, 'recoverWallet');
    const credential = () => this.#backupSecret(opts, false);
    const res = await this.#session('recoverWallet', 'recover', credential, progressOption(options));
    if (!res || !isAddress(res.address)) {
      throw new DuetError(ErrorCode.INTERNAL, 'duet: device module returned no address');
    }
    return { address: res.address, generation: res.generation };
  }

  /**
   * Rebuilds the wallet's private key in this browser from the backup pair,
   * once the organization has authorised eject. The key then exists in one
   * place: whoever holds it controls the wallet alone.
   *
   * @param {{method: string, password?: string, key?: Uint8Array, rpId?: string, onProgress?: Function}} options
   * @returns {Promise<string>} the private key as 0x hex (32 bytes)
   */
  async ejectPrivateKey(options) {
    const opts = backupOptions(options, 'ejectPrivateKey');
    const credential = () => this.#backupSecret(opts, false);
    const res = await this.#session('ejectPrivateKey', 'eject', credential, progressOption(options));
    const key = res?.privateKey;
    if (typeof key !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(key)) {
      throw new DuetError(ErrorCode.INTERNAL, 'duet: device module returned a malformed private key');
    }
    return key;
  }

  /**
   * The backup drill: proves that the method's backup still recovers the
   * wallet, without recovering it and without rebuilding the key anywhere.
   * This device opens its backup share with the method's secret and proves
   * it knows it; the server checks that the custodian's share still makes
   * the wallet's public key with it. A pass is recorded (getBackupStatus's
   * lastVerifiedAt); a pair that no longer holds rejects with BACKUP_BROKEN,
   * a wrong secret with WRONG_PASSWORD.
   *
   * @param {{method: string, password?: string, key?: Uint8Array, rpId?: string, onProgress?: Function}} options
   * @returns {Promise<{method: string, verified: true, lastVerifiedAt: string | null}>}
   */
  async verifyBackup(options) {
    const opts = backupOptions(options, 'verifyBackup');
    const credential = () => this.#backupSecret(opts, false);
    const res = await this.#session('verifyBackup', 'verifyBackup', credential, progressOption(options));
    const method = res?.method === BackupMethod.APP ? BackupMethod.CUSTOM : opts.method;
    const status = await this.getBackupStatus();
    return { method, verified: true, lastVerifiedAt: status?.lastVerifiedAt[res?.method ?? method] ?? null };
  }

  /**
   * Deletes one method's backup pair at the custodian; the wallet's other
   * methods stay. This device must hold the wallet's signing share: it
   * proves so to the server in a session, since the client API key alone
   * deletes nothing.
   *
   * @param {string} method
   * @returns {Promise<{method: string}>}
   */
  async removeBackupMethod(method, options) {
    const m = methodOption(method, 'removeBackupMethod');
    await this.#session('removeBackupMethod', 'removeBackup', async () => ({ method: await this.#storedMethod(m) }), progressOption(options));
    return { method: m };
  }

  /**
   * Adds this device to the wallet as one more signing device, through a
   * backup method: the backup opens here, and this device and the server
   * make a new signing pair of the same key from it, committed in two
   * phases like every share change. The wallet's other devices keep
   * signing (unlike recoverWallet, which retires them). Takes the options of
   * recoverWallet. On a device whose share is stale or was removed, the new
   * share replaces it.
   *
   * With `{method: 'approval', onCode}` no backup is needed: this device
   * draws an 8-digit code and, once the server holds its request, passes it
   * to onCode as "1234 5678" for the app to show (without onCode the SDK
   * shows it in its own dialog; in isolation mode the frame does, and
   * onCode is refused). The user types it on a device that already has
   * the wallet (approveDevice there). The request waits up to 5 minutes;
   * a wrong code rejects both sides with APPROVAL_FAILED and adds nothing.
   *
   * @param {{method: string, password?: string, key?: Uint8Array, rpId?: string, onCode?: (code: string) => void, onProgress?: Function}} options
   * @returns {Promise<{address: string, generation: number, deviceId: string}>}
   */
  async addDevice(options) {
    if (options !== null && typeof options === 'object' && options.method === APPROVAL) {
      return this.#addByApproval(options);
    }
    const opts = backupOptions(options, 'addDevice');
    const credential = () => this.#backupSecret(opts, false);
    const res = await this.#session('addDevice', 'addDevice', credential, progressOption(options));
    if (!res || !isAddress(res.address) || typeof res.deviceId !== 'string' || res.deviceId === '') {
      throw new DuetError(ErrorCode.INTERNAL, 'duet: device module returned no address or device id');
    }
    this.#prepareSigning();
    return { address: res.address, generation: res.generation, deviceId: res.deviceId };
  }

  // addDevice with method approval: the server relays a PAKE between this
  // device and the one that approves it, keyed by the code this device
  // draws and shows; the approving device hands this one a share of the
  // key under the PAKE's key, and this device and the server turn it into
  // a pair of their own, as for a backup method.
  async #addByApproval(options) {
    const onProgress = progressOption(options);
    const onCode = approvalOptions(options, this.#isolated);
    const res = await this.#queued('addDevice', async (progress) => {
      if (this.#isolated) {
        return this.#host.call('requestApproval', {}, { onProgress: progress });
      }
      let dialog = null;
      const show = (raw) => {
        let code;
        try {
          code = formatApprovalCode(raw);
        } catch {
          // Not a code: nothing to show; the request fails on its own.
          return;
        }
        if (onCode) {
          callListener(onCode, code);
        } else {
          dialog?.close();
          dialog = showCodeDialog(globalThis.document, code);
        }
      };
      try {
        return await this.#host.call('requestApproval', {}, { onProgress: progress, onCode: show });
      } finally {
        dialog?.close();
      }
    }, onProgress);
    if (!res || !isAddress(res.address) || typeof res.deviceId !== 'string' || res.deviceId === '') {
      throw new DuetError(ErrorCode.INTERNAL, 'duet: device module returned no address or device id');
    }
    this.#prepareSigning();
    return { address: res.address, generation: res.generation, deviceId: res.deviceId };
  }

  /**
   * Approves a new device of the wallet from this one: the code is the one
   * the new device shows (addDevice with method 'approval'), typed by the
   * user, with or without its space. The approval is shown to the approval
   * point first, as a signature is (kind 'approve-device', with the code),
   * since the device approved can sign with the wallet. Resolves once the
   * new device has opened what this one sent it; the new device then makes
   * its own pair with the server. Rejects with APPROVAL_FAILED for a code
   * that does not match, no device waiting, or a new device that does not
   * answer; nothing is added then.
   *
   * In isolation mode the page never has the code: call approveDevice()
   * without one, and the frame's dialog asks the user for it.
   *
   * @param {string} [code] 8 digits, as "1234 5678" (not in isolation mode)
   * @returns {Promise<void>}
   */
  async approveDevice(code, options) {
    const onProgress = progressOption(options);
    const request = { kind: RequestKind.APPROVE_DEVICE, method: 'approveDevice' };
    if (this.#isolated) {
      if (code !== undefined) {
        throw invalid('in isolation mode the frame asks for the code: call approveDevice() without one');
      }
    } else {
      request.code = formatApprovalCode(approvalCode(code));
    }
    await this.#queued('approveDevice', (progress) => this.#host.authorize(request, { onProgress: progress }), onProgress);
  }

  /**
   * Lists the wallet's signing devices, as the server holds them: for each,
   * its id (hex), when it was added and last used (ISO 8601; lastUsedAt null
   * if never), and whether it is this device. This device proves in a
   * session that it holds a signing share of the wallet: the client API key
   * alone lists nothing.
   *
   * @returns {Promise<Array<{id: string, createdAt: string, lastUsedAt: string | null, current: boolean}>>}
   */
  async listDevices(options) {
    const res = await this.#session('listDevices', 'listDevices', {}, progressOption(options));
    const list = res?.devices;
    if (!Array.isArray(list)) {
      throw new DuetError(ErrorCode.INTERNAL, 'duet: device module returned no device list');
    }
    return list.map(deviceEntry);
  }

  /**
   * Removes a device from the wallet: the server deletes its share of that
   * device's pair, so it can no longer sign (its sessions are refused with
   * DEVICE_REMOVED); the other devices keep signing. This device proves in
   * a session that it holds a signing share. Removing this device itself
   * also deletes its shares here: the wallet is then not on this device,
   * and addDevice or recoverWallet brings it back.
   *
   * @param {string} id a device id, as listDevices names it
   * @returns {Promise<{id: string}>}
   */
  async removeDevice(id, options) {
    const deviceId = deviceIdOption(id, 'removeDevice');
    await this.#session('removeDevice', 'removeDevice', { id: deviceId }, progressOption(options));
    return { id: deviceId };
  }

  /**
   * Refreshes the device's and the server's shares: same key and address,
   * new shares, so that shares leaked before no longer sign.
   *
   * @returns {Promise<{generation: number}>}
   */
  async refreshWallet(options) {
    const onProgress = progressOption(options);
    const res = await this.#session('refreshWallet', 'refresh', {}, onProgress);
    return { generation: res?.generation };
  }

  /**
   * Returns the server's record of the client's wallet, or null while the
   * client has none (a wallet counts once its creation has committed).
   *
   * @returns {Promise<{walletId: string, address: string, publicKey: string, generation: number} | null>}
   */
  async getWalletInfo() {
    const body = await this.#get('/v1/wallet');
    if (body === null || typeof body !== 'object' || typeof body.exists !== 'boolean') {
      throw new DuetError(ErrorCode.SERVER_ERROR, 'duet: server sent a malformed wallet record');
    }
    if (!body.exists) {
      return null;
    }
    if (typeof body.walletId !== 'string' || body.walletId === '' || !isAddress(body.address)) {
      throw new DuetError(ErrorCode.SERVER_ERROR, 'duet: server sent a malformed wallet record');
    }
    return {
      walletId: body.walletId,
      address: body.address,
      publicKey: typeof body.publicKey === 'string' ? body.publicKey : '',
      generation: Number(body.generation ?? 0),
    };
  }

  /**
   * Returns the wallet's backup status from the organization's custodian
   * store, or null while the client has no wallet. lastVerifiedAt gives, for
   * each recovery method, when its backup drill (verifyBackup) last passed,
   * as an ISO 8601 time, or null if it never did.
   *
   * @returns {Promise<{walletId: string, backedUp: boolean, recoveryMethods: string[], lastVerifiedAt: Object<string, string|null>, ejectAuthorized: boolean} | null>}
   */
  async getBackupStatus() {
    const info = await this.getWalletInfo();
    if (info === null) {
      return null;
    }
    const body = await this.#get(`/v1/wallets/${encodeURIComponent(info.walletId)}/backup`);
    if (body === null || typeof body !== 'object' || !Array.isArray(body.recoveryMethods)) {
      throw new DuetError(ErrorCode.SERVER_ERROR, 'duet: server sent a malformed backup status');
    }
    const recoveryMethods = body.recoveryMethods.filter((m) => backupMethods.has(m));
    const lastVerifiedAt = {};
    for (const m of recoveryMethods) {
      // The method's backup in force is its newest confirmed one.
      let newest = null;
      for (const b of Array.isArray(body.backups) ? body.backups : []) {
        if (b?.method === m && b.confirmed === true && (newest === null || Number(b.generation) > Number(newest.generation))) {
          newest = b;
        }
      }
      lastVerifiedAt[m] = typeof newest?.verifiedAt === 'string' ? newest.verifiedAt : null;
    }
    return {
      walletId: info.walletId,
      backedUp: recoveryMethods.length > 0,
      recoveryMethods,
      lastVerifiedAt,
      ejectAuthorized: body.ejectAuthorized === true,
    };
  }

  /** Reports whether the server has a wallet for this client. */
  async doesWalletExist() {
    return (await this.getWalletInfo()) !== null;
  }

  /**
   * Reports whether the wallet has a complete backup: for method if given,
   * else for any method. A backup is complete once the custodian store
   * holds both halves of one backup pair: the user's encrypted share and
   * its own share, made together in one backup session.
   */
  async isWalletBackedUp(method) {
    const m = method === undefined ? undefined : methodOption(method, 'isWalletBackedUp');
    const methods = await this.availableRecoveryMethods();
    if (m === BackupMethod.CUSTOM) {
      return methods.includes(BackupMethod.CUSTOM) || methods.includes(BackupMethod.APP);
    }
    return m === undefined ? methods.length > 0 : methods.includes(m);
  }

  /**
   * Reports whether the wallet could be recovered on a new device: it exists
   * on the server and has a confirmed backup for at least one method.
   */
  async isWalletRecoverable() {
    return (await this.availableRecoveryMethods()).length > 0;
  }

  /** The methods the wallet can be recovered (or ejected) with. */
  async availableRecoveryMethods() {
    const status = await this.getBackupStatus();
    return status === null ? [] : status.recoveryMethods;
  }

  /**
   * Stops the device worker. Operations still running reject with CLOSED,
   * and the provider emits disconnect. The wallet stays on the device.
   */
  close() {
    const err = new DuetError(ErrorCode.CLOSED, 'duet: closed');
    this.#channel.close(err);
    this.#disconnect(err);
  }

  // The name a method's backups are stored under: custom backups made
  // before the method was renamed are stored as app.
  async #storedMethod(method) {
    if (method !== BackupMethod.CUSTOM) {
      return method;
    }
    const methods = await this.availableRecoveryMethods();
    return !methods.includes(BackupMethod.CUSTOM) && methods.includes(BackupMethod.APP) ? BackupMethod.APP : method;
  }

  // Turns checked backup options into what the device module takes: for a
  // passkey, the key derived from its PRF output for this wallet.
  async #backupSecret(opts, creating) {
    if (opts.passkey) {
      const info = await this.getWalletInfo();
      if (info === null) {
        throw new DuetError(ErrorCode.NO_WALLET, 'duet: no wallet for this client');
      }
      const key = await passkeyBackupKey(info.walletId, { ...opts.passkey, create: creating });
      return { method: opts.method, key };
    }
    if (!creating && opts.method === BackupMethod.CUSTOM) {
      return { ...opts, method: await this.#storedMethod(opts.method) };
    }
    return opts;
  }

  // GETs a route of the server's client API and returns its JSON body.
  async #get(path) {
    this.#checkOpen();
    if (this.#isolated) {
      let r;
      try {
        r = await this.#host.get(path);
      } catch (err) {
        throw toDuetError(err);
      }
      if (r.status < 200 || r.status > 299) {
        throw errorFromResponse(r.status, r.body ?? undefined);
      }
      if (r.body === null) {
        throw new DuetError(ErrorCode.SERVER_ERROR, `duet: ${path} answered ${r.status} without JSON`);
      }
      return r.body;
    }
    return getJson(this.#fetch, this.#url, path, this.#credential);
  }

  #checkOpen() {
    if (this.#channel.closed) {
      throw this.#channel.failure;
    }
  }

  #disconnect(err) {
    this.#stopAnnouncing();
    this.#providerControl?.disconnect(err);
  }

  #progress(operation, perCall) {
    const global = this.#onProgress;
    if (!global && !perCall) {
      return undefined;
    }
    return (ev) => {
      const event = { ...ev, operation };
      if (perCall) {
        callListener(perCall, event);
      }
      if (global) {
        callListener(global, { ...event });
      }
    };
  }

  async #call(method, params, onProgress) {
    this.#checkOpen();
    try {
      return await this.#host.call(method, params, { onProgress });
    } catch (err) {
      throw toDuetError(err);
    }
  }

  // Runs an MPC session after the ones already queued, then rereads the
  // device state, which keygen, recover and refresh change, and which a
  // failure may reveal to be other than this Duet believed. params may be a
  // function that makes them once the session's turn has come (a passkey's
  // prompt, for one).
  #session(operation, method, params, onProgress) {
    return this.#queued(
      operation,
      async (progress) => {
        const p = typeof params === 'function' ? await params() : params;
        try {
          return await this.#host.call(method, p, { onProgress: progress });
        } finally {
          // The device module has its own copy by now; a backup key made
          // for this session (a passkey's, or the copy of the app's) goes.
          if (typeof params === 'function' && p?.key instanceof Uint8Array) {
            p.key.fill(0);
          }
        }
      },
      onProgress,
    );
  }

  // Has request approved and signed by the host, in the session queue.
  #authorize(operation, request, onProgress) {
    const result = this.#queued(operation, (progress) => this.#host.authorize(request, { onProgress: progress }), onProgress);
    // A signature used a pooled presignature (or none was left): make the
    // next one in the background.
    result.then(() => this.#fillPool(), () => {});
    return result;
  }

  #queued(operation, fn, onProgress) {
    this.#queued_++;
    const run = async () => {
      this.#checkOpen();
      try {
        return await fn(this.#progress(operation, onProgress));
      } catch (err) {
        const e = toDuetError(err);
        if (e.code === ErrorCode.DEVICE_REMOVED) {
          this.#removedPending = true;
        } else if (e.code === ErrorCode.STALE_DEVICE && this.#state.removed) {
          // The device module keeps a removed device's share as it keeps a
          // stale one, and refuses it as stale without asking the server;
          // the server said why.
          throw new DuetError(ErrorCode.DEVICE_REMOVED, 'duet: this device was removed from the wallet, so its share no longer signs; add it again (addDevice) or recover the wallet here', { cause: e });
        }
        throw e;
      } finally {
        if (!this.#channel.closed) {
          await this.#refreshState().catch(() => {});
        }
      }
    };
    const counted = () => run().finally(() => {
      this.#queued_--;
    });
    const result = this.#queue.then(counted, counted);
    this.#queue = result.catch(() => {});
    return result;
  }

  async #refreshState() {
    const s = await this.#call('deviceState', {});
    const hasShare = s?.hasShare === true;
    const stale = hasShare && s.stale === true;
    // A refusal with DEVICE_REMOVED holds for the share it refused: a share
    // that addDevice or a recovery (here or in another tab) put in its place
    // is not removed.
    const pair = hasShare && typeof s.pair === 'string' ? s.pair : null;
    if (this.#removedPending) {
      this.#removedPending = false;
      this.#removedPair = pair;
    }
    // The device module keeps the reason a share was marked, so that a
    // reloaded page still knows the device was removed.
    const removed = hasShare && (s.removed === true || (pair !== null && pair === this.#removedPair));
    const address = hasShare && !stale && !removed && isAddress(s.address) ? s.address : null;
    const generation = hasShare && Number.isSafeInteger(Number(s.generation)) ? Number(s.generation) : 0;
    const walletId = hasShare && typeof s.walletId === 'string' ? s.walletId : '';
    const deviceId = hasShare && typeof s.deviceId === 'string' && s.deviceId !== '' ? s.deviceId : null;
    const signingReady = hasShare && !stale && !removed && s.signingReady === true;
    const sparePrimes = Number.isSafeInteger(s?.sparePrimes) ? s.sparePrimes : 0;
    const presignatures = hasShare && Number.isSafeInteger(s.pooled) ? s.pooled : 0;
    const moduleMemoryBytes = Number.isSafeInteger(s?.moduleMemoryBytes) ? s.moduleMemoryBytes : 0;
    const before = this.#state.address;
    const wasReady = this.#state.signingReady;
    const spareBefore = this.#state.sparePrimes;
    this.#state = { hasShare, stale, removed, address, generation, walletId, deviceId, signingReady, sparePrimes, presignatures, moduleMemoryBytes };
    if (this.#ready && sparePrimes < spareBefore) {
      // A session used a set (aux-info, refresh, recovery): search for the next.
      this.#stockPrimes();
    }
    if (this.#ready && before !== address) {
      this.#providerControl?.emit('accountsChanged', address ? [address] : []);
    }
    if (signingReady && !wasReady) {
      for (const listener of this.#listeners.get('signingReady') ?? []) {
        callListener(listener);
      }
    }
  }
}

// Asks for persistent storage where the page's origin holds the device's
// share. Never fatal: persist() may be missing, refuse, or wait on the
// user, so connect does not wait for it; storagePersisted() reports it.
async function requestPersistence() {
  try {
    const storage = globalThis.navigator?.storage;
    if (typeof storage?.persist === 'function') {
      return (await storage.persist()) === true;
    }
  } catch {
    // Reported as unknown.
  }
  return null;
}

async function readJson(res) {
  const type = res.headers?.get?.('Content-Type') ?? '';
  if (!/^application\/json\b/i.test(type)) {
    return undefined;
  }
  try {
    return await res.json();
  } catch {
    return undefined;
  }
}

Object.freeze(Duet.prototype);
Object.freeze(Duet);
