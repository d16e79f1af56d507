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
    'addDevice', 'requestApproval', 'approveDevice', 'listDevices', 'removeDevice', 'deviceState', 'hashPersonalMessage', 'hashTypedData',
    'keccak256', 'finishAux', 'fillPool',
  ]);
  // These take their single input rather than an options object.
  const hashMethods = new Set(['hashPersonalMessage', 'hashTypedData', 'keccak256']);
  // These run an MPC session that reads or changes the device's share. Across
  // tabs of one origin they run one at a time, so that two tabs never move the
  // same wallet's share through the two-phase commit at once.
  const sessionMethods = new Set([
    'keygen', 'sign', 'signTransaction', 'backup', 'recover', 'eject', 'refresh', 'removeBackup', 'verifyBackup',
    'addDevice', 'requestApproval', 'approveDevice', 'listDevices', 'removeDevice', 'finishAux', 'fillPool',
  ]);

  // How long the module may take, after go.run, to publish DuetDevice.
  const readyTimeoutMs = 10000;

  let initialized = false;
  let device = null;
  // The module's linear memory, whose size deviceState reports.
  let memory = null;
  let store = null;
  let config = null;
  // The compiled module and the URLs it came from, for the prime workers.
  let loaded = null;
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
    loaded = { wasmUrl, wasmExecUrl, module };
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
    memory = instance.exports.mem instanceof WebAssembly.Memory ? instance.exports.mem : null;
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
    if (method === 'stockPrimes') {
      return stockPrimes((ev) => post({ type: 'progress', id, event: plainEvent(ev) }));
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
      if (method === 'requestApproval') {
        // The code to show goes to the caller's onCode alone, never into
        // the progress events an app may log.
        arg.onCode = (code) => post({ type: 'code', id, code: String(code) });
      }
    }
    const run = () => Promise.race([Promise.resolve().then(() => fn.call(device, arg)), exited]);
    if (method === 'deviceState') {
      const state = await run();
      return Object.assign({}, state, { moduleMemoryBytes: memory ? memory.buffer.byteLength : 0 });
    }
    if (shareChangeMethods.has(method)) {
      return counted(() => shareChange(() => lock('duet-device-' + store.namespace, run)));
    }
    if (sessionMethods.has(method)) {
      return counted(() => lock('duet-device-' + store.namespace, run));
    }
    return run();
  }

  // Sessions waiting or running in this worker; the spare prime search
  // starts no search while there is one.
  let sessions = 0;
  let idleWaiters = [];

  async function counted(fn) {
    sessions++;
    try {
      return await fn();
    } finally {
      sessions--;
      if (sessions === 0) {
        const waiters = idleWaiters;
        idleWaiters = [];
        waiters.forEach((resolve) => resolve());
      }
    }
  }

  function whenIdle() {
    return sessions === 0 ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve));
  }

  // Spare primes: the safe primes of the device's next Paillier keys (a
  // wallet's aux-info, a refresh, a recovery), searched ahead of time and
  // kept sealed in the store, so that those sessions need not search for
  // them. stockPrimes searches until the store holds as many sets as the
  // device module wants, in nested workers (primes-worker.js) that leave a
  // core for the page and the sessions: hardwareConcurrency − 1 of them, at
  // least one, at most maxPrimeWorkers. Where nested workers cannot start (a
  // Content-Security-Policy that refuses them, a browser without them) it
  // searches in this worker, one set at a time between sessions; a session
  // asked for meanwhile waits for the search in progress to end.
  const maxPrimeWorkers = 4;
  // How long a prime worker may take to load the module and say it is ready.
  const primeWorkerReadyMs = 60000;
  let stocking = null;

  function stockPrimes(report) {
    if (stocking === null) {
      stocking = stockOnce(report).finally(() => {
        stocking = null;
      });
    }
    return stocking;
  }

  async function spareCount() {
    const s = await device.deviceState({ store });
    return { have: Number(s.sparePrimes) || 0, want: Number(s.sparePrimesWanted) || 0 };
  }

  async function stockOnce(report) {
    const first = await spareCount();
    if (first.have >= first.want) {
      return { sparePrimes: first.have, searched: 0, where: 'none' };
    }
    const locks = self.navigator && self.navigator.locks;
    if (!locks || typeof locks.request !== 'function') {
      return searchSpares(first, report);
    }
    // One tab of the origin searches; the others leave it to that one.
    return locks.request('duet-primes-' + store.namespace, { ifAvailable: true }, (held) => {
      if (held === null) {
        return { sparePrimes: first.have, searched: 0, where: 'another tab' };
      }
      return searchSpares(first, report);
    });
  }

  async function searchSpares(first, report) {
    let { have, want } = first;
    let searchers = null;
    let where = 'nested workers';
    let why = '';
    try {
      searchers = await startPrimeWorkers(primeWorkerCount(), want - have);
    } catch (err) {
      why = err && err.message ? err.message : String(err);
    }
    if (searchers === null) {
      where = 'device worker';
      searchers = [{ search: () => device.searchPrimes(), stop() {} }];
      report({ phase: 'primes', detail: 'nested workers are unavailable (' + why + '): searching for spare primes in the device worker, between sessions', sparePrimes: have, wanted: want });
    } else {
      report({ phase: 'primes', detail: 'searching for spare primes in ' + searchers.length + ' nested worker' + (searchers.length === 1 ? '' : 's'), sparePrimes: have, wanted: want });
    }
    let searched = 0;
    let inFlight = 0;
    let full = false;
    const loop = async (s) => {
      for (;;) {
        await whenIdle();
        if (full || have + inFlight >= want || exitError !== null) {
          return;
        }
        inFlight++;
        let primes;
        try {
          primes = await s.search();
        } finally {
          inFlight--;
        }
        searched++;
        try {
          // Under the device's session lock, so that no session takes a set
          // while this one is added beside it, here or in another tab.
          const res = await lock('duet-device-' + store.namespace, () => device.addSparePrimes({ store, primes }));
          full = res.kept !== true;
        } finally {
          primes.fill(0);
        }
        ({ have, want } = await spareCount());
        report({ phase: 'primes', detail: 'found a set of spare primes', sparePrimes: have, wanted: want });
      }
    };
    try {
      await Promise.all(searchers.map(loop));
    } finally {
      searchers.forEach((s) => s.stop());
    }
    return { sparePrimes: have, searched, where };
  }

  function primeWorkerCount() {
    const cores = Number(self.navigator && self.navigator.hardwareConcurrency) || 1;
    return Math.min(maxPrimeWorkers, Math.max(1, cores - 1));
  }

  // Starts up to n prime workers and resolves with those that loaded the
  // module; rejects if none did.
  async function startPrimeWorkers(n, wanted) {
    if (typeof self.Worker !== 'function') {
      throw new Error('this browser has no nested workers');
    }
    const started = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(n, wanted)) }, () => startPrimeWorker()));
    const ok = started.filter((r) => r.status === 'fulfilled').map((r) => r.value);
    if (ok.length === 0) {
      throw started[0].reason;
    }
    return ok;
  }

  // A nested worker the worker's Content-Security-Policy refused, named in
  // the fallback's progress message.
  let refusedWorkerSrc = null;
  self.addEventListener('securitypolicyviolation', (e) => {
    if (e.effectiveDirective === 'worker-src' && refusedWorkerSrc === null) {
      refusedWorkerSrc = String(e.violatedDirective || 'worker-src').split(' ')[0];
    }
  });

  function startPrimeWorker() {
    return new Promise((resolve, reject) => {
      let w;
      try {
        w = new Worker(new URL('./primes-worker.js', import.meta.url), { type: 'module', name: 'duet-primes' });
      } catch (err) {
        reject(new Error('cannot start a prime worker: ' + err.message));
        return;
      }
      let pending = null; // {resolve, reject} of the search in progress
      let ready = false;
      let failure = null; // why the worker stopped; later searches fail with it
      const fail = (err) => {
        w.terminate();
        if (failure === null) {
          failure = err;
        }
        if (!ready) {
          reject(err);
        }
        if (pending !== null) {
          pending.reject(err);
          pending = null;
        }
      };
      const timer = setTimeout(() => fail(new Error('a prime worker did not load the device module in time')), primeWorkerReadyMs);
      const searcher = {
        search() {
          if (failure !== null) {
            return Promise.reject(failure);
          }
          return new Promise((res, rej) => {
            pending = { resolve: res, reject: rej };
            w.postMessage({ type: 'search' });
          });
        },
        stop() {
          fail(new Error('the spare prime search stopped'));
        },
      };
      w.addEventListener('error', (e) => {
        e.preventDefault();
        clearTimeout(timer);
        if (refusedWorkerSrc !== null) {
          fail(new Error("the device worker's Content-Security-Policy (" + refusedWorkerSrc + ') refuses them'));
        } else {
          fail(new Error('a prime worker failed' + (e.message ? ': ' + e.message : ' to start')));
        }
      });
      w.addEventListener('message', (e) => {
        const msg = e.data || {};
        if (msg.type === 'ready') {
          clearTimeout(timer);
          ready = true;
          resolve(searcher);
        } else if (msg.type === 'primes' && pending !== null && msg.primes instanceof Uint8Array) {
          pending.resolve(msg.primes);
          pending = null;
        } else if (msg.type === 'failed') {
          clearTimeout(timer);
          fail(new Error(String(msg.message)));
        }
      });
      const init = { type: 'init', wasmUrl: loaded.wasmUrl, wasmExecUrl: loaded.wasmExecUrl };
      try {
        // The module compiled once, where the browser can pass it.
        w.postMessage({ ...init, module: loaded.module });
      } catch (err) {
        w.postMessage(init);
      }
    });
  }

  // A share change (create, recover, refresh, adding this device) is one at
  // a time across the tabs of this browser: a second one, while one runs,
  // fails at once with BUSY instead of waiting to change the shares again.
  const shareChangeMethods = new Set(['keygen', 'recover', 'refresh', 'addDevice', 'requestApproval']);

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
