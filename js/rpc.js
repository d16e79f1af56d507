// The main thread's side of the RPC with the device worker (worker.js).
//
// Main → worker:  {type: 'call', id, method, params}
// Worker → main:  {type: 'hello'}                       the worker script runs
//                 {type: 'progress', id, event}          a call's progress
//                 {type: 'code', id, code}               the code a call shows the user
//                 {type: 'result', id, value}            a call succeeded
//                 {type: 'error', id, error: {code, message}}
//                 {type: 'fatal', error: {code, message}} the device module exited
//
// Every call settles: a result or error message settles it, and a crashed
// worker, an exited device module or close() rejects every call still
// waiting, so nothing the worker does can leave the page hanging.

import { DuetError, ErrorCode, deserializeError } from './errors.js';

export class WorkerChannel {
  #worker;
  #onFatal;
  #pending = new Map();
  #nextId = 1;
  #started = false;
  #failure = null;

  /**
   * @param {Worker} worker a started worker running worker.js
   * @param {{onFatal?: (err: DuetError) => void}} [options] onFatal is called
   *   once when the channel fails for good (not after close()).
   */
  constructor(worker, { onFatal } = {}) {
    this.#worker = worker;
    this.#onFatal = onFatal;
    worker.addEventListener('message', (e) => this.#receive(e.data));
    worker.addEventListener('error', (e) => {
      // The default action logs the error again on the page; the rejection
      // below already reports it.
      if (typeof e.preventDefault === 'function') {
        e.preventDefault();
      }
      const detail = typeof e.message === 'string' && e.message !== '' ? `: ${e.message}` : '';
      // Before its first message, an error means the worker script itself
      // could not be fetched or parsed.
      const err = this.#started
        ? new DuetError(ErrorCode.INTERNAL, `duet: device worker crashed${detail}`)
        : new DuetError(ErrorCode.NETWORK, `duet: device worker failed to start${detail}`);
      this.#fail(err);
    });
    worker.addEventListener('messageerror', () => {
      this.#fail(new DuetError(ErrorCode.INTERNAL, 'duet: device worker sent a message that could not be read'));
    });
  }

  /** Reports whether the channel no longer accepts calls. */
  get closed() {
    return this.#failure !== null;
  }

  /** The error that closed the channel, or null while it is open. */
  get failure() {
    return this.#failure;
  }

  /** The number of calls waiting for an answer. */
  get pendingCount() {
    return this.#pending.size;
  }

  /**
   * Calls method in the worker.
   *
   * @param {string} method
   * @param {object} params structured-cloneable arguments
   * @param {{onProgress?: (event: object) => void, onCode?: (code: string) => void, timeoutMs?: number, timeoutCode?: string}} [options]
   *   onCode receives the code a call asks the user to carry to another
   *   device (requestApproval); it is kept out of the progress events.
   *   timeoutMs bounds the call; when it passes, the whole channel fails with
   *   timeoutCode, since a worker that stopped answering cannot be trusted
   *   with the next call either.
   */
  call(method, params = {}, { onProgress, onCode, timeoutMs, timeoutCode = ErrorCode.INTERNAL } = {}) {
    if (this.#failure !== null) {
      return Promise.reject(this.#failure);
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const entry = { resolve, reject, onProgress, onCode, timer: undefined };
      if (timeoutMs !== undefined) {
        entry.timer = setTimeout(() => {
          this.#fail(new DuetError(timeoutCode, `duet: device worker did not answer ${method} within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.#pending.set(id, entry);
      try {
        this.#worker.postMessage({ type: 'call', id, method, params });
      } catch (err) {
        // Only a value that cannot be cloned gets here.
        this.#settle(id);
        reject(new DuetError(ErrorCode.INVALID_ARGUMENT, `duet: cannot pass arguments of ${method} to the worker: ${err.message}`, { cause: err }));
      }
    });
  }

  /**
   * Stops the worker and rejects every waiting call with err (CLOSED unless
   * given). Later calls reject with the same error.
   */
  close(err = new DuetError(ErrorCode.CLOSED, 'duet: closed')) {
    this.#shutdown(err);
  }

  #receive(msg) {
    this.#started = true;
    if (msg === null || typeof msg !== 'object') {
      return;
    }
    switch (msg.type) {
      case 'hello':
        return;
      case 'fatal':
        this.#fail(deserializeError(msg.error));
        return;
      case 'progress': {
        const entry = this.#pending.get(msg.id);
        if (entry && typeof entry.onProgress === 'function') {
          callListener(entry.onProgress, msg.event);
        }
        return;
      }
      case 'code': {
        const entry = this.#pending.get(msg.id);
        if (entry && typeof entry.onCode === 'function' && typeof msg.code === 'string') {
          callListener(entry.onCode, msg.code);
        }
        return;
      }
      case 'result': {
        const entry = this.#settle(msg.id);
        if (entry) {
          entry.resolve(msg.value);
        }
        return;
      }
      case 'error': {
        const entry = this.#settle(msg.id);
        if (entry) {
          entry.reject(deserializeError(msg.error));
        }
        return;
      }
    }
  }

  #settle(id) {
    const entry = this.#pending.get(id);
    if (entry) {
      this.#pending.delete(id);
      clearTimeout(entry.timer);
    }
    return entry;
  }

  #fail(err) {
    if (this.#failure !== null) {
      return;
    }
    this.#shutdown(err);
    if (typeof this.#onFatal === 'function') {
      this.#onFatal(err);
    }
  }

  #shutdown(err) {
    if (this.#failure !== null) {
      return;
    }
    this.#failure = err;
    this.#worker.terminate();
    const entries = [...this.#pending.values()];
    this.#pending.clear();
    for (const entry of entries) {
      clearTimeout(entry.timer);
      entry.reject(err);
    }
  }
}

/**
 * Calls an app's callback so that its exceptions are reported the way the
 * browser reports uncaught ones and never disturb the SDK's own state.
 */
export function callListener(fn, ...args) {
  try {
    fn(...args);
  } catch (err) {
    if (typeof globalThis.reportError === 'function') {
      globalThis.reportError(err);
    } else {
      setTimeout(() => {
        throw err;
      });
    }
  }
}
