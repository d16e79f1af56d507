// The app page's side of the isolation frame (frame.js): an iframe of the
// Duet server's origin, spoken to by postMessage in the frame's fixed
// schema, and checked by origin and source both ways. It offers what the
// SDK needs of a device host: call, authorize, hashTypedData, get, and the
// closed/failure/close of a channel.

import { DuetError, ErrorCode, deserializeError } from './errors.js';
import { callListener } from './rpc.js';

const protocol = 'duet-frame/1';

// While hidden the frame takes no room and no clicks; while a confirmation
// is open in it, it covers the page, above everything.
const hiddenStyle = 'position:fixed;top:0;left:0;width:0;height:0;border:0;opacity:0;pointer-events:none;';
const shownStyle = 'position:fixed;inset:0;width:100vw;height:100vh;border:0;z-index:2147483647;background:transparent;color-scheme:normal;';

export class FrameChannel {
  #iframe;
  #origin;
  #pending = new Map();
  #nextId = 1;
  #failure = null;
  #onFatal;
  #listener;

  /**
   * Adds the frame at frameUrl to document and resolves once it says it is
   * ready, within timeoutMs.
   */
  static open(document, frameUrl, { timeoutMs, onFatal } = {}) {
    return new Promise((resolve, reject) => {
      const ch = new FrameChannel(document, frameUrl, onFatal);
      const timer = setTimeout(() => {
        const err = new DuetError(ErrorCode.NETWORK, `duet: the isolation frame ${frameUrl} did not start within ${timeoutMs} ms`);
        ch.close(err);
        reject(err);
      }, timeoutMs);
      ch.#ready = () => {
        clearTimeout(timer);
        resolve(ch);
      };
    });
  }

  #ready = () => {};

  constructor(document, frameUrl, onFatal) {
    const url = new URL(frameUrl);
    this.#origin = url.origin;
    this.#onFatal = onFatal;
    const iframe = document.createElement('iframe');
    iframe.src = url.href;
    iframe.title = 'Duet';
    iframe.setAttribute('style', hiddenStyle);
    iframe.setAttribute('aria-hidden', 'true');
    iframe.setAttribute('referrerpolicy', 'origin');
    iframe.setAttribute('allow', 'publickey-credentials-get');
    this.#iframe = iframe;
    const win = document.defaultView;
    this.#listener = (e) => {
      if (e.source !== iframe.contentWindow || e.origin !== this.#origin) {
        return;
      }
      this.#receive(e.data);
    };
    win.addEventListener('message', this.#listener);
    (document.body ?? document.documentElement).append(iframe);
  }

  get closed() {
    return this.#failure !== null;
  }

  get failure() {
    return this.#failure;
  }

  /** Calls method in the frame. */
  call(method, params = {}, { onProgress } = {}) {
    if (this.#failure !== null) {
      return Promise.reject(this.#failure);
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, onProgress });
      try {
        this.#iframe.contentWindow.postMessage({ duet: protocol, type: 'call', id, method, params }, this.#origin);
      } catch (err) {
        this.#pending.delete(id);
        reject(new DuetError(ErrorCode.INVALID_ARGUMENT, `duet: cannot pass arguments of ${method} to the frame: ${err.message}`));
      }
    });
  }

  close(err = new DuetError(ErrorCode.CLOSED, 'duet: closed')) {
    if (this.#failure !== null) {
      return;
    }
    this.#failure = err;
    this.#iframe.ownerDocument.defaultView?.removeEventListener('message', this.#listener);
    this.#iframe.remove();
    const entries = [...this.#pending.values()];
    this.#pending.clear();
    for (const e of entries) {
      e.reject(err);
    }
  }

  #receive(msg) {
    if (msg === null || typeof msg !== 'object' || msg.duet !== protocol) {
      return;
    }
    switch (msg.type) {
      case 'ready':
        this.#ready();
        return;
      case 'approval':
        this.#iframe.setAttribute('style', msg.open === true ? shownStyle : hiddenStyle);
        if (msg.open === true) {
          this.#iframe.removeAttribute('aria-hidden');
          this.#iframe.focus();
        } else {
          this.#iframe.setAttribute('aria-hidden', 'true');
        }
        return;
      case 'progress': {
        const entry = this.#pending.get(msg.id);
        if (entry && typeof entry.onProgress === 'function') {
          callListener(entry.onProgress, msg.event);
        }
        return;
      }
      case 'result':
      case 'error': {
        const entry = this.#pending.get(msg.id);
        if (!entry) {
          return;
        }
        this.#pending.delete(msg.id);
        if (msg.type === 'result') {
          entry.resolve(msg.value);
        } else {
          entry.reject(deserializeError(msg.error));
        }
        return;
      }
      case 'fatal': {
        const err = deserializeError(msg.error);
        this.close(err);
        if (typeof this.#onFatal === 'function') {
          this.#onFatal(err);
        }
      }
    }
  }
}

/** The device host of isolation mode: every call goes to the frame. */
export class FrameHost {
  #ch;

  constructor(channel) {
    this.#ch = channel;
    Object.freeze(this);
  }

  call(method, params, options) {
    return this.#ch.call(method, params, options);
  }

  authorize(request, options) {
    return this.#ch.call('authorize', { request }, options);
  }

  async hashTypedData(typedData) {
    return this.#ch.call('hashTypedData', { typedData });
  }

  /** GETs a client API route through the frame, which holds the API key. */
  get(path) {
    return this.#ch.call('get', { path });
  }
}
