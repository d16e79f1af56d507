// A prime worker: searches for the device's spare Paillier primes beside
// the device worker (worker.js), which starts it as a nested worker and
// keeps what it finds sealed in the device's store. It runs its own
// instance of the device module and calls only its searchPrimes; it holds
// no store, no share and no credential.
//
// Device worker → prime worker: {type: 'init', wasmUrl, wasmExecUrl, module?}
//                               (module: the device worker's compiled
//                               WebAssembly.Module, where the browser can
//                               pass it; else this worker compiles wasmUrl)
//                               {type: 'search'}
// Prime worker → device worker: {type: 'ready'}
//                               {type: 'failed', message}
//                               {type: 'primes', primes: Uint8Array}, one
//                               set of safe primes per search, transferred

{
  const readyTimeoutMs = 10000;
  let device = null;

  async function load({ wasmUrl, wasmExecUrl, module }) {
    await import(/* @vite-ignore */ /* webpackIgnore: true */ wasmExecUrl);
    if (typeof self.Go !== 'function') {
      throw new Error(wasmExecUrl + ' did not define Go');
    }
    if (!(module instanceof WebAssembly.Module)) {
      const resp = await fetch(wasmUrl, { credentials: 'same-origin' });
      if (!resp.ok) {
        throw new Error('cannot fetch ' + wasmUrl + ': HTTP ' + resp.status);
      }
      const type = (resp.headers.get('Content-Type') || '').split(';')[0].trim();
      module = typeof WebAssembly.compileStreaming === 'function' && type === 'application/wasm'
        ? await WebAssembly.compileStreaming(resp)
        : await WebAssembly.compile(await resp.arrayBuffer());
    }
    const go = new self.Go();
    const instance = await WebAssembly.instantiate(module, go.importObject);
    go.run(instance).then(() => fail('the device module exited'), (err) => fail('the device module failed: ' + err));
    const deadline = Date.now() + readyTimeoutMs;
    while (!(self.DuetDevice && typeof self.DuetDevice.searchPrimes === 'function')) {
      if (Date.now() > deadline) {
        throw new Error('the device module did not publish DuetDevice');
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return self.DuetDevice;
  }

  function fail(message) {
    self.postMessage({ type: 'failed', message });
  }

  self.addEventListener('message', (e) => {
    const msg = e.data || {};
    if (msg.type === 'init' && device === null) {
      load(msg).then((d) => {
        device = d;
        self.postMessage({ type: 'ready' });
      }, (err) => fail('cannot load the device module: ' + (err && err.message ? err.message : String(err))));
    } else if (msg.type === 'search' && device !== null) {
      device.searchPrimes().then((primes) => {
        self.postMessage({ type: 'primes', primes }, [primes.buffer]);
      }, (err) => fail('prime search failed: ' + (err && err.message ? err.message : String(err))));
    }
  });
}
