// The isolation frame: the device party's side of Duet's isolation mode.
//
// duet-frame.html is served by the Duet server, from the server's origin,
// and embedded by the app's page (Duet.connect with isolation). Everything
// that can sign lives here and nowhere on the app's origin: the device
// worker, its sealed IndexedDB store (this origin's), the client API key,
// and the approval point, whose dialog renders in this document. The app's
// page reaches the frame only by postMessage, in the fixed schema below,
// from the one origin that embeds it; the server's Content-Security-Policy
// (frame-ancestors) decides which origins may embed it at all.
//
// Page → frame: {duet: 'duet-frame/1', type: 'call', id, method, params}
// Frame → page: {duet: 'duet-frame/1', type: 'ready'}
//               {duet, type: 'result', id, value}
//               {duet, type: 'error', id, error: {code, message}}
//               {duet, type: 'progress', id, event}
//               {duet, type: 'approval', open: boolean}   show or hide the frame
//               {duet, type: 'fatal', error}

import { DuetError, ErrorCode, serializeError } from './errors.js';
import { WorkerChannel } from './rpc.js';
import { DeviceHost } from './host.js';
import { approvalCode, approvalGate, showCodeDialog } from './approval.js';

export const protocol = 'duet-frame/1';

// The calls the page may make, each with the keys its params may have.
const schema = Object.freeze({
  init: ['apiKey'],
  deviceState: [],
  keygen: [],
  backup: ['method', 'password', 'key'],
  recover: ['method', 'password', 'key'],
  eject: ['method', 'password', 'key'],
  refresh: [],
  removeBackup: ['method'],
  verifyBackup: ['method', 'password', 'key'],
  addDevice: ['method', 'password', 'key'],
  requestApproval: [],
  listDevices: [],
  removeDevice: ['id'],
  finishAux: [],
  fillPool: ['count'],
  stockPrimes: [],
  hashTypedData: ['typedData'],
  authorize: ['request'],
  get: ['path'],
});

// How long loading the device module may take, as Duet.connect's default.
const loadTimeoutMs = 120000;

const sessionMethods = new Set([
  'keygen', 'backup', 'recover', 'eject', 'refresh', 'removeBackup', 'verifyBackup', 'addDevice', 'listDevices', 'removeDevice',
  'finishAux', 'fillPool',
]);

// The client API's GET routes the page may read through the frame.
const readablePaths = [/^\/v1\/wallet$/, /^\/v1\/wallets\/[A-Za-z0-9_-]{1,128}\/backup$/];

function invalid(message) {
  return new DuetError(ErrorCode.INVALID_ARGUMENT, 'duet: frame: ' + message);
}

/** Checks a message from the page against the schema; returns {id, method, params}. */
export function checkMessage(msg) {
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
    throw invalid('message must be an object');
  }
  const keys = Object.keys(msg).sort().join(',');
  if (keys !== 'duet,id,method,params,type' || msg.duet !== protocol || msg.type !== 'call') {
    throw invalid('message does not follow the schema');
  }
  if (!Number.isSafeInteger(msg.id) || msg.id < 1) {
    throw invalid('message id must be a positive integer');
  }
  if (typeof msg.method !== 'string' || !Object.hasOwn(schema, msg.method)) {
    throw invalid(`no call ${String(msg.method)}`);
  }
  const p = msg.params;
  if (p === null || typeof p !== 'object' || Array.isArray(p)) {
    throw invalid('params must be an object');
  }
  for (const k of Object.keys(p)) {
    if (!schema[msg.method].includes(k)) {
      throw invalid(`${msg.method} takes no ${k}`);
    }
  }
  return { id: msg.id, method: msg.method, params: p };
}

/**
 * Runs the frame in window w: answers the parent's calls, from the parent's
 * origin only.
 */
export function startFrame(w = globalThis.window) {
  const parent = w.parent;
  const parentOrigin = w.location.ancestorOrigins?.[0] ?? (w.document.referrer ? new URL(w.document.referrer).origin : null);
  if (parent === w || !parentOrigin || parentOrigin === 'null') {
    w.document.body.textContent = 'This page is Duet\'s isolation frame; it runs only inside an app that embeds it.';
    return;
  }
  const base = new URL('./', w.location.href);
  let host = null;
  let apiKey = null;
  let worker = null;
  let channel = null;

  const post = (msg) => parent.postMessage({ duet: protocol, ...msg }, parentOrigin);

  // The page shows the frame while a confirmation is open in it.
  const observer = new w.MutationObserver(() => {
    post({ type: 'approval', open: w.document.querySelector('dialog.duet-approval') !== null });
  });
  observer.observe(w.document.body, { childList: true });

  async function init(params) {
    if (host !== null) {
      throw invalid('already initialized');
    }
    if (typeof params.apiKey !== 'string' || params.apiKey === '') {
      throw invalid('init wants apiKey');
    }
    apiKey = params.apiKey;
    worker = new w.Worker(new URL('worker.js', base).href, { type: 'module', name: 'duet-device' });
    channel = new WorkerChannel(worker, {
      onFatal: (err) => post({ type: 'fatal', error: serializeError(err) }),
    });
    await channel.call('init', {
      url: w.location.origin,
      apiKey,
      wasmUrl: new URL('duet.wasm', base).href,
      wasmExecUrl: new URL('wasm_exec.js', base).href,
      hashedAssets: true,
    }, { timeoutMs: loadTimeoutMs, timeoutCode: ErrorCode.NETWORK });
    // The app's page has no say in approval here: no hook, no autoApprove.
    host = new DeviceHost(channel, approvalGate({ document: w.document }));
    return {};
  }

  async function get(path) {
    if (typeof path !== 'string' || !readablePaths.some((re) => re.test(path))) {
      throw invalid('get: no such route');
    }
    const res = await w.fetch(w.location.origin + path, {
      headers: { Authorization: `Bearer ${apiKey}`, Accept: 'application/json' },
      cache: 'no-store',
    });
    let body;
    try {
      body = /^application\/json\b/i.test(res.headers.get('Content-Type') ?? '') ? await res.json() : undefined;
    } catch {
      body = undefined;
    }
    return { status: res.status, body: body === undefined ? null : body };
  }

  // Adds this device to the wallet once another device approves it. The
  // code is shown in this frame's dialog and never posted to the page, whose
  // scripts could otherwise race their own request with it.
  async function requestApproval(onProgress) {
    let dialog = null;
    const onCode = (code) => {
      dialog?.close();
      dialog = null;
      try {
        dialog = showCodeDialog(w.document, approvalCode(code));
      } catch {
        // A malformed code is no code to show; the request fails on its own.
      }
    };
    try {
      return await host.call('requestApproval', {}, { onProgress, onCode });
    } finally {
      dialog?.close();
    }
  }

  async function run(id, method, params) {
    if (method === 'init') {
      return init(params);
    }
    if (host === null) {
      throw invalid('not initialized');
    }
    const onProgress = (event) => post({ type: 'progress', id, event });
    switch (method) {
      case 'get':
        return get(params.path);
      case 'hashTypedData':
        return host.hashTypedData(params.typedData);
      case 'authorize':
        if (params.request?.kind === 'approve-device' && params.request.code !== undefined) {
          // The code is typed in this frame's dialog: a code from the page
          // could be one the page's own scripts chose.
          throw invalid('in isolation mode the frame asks for the new device\'s code itself: approve without one');
        }
        return host.authorize(params.request, { onProgress });
      case 'requestApproval':
        return requestApproval(onProgress);
      case 'deviceState':
        return host.call('deviceState', {});
      case 'stockPrimes':
        return host.call('stockPrimes', {}, { onProgress });
      default:
        if (sessionMethods.has(method)) {
          return host.call(method, { ...params }, { onProgress });
        }
    }
    throw invalid(`no call ${method}`);
  }

  w.addEventListener('message', (e) => {
    if (e.source !== parent || e.origin !== parentOrigin) {
      return;
    }
    let call;
    try {
      call = checkMessage(e.data);
    } catch (err) {
      const id = Number.isSafeInteger(e.data?.id) ? e.data.id : 0;
      post({ type: 'error', id, error: serializeError(err) });
      return;
    }
    run(call.id, call.method, call.params).then(
      (value) => post({ type: 'result', id: call.id, value: value === undefined ? null : value }),
      (err) => post({ type: 'error', id: call.id, error: serializeError(err) }),
    );
  });
  post({ type: 'ready' });
}

if (globalThis.document?.documentElement?.hasAttribute('data-duet-frame')) {
  startFrame();
}
