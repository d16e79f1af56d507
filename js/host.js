// The device host: the one place where a request becomes a signature.
//
// It owns the device worker (and so the sealed store and the client
// credentials the worker was given) and the approval point. Every signing
// request arrives as plain data, is parsed strictly into a frozen canonical
// description (request.js), shown to the approval point, and only then
// signed, from that description. The worker's raw `sign` and
// `signTransaction` are reached from nowhere else.
//
// In same-origin mode the host runs in the app's page, beside the SDK; in
// isolation mode it runs in an iframe of the Duet server's origin
// (frame.js), so that the app's page reaches it only through postMessage.

import { DuetError, ErrorCode } from './errors.js';
import { bytesToHex, formatSignature, hexToBytes, isAddress, isHexData, sameAddress } from './bytes.js';
import { canonicalTransaction, canonicalTypedData, caip2, seal, typedDataJSON } from './request.js';
import { approvalCode, formatApprovalCode } from './approval.js';

function invalid(message) {
  return new DuetError(ErrorCode.INVALID_ARGUMENT, 'duet: ' + message);
}

/**
 * The kinds of request the host approves; the first four end in a
 * signature, the last in a new device of the wallet.
 */
export const RequestKind = Object.freeze({
  MESSAGE: 'message',
  TYPED_DATA: 'typedData',
  TRANSACTION: 'transaction',
  DIGEST: 'digest',
  ADD_CHAIN: 'addChain',
  SWITCH_CHAIN: 'switchChain',
  APPROVE_DEVICE: 'approve-device',
});

// Device functions the host passes through unchanged: they sign nothing.
// (approveDevice is not one: it lets another device sign, so it is
// authorized like a signature.)
const passThrough = new Set([
  'keygen', 'backup', 'recover', 'eject', 'refresh', 'removeBackup', 'verifyBackup', 'deviceState',
  'addDevice', 'requestApproval', 'listDevices', 'removeDevice',
  'hashPersonalMessage', 'keccak256', 'finishAux', 'fillPool', 'stockPrimes',
]);

const chainPattern = /^eip155:[1-9][0-9]*$/;

function chainOf(v, what) {
  if (v === null || v === undefined) {
    return null;
  }
  if (typeof v !== 'string' || !chainPattern.test(v) || v.length > 90) {
    throw invalid(`${what} must be a CAIP-2 eip155 chain id`);
  }
  return v;
}

function methodOf(v) {
  if (typeof v !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(v)) {
    throw invalid('request method must be a method name');
  }
  return v;
}

function textOf(bytes) {
  try {
    const s = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    // Control characters other than tab and newlines would hide text.
    return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u202a-\u202e\u2066-\u2069]/.test(s) ? null : s;
  } catch {
    return null;
  }
}

/** Checks an RPC URL a chain is added with: https, or http on a loopback host. */
export function checkChainRpcUrl(u) {
  let url;
  try {
    url = new URL(u);
  } catch {
    throw invalid(`RPC URL is not an absolute URL: ${String(u)}`);
  }
  const loopback = url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw invalid(`RPC URL must be https (http only on a loopback address), not ${url.protocol}//${url.host}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw invalid('RPC URL may not carry credentials');
  }
  return url.href;
}

export class DeviceHost {
  #channel;
  #approve;

  /**
   * @param {{call: Function, close?: Function}} channel the device worker's
   *   channel (WorkerChannel), already initialized
   * @param {(description: object) => Promise<void>} approve the approval
   *   point (approval.js)
   */
  constructor(channel, approve) {
    this.#channel = channel;
    this.#approve = approve;
    Object.freeze(this);
  }

  /** Calls a device function that signs nothing. */
  call(method, params, options) {
    if (!passThrough.has(method)) {
      return Promise.reject(new DuetError(ErrorCode.INVALID_ARGUMENT, `duet: ${String(method)} is not a device function`));
    }
    return this.#channel.call(method, params, options);
  }

  /**
   * Returns the EIP-712 digest of typed data, from its canonical form.
   *
   * @returns {Promise<Uint8Array>}
   */
  async hashTypedData(typedData) {
    return this.#hashTyped(seal(canonicalTypedData(typedData)));
  }

  async #hashTyped(td) {
    const digest = await this.#channel.call('hashTypedData', { data: typedDataJSON(td) });
    if (!(digest instanceof Uint8Array) || digest.length !== 32) {
      throw new DuetError(ErrorCode.INTERNAL, 'duet: device module returned a malformed typed data hash');
    }
    return digest;
  }

  /**
   * Parses request, has it approved, and carries it out: a signature for
   * the signing kinds, null for a chain. Rejects with INVALID_ARGUMENT for a
   * malformed request (before anything is shown), REJECTED if it is not
   * approved.
   *
   * @param {object} request plain data, as RequestKind describes
   * @param {{onProgress?: Function}} [options]
   */
  async authorize(request, options = {}) {
    const description = await this.#describe(request);
    const answer = await this.#approve(description);
    return this.#carryOut(description, options, answer);
  }

  async #wallet() {
    const s = await this.#channel.call('deviceState', {});
    if (s?.hasShare === true && s.removed === true) {
      throw new DuetError(ErrorCode.DEVICE_REMOVED, 'duet: this device was removed from the wallet, so its share no longer signs; add it again (addDevice) or recover the wallet here');
    }
    if (s?.hasShare === true && s.stale === true) {
      throw new DuetError(ErrorCode.STALE_DEVICE, "duet: this device's share is not of the pair the server holds for it (the device was removed, or the wallet recovered elsewhere); add this device again (addDevice) or recover the wallet to replace it");
    }
    if (!s || s.hasShare !== true || !isAddress(s.address)) {
      throw new DuetError(ErrorCode.NO_WALLET, 'duet: there is no wallet on this device');
    }
    return s.address;
  }

  // The frozen description of a request: everything copied, parsed and in
  // canonical form, and for typed data the digest that will be signed.
  async #describe(request) {
    if (request === null || typeof request !== 'object') {
      throw invalid('a request must be an object');
    }
    const kind = request.kind;
    const method = methodOf(request.method);
    const chainId = chainOf(request.chainId, 'request chainId');
    if (kind === RequestKind.ADD_CHAIN || kind === RequestKind.SWITCH_CHAIN) {
      if (chainId === null) {
        throw invalid('a chain request needs chainId');
      }
      const d = { kind, method, chainId };
      if (request.rpcUrl !== undefined) {
        d.rpcUrl = checkChainRpcUrl(request.rpcUrl);
      }
      if (request.chainName !== undefined) {
        if (typeof request.chainName !== 'string' || request.chainName.length > 100) {
          throw invalid('chainName must be a string of at most 100 characters');
        }
        d.chainName = request.chainName;
      }
      return seal(d);
    }
    const own = await this.#wallet();
    if (request.address !== undefined && request.address !== null && !sameAddress(request.address, own)) {
      throw new DuetError(ErrorCode.UNAUTHORIZED, `duet: address ${String(request.address)} is not this wallet's`);
    }
    const base = { kind, method, chainId, address: own };
    switch (kind) {
      case RequestKind.MESSAGE: {
        if (!isHexData(request.message)) {
          throw invalid('message must be 0x-prefixed hex of whole bytes');
        }
        const bytes = hexToBytes(request.message);
        return seal({ ...base, message: bytesToHex(bytes), text: textOf(bytes) });
      }
      case RequestKind.TYPED_DATA: {
        const typedData = seal(canonicalTypedData(request.typedData));
        const domainChain = typedData.domain.chainId;
        if (domainChain !== undefined && chainId !== null && 'eip155:' + domainChain !== chainId) {
          throw invalid(`typed data domain.chainId ${domainChain} is not the request's chain ${chainId}`);
        }
        const digest = await this.#hashTyped(typedData);
        return seal({
          ...base,
          chainId: chainId ?? (domainChain !== undefined ? 'eip155:' + domainChain : null),
          typedData,
          digest: bytesToHex(digest),
        });
      }
      case RequestKind.TRANSACTION: {
        const transaction = canonicalTransaction(request.transaction);
        const txChain = caip2(transaction.chainId);
        if (chainId !== null && txChain !== chainId) {
          throw invalid(`transaction chainId ${transaction.chainId} is not the request's chain ${chainId}`);
        }
        return seal({ ...base, chainId: txChain, transaction });
      }
      case RequestKind.DIGEST: {
        if (typeof request.digest !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(request.digest)) {
          throw invalid('digest must be 32 bytes of 0x hex');
        }
        return seal({ ...base, digest: request.digest.toLowerCase() });
      }
      case RequestKind.APPROVE_DEVICE: {
        // Without a code (isolation mode) the approval point asks for it.
        const code = request.code === undefined || request.code === null ? null : formatApprovalCode(approvalCode(request.code));
        return seal({ ...base, code });
      }
      default:
        throw invalid(`unknown request kind ${String(kind)}`);
    }
  }

  async #carryOut(d, { onProgress } = {}, answer = undefined) {
    switch (d.kind) {
      case RequestKind.APPROVE_DEVICE: {
        // The code shown and approved, or the one typed in the dialog.
        const code = approvalCode(d.code ?? answer);
        await this.#channel.call('approveDevice', { code }, { onProgress });
        return null;
      }
      case RequestKind.ADD_CHAIN:
      case RequestKind.SWITCH_CHAIN:
        return null;
      case RequestKind.MESSAGE: {
        const digest = await this.#channel.call('hashPersonalMessage', { data: hexToBytes(d.message) });
        if (!(digest instanceof Uint8Array) || digest.length !== 32) {
          throw new DuetError(ErrorCode.INTERNAL, 'duet: device module returned a malformed message hash');
        }
        return this.#signDigest(digest, onProgress);
      }
      case RequestKind.TYPED_DATA:
      case RequestKind.DIGEST:
        return this.#signDigest(hexToBytes(d.digest), onProgress);
      case RequestKind.TRANSACTION: {
        const res = await this.#channel.call('signTransaction', { tx: structuredCopy(d.transaction) }, { onProgress });
        if (!res || !isHexData(res.raw) || typeof res.hash !== 'string') {
          throw new DuetError(ErrorCode.INTERNAL, 'duet: device module returned a malformed transaction');
        }
        return { raw: res.raw, hash: res.hash };
      }
    }
    throw new DuetError(ErrorCode.INTERNAL, 'duet: unreachable request kind');
  }

  async #signDigest(digest, onProgress) {
    const res = await this.#channel.call('sign', { digest }, { onProgress });
    return formatSignature(res?.signature);
  }

  /** Stops the device worker. */
  close(err) {
    this.#channel.close?.(err);
  }
}

function structuredCopy(o) {
  return JSON.parse(JSON.stringify(o));
}
