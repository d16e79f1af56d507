// Byte and hex helpers shared by the SDK and the provider. Wallet APIs speak
// 0x-prefixed hex; the device module speaks Uint8Array.

import { DuetError, ErrorCode } from './errors.js';

const hexDigits = '0123456789abcdef';
const hexData = /^0x(?:[0-9a-fA-F]{2})*$/;
const addressPattern = /^0x[0-9a-fA-F]{40}$/;

/** Returns bytes as 0x-prefixed lowercase hex. */
export function bytesToHex(bytes) {
  if (!(bytes instanceof Uint8Array)) {
    throw new DuetError(ErrorCode.INVALID_ARGUMENT, 'duet: want a Uint8Array');
  }
  let s = '0x';
  for (const b of bytes) {
    s += hexDigits[b >> 4] + hexDigits[b & 15];
  }
  return s;
}

/** Reports whether s is 0x-prefixed hex of whole bytes ("0x" is zero bytes). */
export function isHexData(s) {
  return typeof s === 'string' && hexData.test(s);
}

/** Decodes 0x-prefixed hex of whole bytes. */
export function hexToBytes(s) {
  if (!isHexData(s)) {
    throw new DuetError(ErrorCode.INVALID_ARGUMENT, 'duet: want 0x-prefixed hex of whole bytes');
  }
  const out = new Uint8Array((s.length - 2) / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(s.slice(2 + 2 * i, 4 + 2 * i), 16);
  }
  return out;
}

/** Encodes s as UTF-8. */
export function utf8ToBytes(s) {
  return new TextEncoder().encode(s);
}

/** Reports whether s is a 0x-prefixed 20-byte address, in any letter case. */
export function isAddress(s) {
  return typeof s === 'string' && addressPattern.test(s);
}

/**
 * Reports whether a and b name the same address. The comparison ignores
 * letter case: EIP-55 casing is a checksum, not part of the address.
 */
export function sameAddress(a, b) {
  return isAddress(a) && isAddress(b) && a.toLowerCase() === b.toLowerCase();
}

/**
 * Returns the bytes of a message to sign: a Uint8Array as is, a string as
 * UTF-8. Strings are never read as hex here; callers that accept hex (as
 * personal_sign does) decode it first.
 */
export function messageBytes(message) {
  if (message instanceof Uint8Array) {
    return message;
  }
  if (typeof message === 'string') {
    return utf8ToBytes(message);
  }
  throw new DuetError(ErrorCode.INVALID_ARGUMENT, 'duet: message must be a string or a Uint8Array');
}

/** Returns a 32-byte digest given as a Uint8Array or as 0x-prefixed hex. */
export function digestBytes(digest) {
  const b = typeof digest === 'string' && isHexData(digest) ? hexToBytes(digest) : digest;
  if (!(b instanceof Uint8Array) || b.length !== 32) {
    throw new DuetError(ErrorCode.INVALID_ARGUMENT, 'duet: digest must be 32 bytes (Uint8Array or 0x-prefixed hex)');
  }
  return b;
}

/**
 * Splits the device module's 65-byte signature r‖s‖v, v ∈ {0, 1}, into the
 * forms wallets use: r, s and yParity, and the 65-byte hex signature with
 * v = 27 + yParity that personal_sign and ecrecover expect.
 */
export function formatSignature(sig) {
  if (!(sig instanceof Uint8Array) || sig.length !== 65 || sig[64] > 1) {
    throw new DuetError(ErrorCode.INTERNAL, 'duet: device module returned a malformed signature');
  }
  const yParity = sig[64];
  const withV = sig.slice();
  withV[64] = 27 + yParity;
  return {
    r: bytesToHex(sig.subarray(0, 32)),
    s: bytesToHex(sig.subarray(32, 64)),
    yParity,
    signature: bytesToHex(withV),
  };
}
