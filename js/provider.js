// duet.provider: an EIP-1193 provider over a Duet wallet, so that dapps and
// libraries can use Duet as they use any injected wallet.
//
// Each JSON-RPC method is one entry of `methods` below, a function of the
// provider's context and the request's params; supporting another method is
// adding an entry.

import { ErrorCode } from './errors.js';
import { hexToBytes, isAddress, isHexData, sameAddress, utf8ToBytes } from './bytes.js';
import { callListener } from './rpc.js';

/** EIP-1193 and JSON-RPC error codes the provider uses. */
export const ProviderErrorCode = Object.freeze({
  USER_REJECTED_REQUEST: 4001,
  UNAUTHORIZED: 4100,
  UNSUPPORTED_METHOD: 4200,
  DISCONNECTED: 4900,
  CHAIN_DISCONNECTED: 4901,
  INVALID_REQUEST: -32600,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
});

/** An EIP-1193 error: an Error with a numeric `code` and optional `data`. */
export class ProviderRpcError extends Error {
  constructor(code, message, data) {
    super(message);
    this.name = 'ProviderRpcError';
    this.code = code;
    if (data !== undefined) {
      this.data = data;
    }
  }
}

// How SDK error codes read to a dapp. The SDK code travels in data.code.
const providerCodes = {
  [ErrorCode.INVALID_ARGUMENT]: ProviderErrorCode.INVALID_PARAMS,
  [ErrorCode.NO_WALLET]: ProviderErrorCode.UNAUTHORIZED,
  [ErrorCode.UNAUTHORIZED]: ProviderErrorCode.UNAUTHORIZED,
  [ErrorCode.FORBIDDEN]: ProviderErrorCode.UNAUTHORIZED,
  [ErrorCode.CLOSED]: ProviderErrorCode.DISCONNECTED,
};

/** Returns err, which a request raised, as a ProviderRpcError. */
export function toProviderError(err) {
  if (err instanceof ProviderRpcError) {
    return err;
  }
  const sdkCode = err && typeof err.code === 'string' ? err.code : ErrorCode.INTERNAL;
  const message = err && typeof err.message === 'string' ? err.message : String(err);
  const code = providerCodes[sdkCode] ?? ProviderErrorCode.INTERNAL_ERROR;
  return new ProviderRpcError(code, message, { code: sdkCode });
}

function invalidParams(message) {
  return new ProviderRpcError(ProviderErrorCode.INVALID_PARAMS, 'duet: ' + message);
}

/** Returns chainId (a positive integer or its 0x hex) as 0x hex. */
export function normalizeChainId(chainId) {
  let n;
  if (typeof chainId === 'number') {
    n = chainId;
  } else if (typeof chainId === 'bigint') {
    n = Number(chainId);
  } else if (typeof chainId === 'string' && /^0x[0-9a-fA-F]+$/.test(chainId)) {
    n = parseInt(chainId, 16);
  } else {
    n = NaN;
  }
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw invalidParams('chain id must be a positive integer or its 0x hex');
  }
  return '0x' + n.toString(16);
}

/**
 * Returns the bytes personal_sign signs: a 0x-prefixed hex string of whole
 * bytes is data, as in MetaMask; any other string is UTF-8 text.
 */
export function personalMessageBytes(message) {
  if (typeof message !== 'string') {
    throw invalidParams('personal_sign message must be a string');
  }
  return isHexData(message) ? hexToBytes(message) : utf8ToBytes(message);
}

function accounts(ctx) {
  const address = ctx.wallet.address;
  return address ? [address] : [];
}

function requireAccount(ctx, address) {
  const own = ctx.wallet.address;
  if (!own) {
    throw new ProviderRpcError(ProviderErrorCode.UNAUTHORIZED, 'duet: there is no wallet on this device', { code: ErrorCode.NO_WALLET });
  }
  if (!sameAddress(own, address)) {
    throw new ProviderRpcError(ProviderErrorCode.UNAUTHORIZED, `duet: address ${address} is not this wallet's`);
  }
}

/** The supported methods: name → (ctx, params) → result or Promise. */
export const methods = {
  eth_accounts(ctx) {
    return accounts(ctx);
  },

  eth_requestAccounts(ctx) {
    const list = accounts(ctx);
    if (list.length === 0) {
      throw new ProviderRpcError(ProviderErrorCode.UNAUTHORIZED, 'duet: there is no wallet on this device', { code: ErrorCode.NO_WALLET });
    }
    return list;
  },

  eth_chainId(ctx) {
    return ctx.chainId;
  },

  async personal_sign(ctx, params) {
    if (!Array.isArray(params) || params.length < 2) {
      throw invalidParams('personal_sign wants params [message, address]');
    }
    const [message, address] = params;
    const bytes = personalMessageBytes(message);
    if (!isAddress(address)) {
      throw invalidParams('personal_sign address must be 0x-prefixed 20-byte hex');
    }
    requireAccount(ctx, address);
    return ctx.wallet.signMessage(bytes);
  },
};

const eventNames = new Set(['accountsChanged', 'chainChanged', 'connect', 'disconnect', 'message']);

// Used by Duet to tell the provider what changed; not part of the EIP-1193
// surface a dapp sees.
export const emitEvent = Symbol('DuetProvider.emit');
export const markDisconnected = Symbol('DuetProvider.disconnect');

/**
 * The EIP-1193 provider of one Duet wallet.
 *
 * The wallet is anything with `address` (string or null) and
 * `signMessage(bytes)` → Promise of the 65-byte hex signature.
 */
export class DuetProvider {
  #ctx;
  #listeners = new Map();
  #disconnected = null;

  /**
   * @param {{address: string | null, signMessage: (b: Uint8Array) => Promise<string>}} wallet
   * @param {{chainId?: number | string}} [options] chainId defaults to 1337
   */
  constructor(wallet, { chainId = 1337 } = {}) {
    this.#ctx = { wallet, chainId: normalizeChainId(chainId) };
  }

  /** Tells dapps that look for it that this provider is Duet. */
  get isDuet() {
    return true;
  }

  /** The current chain id, as 0x hex. */
  get chainId() {
    return this.#ctx.chainId;
  }

  /** Reports whether the provider can serve requests. */
  isConnected() {
    return this.#disconnected === null;
  }

  /**
   * Serves one EIP-1193 request. Rejections are ProviderRpcErrors with a
   * numeric code; an SDK error's code is kept in `data.code`.
   *
   * @param {{method: string, params?: unknown[] | object}} args
   */
  async request(args) {
    if (args === null || typeof args !== 'object' || typeof args.method !== 'string' || args.method === '') {
      throw new ProviderRpcError(ProviderErrorCode.INVALID_REQUEST, 'duet: request wants {method, params}');
    }
    const { method, params } = args;
    if (params !== undefined && (params === null || typeof params !== 'object')) {
      throw invalidParams('params must be an array or an object');
    }
    if (!Object.hasOwn(methods, method)) {
      throw new ProviderRpcError(ProviderErrorCode.UNSUPPORTED_METHOD, `duet: method ${method} is not supported`);
    }
    if (this.#disconnected !== null) {
      throw new ProviderRpcError(ProviderErrorCode.DISCONNECTED, this.#disconnected.message, this.#disconnected.data);
    }
    try {
      return await methods[method](this.#ctx, params ?? []);
    } catch (err) {
      throw toProviderError(err);
    }
  }

  /** Adds listener for event; returns the provider, as Node's EventEmitter does. */
  on(event, listener) {
    if (typeof listener !== 'function') {
      throw new TypeError('duet: listener must be a function');
    }
    if (!eventNames.has(event)) {
      throw new TypeError(`duet: unknown provider event ${String(event)}`);
    }
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener);
    return this;
  }

  /** Adds listener for the next event only. */
  once(event, listener) {
    if (typeof listener !== 'function') {
      throw new TypeError('duet: listener must be a function');
    }
    const wrapper = (...args) => {
      this.removeListener(event, wrapper);
      listener(...args);
    };
    wrapper.listener = listener;
    return this.on(event, wrapper);
  }

  /** Removes listener; returns the provider. */
  removeListener(event, listener) {
    const set = this.#listeners.get(event);
    if (set) {
      for (const l of set) {
        // A once() wrapper is removed by the listener it wraps too.
        if (l === listener || l.listener === listener) {
          set.delete(l);
          break;
        }
      }
    }
    return this;
  }

  /** Same as removeListener. */
  off(event, listener) {
    return this.removeListener(event, listener);
  }

  /** The number of listeners for event. */
  listenerCount(event) {
    const set = this.#listeners.get(event);
    return set ? set.size : 0;
  }

  [emitEvent](event, ...args) {
    const set = this.#listeners.get(event);
    if (!set) {
      return;
    }
    for (const listener of [...set]) {
      callListener(listener, ...args);
    }
  }

  [markDisconnected](err) {
    if (this.#disconnected !== null) {
      return;
    }
    const sdkCode = err && typeof err.code === 'string' ? err.code : ErrorCode.CLOSED;
    this.#disconnected = new ProviderRpcError(
      ProviderErrorCode.DISCONNECTED,
      err && err.message ? err.message : 'duet: disconnected',
      { code: sdkCode },
    );
    this[emitEvent]('disconnect', this.#disconnected);
  }
}
