// Errors of the Duet SDK. Every failure reaches the caller as a DuetError
// whose `code` is one of ErrorCode, so an app can branch on the code and
// show the message.

/**
 * Stable error codes. The first group comes from the device module and means
 * the same there and here; the last group is the SDK's own.
 */
export const ErrorCode = Object.freeze({
  /** An option is missing or malformed. */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** The server rejected the client API key. */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** The client API key is valid but may not do this. */
  FORBIDDEN: 'FORBIDDEN',
  /** There is no wallet (on this device, or on the server). */
  NO_WALLET: 'NO_WALLET',
  /** A wallet already exists, so another cannot be created. */
  WALLET_EXISTS: 'WALLET_EXISTS',
  /** The backup password or key does not open the backup. */
  WRONG_PASSWORD: 'WRONG_PASSWORD',
  /** The wallet has no confirmed backup for the requested method. */
  NOT_BACKED_UP: 'NOT_BACKED_UP',
  /** The backup drill found that a method's backup no longer recovers the wallet: its custodian share or its pair is damaged. */
  BACKUP_BROKEN: 'BACKUP_BROKEN',
  /** The organization has not authorised eject for this wallet. */
  EJECT_NOT_AUTHORIZED: 'EJECT_NOT_AUTHORIZED',
  /** The server, the device module or the worker script could not be reached. */
  NETWORK: 'NETWORK',
  /** The MPC protocol aborted: a check on the peer's messages failed. */
  PROTOCOL_ABORT: 'PROTOCOL_ABORT',
  /** The server failed or answered something the SDK cannot use. */
  SERVER_ERROR: 'SERVER_ERROR',
  /** Another change of this wallet is running, or the client has too many sessions open: retry later. */
  BUSY: 'BUSY',
  /** Too many backups, refreshes or recoveries of this wallet, or too many aborted sessions of this client: retry at the time the message gives. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** A session frame did not decode: a bug or a tampered connection. */
  BAD_FRAME: 'BAD_FRAME',
  /** This device's share is not of the pair the server holds for it (a generation the server has retired): it no longer signs. */
  STALE_DEVICE: 'STALE_DEVICE',
  /** This device was removed from the wallet (removeDevice), or retired by a recovery: its share no longer signs; addDevice or recoverWallet brings the wallet back. */
  DEVICE_REMOVED: 'DEVICE_REMOVED',
  /** Adding a device with a code failed: the code did not match, no device was waiting, the request expired or was replaced, or the new device did not answer. Nothing was added; start again with a new code. */
  APPROVAL_FAILED: 'APPROVAL_FAILED',
  /** A broken invariant, a crashed worker or an exited device module. */
  INTERNAL: 'INTERNAL',
  /** The browser lacks Web Workers, IndexedDB or WebCrypto (which needs a secure context). */
  UNSUPPORTED: 'UNSUPPORTED',
  /** The page's or the worker's Content-Security-Policy refused the device worker or WebAssembly: it needs worker-src 'self' and script-src 'self' 'wasm-unsafe-eval'. */
  CSP_BLOCKED: 'CSP_BLOCKED',
  /** The Duet instance was closed. */
  CLOSED: 'CLOSED',
  /** The user (or the app's approval hook) did not approve the request. */
  REJECTED: 'REJECTED',
});

const knownCodes = new Set(Object.values(ErrorCode));

/** Reports whether code is one of ErrorCode. */
export function isErrorCode(code) {
  return typeof code === 'string' && knownCodes.has(code);
}

/** An Error with a stable `code` from ErrorCode. */
export class DuetError extends Error {
  /**
   * @param {string} code one of ErrorCode
   * @param {string} message a human-readable explanation, prefixed "duet: "
   * @param {{cause?: unknown}} [options]
   */
  constructor(code, message, options) {
    super(humanMessage(message), options);
    this.name = 'DuetError';
    this.code = isErrorCode(code) ? code : ErrorCode.INTERNAL;
  }
}

/**
 * Returns err as a DuetError. An Error that already carries a known code
 * keeps it (and its message); anything else becomes fallbackCode, so that no
 * failure reaches the caller without a code.
 */
export function toDuetError(err, fallbackCode = ErrorCode.INTERNAL) {
  if (err instanceof DuetError) {
    return err;
  }
  if (err !== null && typeof err === 'object') {
    const code = isErrorCode(err.code) ? err.code : fallbackCode;
    const message = typeof err.message === 'string' && err.message !== '' ? err.message : String(err);
    return new DuetError(code, prefixed(message), { cause: err });
  }
  return new DuetError(fallbackCode, prefixed(String(err)), { cause: err });
}

// The Go packages and libraries whose names prefix the device module's
// errors ("bridge: cannot reach the server: websocket: …"): names for the
// people who wrote them, not for the people who read them.
const internalPrefix = /(^|: |\()(?:bridge|mpc|wire|codec|party|store|seal|custodian|apikey|httpjson|ethhash|paillier|zk|websocket|failed to WebSocket dial): /g;

/**
 * Returns message without internal package prefixes, led by one "duet: ".
 */
export function humanMessage(message) {
  let m = String(message);
  for (let prev = null; prev !== m; ) {
    prev = m;
    m = m.replace(internalPrefix, '$1');
  }
  m = m.replace(/^(?:duet: )+/, '');
  return 'duet: ' + m;
}

function prefixed(message) {
  return humanMessage(message);
}

/**
 * Returns a plain object that survives postMessage's structured clone, which
 * keeps an Error's message but drops its `code`.
 */
export function serializeError(err) {
  const e = toDuetError(err);
  return { code: e.code, message: e.message };
}

/** Rebuilds an error serialized by serializeError (or by the worker). */
export function deserializeError(obj) {
  if (obj === null || typeof obj !== 'object') {
    return new DuetError(ErrorCode.INTERNAL, 'duet: worker sent a malformed error');
  }
  const code = isErrorCode(obj.code) ? obj.code : ErrorCode.INTERNAL;
  const message = typeof obj.message === 'string' && obj.message !== '' ? obj.message : 'duet: unknown error';
  return new DuetError(code, prefixed(message));
}

// Codes of the server's JSON error envelope {"error": {"code", "message"}}.
// A plain not_found means a route the server does not have, which is a
// server problem, not an answer about the wallet.
const serverCodes = {
  bad_request: ErrorCode.INVALID_ARGUMENT,
  too_large: ErrorCode.INVALID_ARGUMENT,
  unsupported_media_type: ErrorCode.INVALID_ARGUMENT,
  unauthorized: ErrorCode.UNAUTHORIZED,
  forbidden: ErrorCode.FORBIDDEN,
  no_wallet: ErrorCode.NO_WALLET,
  eject_not_authorized: ErrorCode.EJECT_NOT_AUTHORIZED,
};

/**
 * Maps a failed HTTP response of the Duet server to a DuetError.
 *
 * @param {number} status the HTTP status
 * @param {unknown} body the parsed JSON body, or undefined if it was not JSON
 */
export function errorFromResponse(status, body) {
  const env = body !== null && typeof body === 'object' ? body.error : undefined;
  const serverCode = env && typeof env.code === 'string' ? env.code : '';
  const serverMessage = env && typeof env.message === 'string' ? env.message : '';
  const detail = serverMessage !== '' ? `: ${serverMessage}` : '';
  if (serverCode === 'token_expired') {
    return new DuetError(ErrorCode.UNAUTHORIZED, 'duet: the session token has expired');
  }
  let code;
  if (Object.hasOwn(serverCodes, serverCode)) {
    code = serverCodes[serverCode];
  } else if (status === 401) {
    code = ErrorCode.UNAUTHORIZED;
  } else if (status === 403) {
    code = ErrorCode.FORBIDDEN;
  } else if (status === 400 || status === 413 || status === 415) {
    code = ErrorCode.INVALID_ARGUMENT;
  } else {
    code = ErrorCode.SERVER_ERROR;
  }
  if (code === ErrorCode.UNAUTHORIZED) {
    return new DuetError(code, 'duet: the Duet server refused the API key: it is wrong, revoked or of another server');
  }
  return new DuetError(code, humanMessage(`the server answered ${status}${detail}`));
}
