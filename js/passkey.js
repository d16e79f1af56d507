// Backup keys from a passkey: WebAuthn with the PRF extension. The passkey's
// authenticator evaluates a pseudo-random function, secret to it, on a fixed
// input of Duet's; the SDK stretches the output with HKDF into the 32-byte
// key of one wallet's passkey backup. The key is made on this device each
// time it is needed and never leaves it: neither the server nor the
// custodian sees it or the PRF output.
//
// The passkey is discoverable (a resident credential), so that a new device
// on which the same passkey is available (synced by the user's passkey
// provider, or a security key) can recover without anything stored here.
// Where this device remembers the credential id of a wallet's passkey (a
// public value), it names it in allowCredentials.

import { DuetError, ErrorCode } from './errors.js';

const encoder = new TextEncoder();

// The PRF input (salt) Duet asks every passkey to evaluate, and the HKDF
// salt and info that turn the output into one wallet's key.
const prfLabel = 'duet passkey backup prf v1';
const hkdfSalt = encoder.encode('duet/passkey-backup/v1');
const hkdfInfo = (walletId) => encoder.encode('duet wallet backup key/' + walletId);

const credentialKey = (walletId) => 'duet:passkey-credential:' + walletId;

function unsupported(message, cause) {
  return new DuetError(ErrorCode.UNSUPPORTED, 'duet: ' + message, cause ? { cause } : undefined);
}

function toBase64Url(bytes) {
  let s = '';
  for (const b of bytes) {
    s += String.fromCharCode(b);
  }
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(s) {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function random(n) {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** The fixed PRF input: SHA-256 of Duet's label. */
export async function prfSalt() {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(prfLabel)));
}

/** Derives a wallet's 32-byte backup key from a PRF output with HKDF-SHA-256. */
export async function keyFromPrf(prfOutput, walletId) {
  const ikm = await crypto.subtle.importKey('raw', prfOutput, 'HKDF', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: hkdfSalt, info: hkdfInfo(walletId) }, ikm, 256);
  return new Uint8Array(bits);
}

function storage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

/** The credential id this device remembers for a wallet's passkey, or null. */
export function rememberedCredential(walletId) {
  const v = storage()?.getItem(credentialKey(walletId));
  if (typeof v !== 'string' || v === '') {
    return null;
  }
  try {
    return fromBase64Url(v);
  } catch {
    return null;
  }
}

function remember(walletId, rawId) {
  try {
    storage()?.setItem(credentialKey(walletId), toBase64Url(new Uint8Array(rawId)));
  } catch {
    // Only a hint: a discoverable passkey is found without it.
  }
}

function credentialsApi(options) {
  const api = options.credentials ?? globalThis.navigator?.credentials;
  if (!api || typeof api.get !== 'function' || typeof api.create !== 'function' || typeof PublicKeyCredential === 'undefined') {
    throw unsupported('this browser has no WebAuthn (navigator.credentials), which the passkey method needs');
  }
  return api;
}

function webauthnError(err, what) {
  if (err instanceof DuetError) {
    return err;
  }
  if (err?.name === 'NotAllowedError' || err?.name === 'AbortError') {
    return new DuetError(ErrorCode.REJECTED, `duet: ${what} was cancelled or timed out`, { cause: err });
  }
  return unsupported(`${what} failed: ${err?.message ?? err}`, err);
}

function prfFirst(credential) {
  const first = credential?.getClientExtensionResults?.()?.prf?.results?.first;
  if (first instanceof ArrayBuffer) {
    return new Uint8Array(first);
  }
  if (ArrayBuffer.isView(first)) {
    return new Uint8Array(first.buffer, first.byteOffset, first.byteLength);
  }
  return null;
}

// Asks the passkey for the PRF output, naming the credentials in ids (or
// any discoverable passkey of the relying party if there are none).
async function evaluate(api, options, ids) {
  const salt = await prfSalt();
  const publicKey = {
    challenge: random(32),
    userVerification: 'required',
    timeout: options.timeoutMs ?? 120000,
    extensions: { prf: { eval: { first: salt } } },
  };
  if (options.rpId) {
    publicKey.rpId = options.rpId;
  }
  if (ids.length > 0) {
    publicKey.allowCredentials = ids.map((id) => ({ type: 'public-key', id }));
  }
  let credential;
  try {
    credential = await api.get({ publicKey });
  } catch (err) {
    throw webauthnError(err, 'asking the passkey');
  }
  const out = prfFirst(credential);
  if (!out) {
    throw unsupported('the passkey gave no PRF output: its authenticator does not support the WebAuthn PRF extension');
  }
  return { output: out, rawId: credential.rawId };
}

/**
 * Makes a passkey for the wallet's backups on the app's relying party and
 * returns its credential id. The passkey must support PRF.
 */
async function create(api, options, walletId) {
  const salt = await prfSalt();
  const rp = { name: options.rpName ?? 'Duet wallet' };
  if (options.rpId) {
    rp.id = options.rpId;
  }
  const name = options.userName ?? 'Duet wallet ' + walletId.slice(0, 8);
  let credential;
  try {
    credential = await api.create({
      publicKey: {
        rp,
        user: { id: random(16), name, displayName: options.userDisplayName ?? name },
        challenge: random(32),
        pubKeyCredParams: [{ type: 'public-key', alg: -7 }, { type: 'public-key', alg: -257 }],
        authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
        timeout: options.timeoutMs ?? 120000,
        extensions: { prf: { eval: { first: salt } } },
      },
    });
  } catch (err) {
    throw webauthnError(err, 'creating the passkey');
  }
  const prf = credential?.getClientExtensionResults?.()?.prf;
  if (!prf || (prf.enabled !== true && !prfFirst(credential))) {
    throw unsupported('the new passkey does not support the WebAuthn PRF extension');
  }
  return { rawId: credential.rawId, output: prfFirst(credential) };
}

/**
 * Returns the 32-byte backup key of a wallet from a passkey.
 *
 * With create, a new passkey is made when this device knows none for the
 * wallet (backup); without it, the passkey is asked for, by the remembered
 * credential id if there is one, else among the relying party's
 * discoverable passkeys (recovery on a new device).
 *
 * @param {string} walletId
 * @param {{create?: boolean, rpId?: string, rpName?: string, userName?: string, timeoutMs?: number, credentials?: CredentialsContainer}} options
 * @returns {Promise<Uint8Array>}
 */
export async function passkeyBackupKey(walletId, options = {}) {
  const api = credentialsApi(options);
  const known = rememberedCredential(walletId);
  let output = null;
  if (known) {
    ({ output } = await evaluate(api, options, [known]));
  } else if (options.create) {
    const made = await create(api, options, walletId);
    remember(walletId, made.rawId);
    // Some authenticators evaluate the PRF at creation; the others are
    // asked once more.
    output = made.output ?? (await evaluate(api, options, [new Uint8Array(made.rawId)])).output;
  } else {
    const got = await evaluate(api, options, []);
    remember(walletId, got.rawId);
    output = got.output;
  }
  try {
    return await keyFromPrf(output, walletId);
  } finally {
    output.fill(0);
  }
}
