// The device worker: runs the device module (duet.wasm, the device party of
// every MPC session) off the page's thread, so that minutes of Paillier
// arithmetic never freeze the page, and hands it the sealed IndexedDB store
// of device-store.js.
//
// A module worker: it imports its store, so that a bundler that follows
// `new Worker(new URL('./worker.js', import.meta.url), {type: 'module'})`
// bundles the store with it, and it starts under a Content-Security-Policy
// of `worker-src 'self'` with no blob: URL. The SDK's WorkerChannel (rpc.js)
// speaks to it; the message shapes are listed there. The first call must be
// init, which loads wasm_exec.js (by import, from the URL the page gives) and
// the module; the others are the module's own functions.
import './device-store.js';

{

  // Functions of globalThis.DuetDevice that the SDK may call.
  const deviceMethods = new Set([
    'keygen', 'sign', 'signTransaction', 'backup', 'recover', 'eject', 'refresh', 'removeBackup', 'verifyBackup',
    'addDevice', 'listDevices', 'removeDevice', 'deviceState', 'hashPersonalMessage', 'hashTypedData', 'keccak256', 'finishAux', 'fillPool',
  ]);
  // These take their single input rather than an options object.
  const hashMethods = new Set(['hashPersonalMessage', 'hashTypedData', 'keccak256']);
  // These run an MPC session that reads or changes the device's share. Across
  // tabs of one origin they run one at a time, so that two tabs never move the
  // same wallet's share through the two-phase commit at once.
  const sessionMethods = new Set([
    'keygen', 'sign', 'signTransaction', 'backup', 'recover', 'eject', 'refresh', 'removeBackup', 'verifyBackup',
    'addDevice', 'listDevices', 'removeDevice', 'finishAux', 'fillPool',
  ]);

  // How long the module may take, after go.run, to publish DuetDevice.
  const readyTimeoutMs = 10000;

  let initialized = false;
  let device = null;
  let store = null;
  let config = null;
  let exitError = null;
  let rejectOnExit;
  const exited = new Promise((_, reject) => {
    rejectOnExit = reject;
  });
  // Raced against every call; a rejection nobody is waiting for is expected.
  exited.catch(() => {});

  function codedError(code, message) {
    const err = new Error('duet: ' + message);
    err.code = code;
    return err;
  }

  function serialize(err) {
    const code = err && typeof err.code === 'string' ? err.code : 'INTERNAL';
    const message = err && typeof err.message === 'string' && err.message !== '' ? err.message : String(err);
    return { code, message };
  }

  // Progress events cross to the page by structured clone; keep only the
  // plain fields, so a stray non-cloneable value cannot fail the post.
  function plainEvent(ev) {
    const out = {};
    if (ev && typeof ev === 'object') {
      for (const k of Object.keys(ev)) {
        const v = ev[k];
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
          out[k] = v;
        }
      }
    }
    return out;
  }

  function post(msg) {
    self.postMessage(msg);
  }

  function onExit(code) {
    if (exitError !== null) {
      return;
    }
    const suffix = code === undefined ? '' : ' with code ' + code;
    exitError = codedError('INTERNAL', 'device module exited' + suffix);
    rejectOnExit(exitError);
    post({ type: 'fatal', error: serialize(exitError) });
  }

  function checkEnvironment() {
    if (typeof WebAssembly !== 'object') {
      throw codedError('UNSUPPORTED', 'WebAssembly is unavailable');
    }
    if (!self.crypto || !self.crypto.subtle) {
      throw codedError('UNSUPPORTED', 'WebCrypto is unavailable (it needs a secure context: https or localhost)');
    }
    if (!self.indexedDB) {
      throw codedError('UNSUPPORTED', 'IndexedDB is unavailable');
    }
  }

  // resolveAssets swaps the default names of the module and its loader for
  // the content-hashed ones the server lists in duet-assets.json beside the
  // module, which browsers may cache for good. A server without the list
  // serves the plain names.
  async function resolveAssets(wasmUrl, wasmExecUrl) {
    try {
      const resp = await fetch(new URL('duet-assets.json', wasmUrl).href, { credentials: 'same-origin' });
      if (resp.ok) {
        const names = await resp.json();
        const hashed = (url, name) => (typeof names[name] === 'string' && /^[A-Za-z0-9_.-]+$/.test(names[name]))
          ? new URL(names[name], url).href : url;
        return { wasmUrl: hashed(wasmUrl, 'duet.wasm'), wasmExecUrl: hashed(wasmExecUrl, 'wasm_exec.js') };
      }
    } catch (err) {
      // Fall through to the plain names.
    }
    return { wasmUrl, wasmExecUrl };
  }

  // compile fetches and compiles the module, while it downloads when the
  // server sends it as application/wasm (compileStreaming accepts no other
  // type), else once it has arrived.
  async function compile(wasmUrl) {
    let resp;
    try {
      resp = await fetch(wasmUrl, { credentials: 'same-origin' });
    } catch (err) {
      throw codedError('NETWORK', 'cannot fetch device module ' + wasmUrl + ': ' + err.message);
    }
    if (!resp.ok) {
      throw codedError('NETWORK', 'cannot fetch device module ' + wasmUrl + ': HTTP ' + resp.status);
    }
    try {
      const type = (resp.headers.get('Content-Type') || '').split(';')[0].trim();
      if (typeof WebAssembly.compileStreaming === 'function' && type === 'application/wasm') {
        return await WebAssembly.compileStreaming(resp);
      }
      return await WebAssembly.compile(await resp.arrayBuffer());
    } catch (err) {
      if (cspRefusal(err)) {
        throw cspBlocked();
      }
      throw codedError('INTERNAL', 'cannot compile device module ' + wasmUrl + ': ' + err.message);
    }
  }

  async function instantiate(go, module, wasmUrl) {
    try {
      return await WebAssembly.instantiate(module, go.importObject);
    } catch (err) {
      if (cspRefusal(err)) {
        throw cspBlocked();
      }
      throw codedError('INTERNAL', 'cannot instantiate device module ' + wasmUrl + ': ' + err.message);
    }
  }

  function cspBlocked() {
    return codedError('CSP_BLOCKED', 'the Content-Security-Policy of the device worker (' + self.location.href +
      ") does not allow WebAssembly: its script-src must include 'wasm-unsafe-eval'");
  }

  // Reports whether err is a browser's refusal to compile WebAssembly under
  // the worker's Content-Security-Policy (Chromium: "Refused to compile or
  // instantiate WebAssembly module because 'unsafe-eval' is not an allowed
  // source of script"; Firefox: "call to WebAssembly.instantiate() blocked
  // by CSP").
  function cspRefusal(err) {
    const m = err && typeof err.message === 'string' ? err.message : '';
    return /Content.Security.Policy|\bCSP\b|unsafe-eval|wasm-eval/i.test(m);
  }

  function waitForDevice() {
    return new Promise((resolve, reject) => {
      const deadline = Date.now() + readyTimeoutMs;
      (function poll() {
        if (exitError !== null) {
          reject(exitError);
        } else if (self.DuetDevice && typeof self.DuetDevice === 'object') {
          resolve(self.DuetDevice);
        } else if (Date.now() > deadline) {
          reject(codedError('INTERNAL', 'device module did not publish DuetDevice'));
        } else {
          setTimeout(poll, 5);
        }
      })();
    });
  }

  async function init(params) {
    if (initialized) {
      throw codedError('INTERNAL', 'device worker is already initialized');
    }
    initialized = true;
    const { url, apiKey } = params;
    checkEnvironment();
    // The module downloads and compiles while the store opens.
    const loading = (async () => {
      const urls = params.hashedAssets === true
        ? await resolveAssets(params.wasmUrl, params.wasmExecUrl)
        : { wasmUrl: params.wasmUrl, wasmExecUrl: params.wasmExecUrl };
      return { ...urls, module: await compile(urls.wasmUrl) };
    })();
    loading.catch(() => {});
    store = await self.DuetDeviceStore.openDeviceStore({ url, apiKey });
    config = { url, apiKey };
    const { wasmUrl, wasmExecUrl, module } = await loading;
    try {
      // wasm_exec.js is a classic script that defines globalThis.Go; as a
      // module it does the same. The URL comes from the page, so bundlers
      // leave this import alone and ship the file as an asset.
      await import(/* @vite-ignore */ /* webpackIgnore: true */ wasmExecUrl);
    } catch (err) {
      throw codedError('NETWORK', 'cannot load ' + wasmExecUrl + ': ' + err.message);
    }
    if (typeof self.Go !== 'function') {
      throw codedError('INTERNAL', wasmExecUrl + ' did not define Go');
    }
    const go = new self.Go();
    const instance = await instantiate(go, module, wasmUrl);
    let exitCode;
    const exit = go.exit;
    go.exit = (code) => {
      exitCode = code;
      exit.call(go, code);
    };
    // run resolves only when the Go program exits, which for the device
    // module means it crashed; so it is watched, not awaited.
    go.run(instance).then(() => onExit(exitCode), (err) => {
      onExit(exitCode);
      console.error('duet: device module failed:', err);
    });
    device = await waitForDevice();
    return {};
  }

  function lock(name, fn) {
    const locks = self.navigator && self.navigator.locks;
    if (locks && typeof locks.request === 'function') {
      return locks.request(name, fn);
    }
    return fn();
  }

  async function invoke(id, method, params) {
    if (method === 'init') {
      return init(params);
    }
    if (method === 'setApiKey') {
      // A renewed client session token of the same client: the store's
      // namespace does not change.
      if (config === null || typeof params.apiKey !== 'string' || params.apiKey === '') {
        throw codedError('INTERNAL', 'setApiKey before init, or without a key');
      }
      config = { url: config.url, apiKey: params.apiKey };
      return {};
    }
    if (exitError !== null) {
      throw exitError;
    }
    if (device === null) {
      throw codedError('INTERNAL', 'device module is not loaded');
    }
    const fn = device[method];
    if (!deviceMethods.has(method) || typeof fn !== 'function') {
      throw codedError('INTERNAL', 'device module has no function ' + method);
    }
    let arg;
    if (hashMethods.has(method)) {
      arg = params.data;
    } else if (method === 'deviceState') {
      arg = { store };
    } else {
      arg = Object.assign({}, params, {
        url: config.url,
        apiKey: config.apiKey,
        store,
        onProgress: (ev) => post({ type: 'progress', id, event: plainEvent(ev) }),
      });
    }
    const run = () => Promise.race([Promise.resolve().then(() => fn.call(device, arg)), exited]);
    if (shareChangeMethods.has(method)) {
      return shareChange(() => lock('duet-device-' + store.namespace, run));
    }
    if (sessionMethods.has(method)) {
      return lock('duet-device-' + store.namespace, run);
    }
    return run();
  }

  // A share change (create, recover, refresh, adding this device) is one at
  // a time across the tabs of this browser: a second one, while one runs,
  // fails at once with BUSY instead of waiting to change the shares again.
  const shareChangeMethods = new Set(['keygen', 'recover', 'refresh', 'addDevice']);

  function shareChange(fn) {
    const locks = self.navigator && self.navigator.locks;
    if (!locks || typeof locks.request !== 'function') {
      return fn();
    }
    return locks.request('duet-share-change-' + store.namespace, { ifAvailable: true }, (held) => {
      if (held === null) {
        throw codedError('BUSY', 'another tab is changing this wallet\'s shares');
      }
      return fn();
    });
  }

  self.addEventListener('message', (e) => {
    const msg = e.data;
    if (!msg || msg.type !== 'call') {
      return;
    }
    const { id, method, params } = msg;
    invoke(id, method, params || {}).then(
      (value) => {
        try {
          post({ type: 'result', id, value });
        } catch (err) {
          post({ type: 'error', id, error: serialize(codedError('INTERNAL', method + ' returned a value that cannot be passed to the page: ' + err.message)) });
        }
      },
      (err) => post({ type: 'error', id, error: serialize(err) }),
    );
  });

  post({ type: 'hello' });
}
