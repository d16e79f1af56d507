// The credential the SDK presents to the Duet server: a long-lived client
// API key, or client session tokens that the app's backend mints (POST
// /v1/clients/{id}/session-tokens with its organization key) and that the
// SDK renews through the app's getSessionToken when they expire.

import { DuetError, ErrorCode } from './errors.js';

const clientKeyPattern = /^duet_cli_([0-9a-f]{32})_[A-Za-z0-9_-]+$/;
const sessionTokenPattern = /^duet_cst_([0-9a-f]{32})_([1-9][0-9]{0,11})_[A-Za-z0-9_-]{43}$/;

/** How long before its expiry a session token is renewed, in milliseconds. */
export const SESSION_TOKEN_MARGIN_MS = 5000;

/**
 * Returns the client id inside a Duet client API key or client session
 * token, or null for another string.
 */
export function clientIdOf(key) {
  if (typeof key !== 'string') {
    return null;
  }
  const m = clientKeyPattern.exec(key) ?? sessionTokenPattern.exec(key);
  return m ? m[1] : null;
}

/** Returns when a client session token expires (ms since 1970), or null. */
export function sessionTokenExpiry(token) {
  const m = typeof token === 'string' ? sessionTokenPattern.exec(token) : null;
  return m ? Number(m[2]) * 1000 : null;
}

function unauthorized(message, cause) {
  return new DuetError(ErrorCode.UNAUTHORIZED, 'duet: ' + message, cause === undefined ? undefined : { cause });
}

/** Reports whether err is the server refusing the credential. */
export function isUnauthorized(err) {
  return err?.code === ErrorCode.UNAUTHORIZED;
}

/**
 * The key or token of one client. current is what to send now; fresh()
 * renews a session token that has expired or is about to; renew() gets a
 * new one whatever the expiry, after the server refused the current one.
 */
export class Credential {
  #key = null;
  #client = null;
  #getToken = null;
  #renewing = null;

  /**
   * @param {{apiKey?: string, getSessionToken?: () => Promise<string>}} options
   */
  constructor({ apiKey, getSessionToken }) {
    if ((apiKey === undefined) === (getSessionToken === undefined)) {
      throw new DuetError(ErrorCode.INVALID_ARGUMENT, 'duet: connect wants either apiKey (a client API key) or getSessionToken (a function returning a client session token)');
    }
    if (getSessionToken !== undefined) {
      if (typeof getSessionToken !== 'function') {
        throw new DuetError(ErrorCode.INVALID_ARGUMENT, 'duet: getSessionToken must be a function returning a promise of a client session token');
      }
      this.#getToken = getSessionToken;
      return;
    }
    if (typeof apiKey !== 'string' || apiKey === '') {
      throw new DuetError(ErrorCode.INVALID_ARGUMENT, 'duet: connect wants apiKey, the client API key');
    }
    const client = clientIdOf(apiKey);
    if (client === null) {
      throw unauthorized('this is not a Duet client API key (it should start with duet_cli_): check the key your backend gave this app');
    }
    this.#key = apiKey;
    this.#client = client;
  }

  /** Reports whether the credential is a session token that can be renewed. */
  get renewable() {
    return this.#getToken !== null;
  }

  /** The key or token to present now (null before the first token). */
  get current() {
    return this.#key;
  }

  /** The client the credential belongs to. */
  get client() {
    return this.#client;
  }

  /** Returns the key or token to present, renewing a token near its expiry. */
  async fresh() {
    if (this.#getToken === null) {
      return this.#key;
    }
    const exp = sessionTokenExpiry(this.#key);
    if (this.#key !== null && (exp === null || exp - SESSION_TOKEN_MARGIN_MS > Date.now())) {
      return this.#key;
    }
    return this.renew();
  }

  /** Gets a new session token from the app; concurrent calls share one. */
  renew() {
    if (this.#getToken === null) {
      return Promise.resolve(this.#key);
    }
    if (this.#renewing === null) {
      this.#renewing = this.#fetchToken().finally(() => {
        this.#renewing = null;
      });
    }
    return this.#renewing;
  }

  async #fetchToken() {
    let token;
    try {
      token = await this.#getToken();
    } catch (err) {
      throw unauthorized(`getSessionToken failed: ${err?.message ?? err}`, err);
    }
    const client = clientIdOf(token);
    if (client === null) {
      throw unauthorized('getSessionToken returned something other than a Duet client session token (duet_cst_…) or client API key');
    }
    if (this.#client !== null && client !== this.#client) {
      throw unauthorized('getSessionToken returned a token of another client than this wallet\'s');
    }
    this.#client = client;
    this.#key = token;
    return token;
  }
}
