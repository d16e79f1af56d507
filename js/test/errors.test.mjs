import test from 'node:test';
import assert from 'node:assert/strict';
import {
  DuetError, ErrorCode, deserializeError, errorFromResponse, humanMessage, isErrorCode, serializeError, toDuetError,
} from '../errors.js';

test('messages lose the Go packages\' prefixes and keep one duet:', () => {
  assert.equal(humanMessage('duet: bridge: cannot reach the server: websocket: dial failed'), 'duet: cannot reach the server: dial failed');
  assert.equal(humanMessage('mpc: refresh: round 2: wire: bad frame'), 'duet: refresh: round 2: bad frame');
  assert.equal(humanMessage('the password is wrong'), 'duet: the password is wrong');
  assert.equal(new DuetError(ErrorCode.INTERNAL, 'duet: duet: store: x').message, 'duet: x');
  assert.equal(deserializeError({ code: 'NO_WALLET', message: 'bridge: no wallet on this device' }).message, 'duet: no wallet on this device');
});

test('toDuetError keeps a DuetError as it is', () => {
  const e = new DuetError(ErrorCode.WRONG_PASSWORD, 'duet: wrong password');
  assert.equal(toDuetError(e), e);
});

test('toDuetError keeps the known code of a plain Error', () => {
  const e = Object.assign(new Error('backup not found'), { code: 'NOT_BACKED_UP' });
  const d = toDuetError(e);
  assert.ok(d instanceof DuetError);
  assert.equal(d.code, ErrorCode.NOT_BACKED_UP);
  assert.equal(d.message, 'duet: backup not found');
  assert.equal(d.cause, e);
});

test('a RATE_LIMITED session error keeps its code and its retry time', () => {
  const msg = 'RATE_LIMITED: too many failed sessions for this client: try again after 2026-12-01T15:15:00Z (in 15m0s)';
  const d = toDuetError(Object.assign(new Error(msg), { code: 'RATE_LIMITED' }));
  assert.equal(d.code, ErrorCode.RATE_LIMITED);
  assert.match(d.message, /try again after 2026-12-01T15:15:00Z/);
});

test('toDuetError gives unknown codes and non-errors the fallback code', () => {
  assert.equal(toDuetError(Object.assign(new Error('x'), { code: 'EWHATEVER' })).code, ErrorCode.INTERNAL);
  assert.equal(toDuetError(new TypeError('x'), ErrorCode.NETWORK).code, ErrorCode.NETWORK);
  const s = toDuetError('plain string');
  assert.equal(s.code, ErrorCode.INTERNAL);
  assert.equal(s.message, 'duet: plain string');
});

test('an error keeps its code across structured clone once serialized', () => {
  const e = new DuetError(ErrorCode.EJECT_NOT_AUTHORIZED, 'duet: eject not authorized');
  // Structured clone of the Error itself drops the code; that is why the
  // SDK serializes.
  assert.equal(structuredClone(e).code, undefined);
  const back = deserializeError(structuredClone(serializeError(e)));
  assert.ok(back instanceof DuetError);
  assert.equal(back.code, ErrorCode.EJECT_NOT_AUTHORIZED);
  assert.equal(back.message, 'duet: eject not authorized');
});

test('deserializeError turns malformed input into INTERNAL', () => {
  for (const v of [null, undefined, 42, 'x', { code: 'NOPE', message: 'm' }]) {
    assert.equal(deserializeError(v).code, ErrorCode.INTERNAL);
  }
  assert.equal(deserializeError({ code: 'NETWORK' }).message, 'duet: unknown error');
});

test('isErrorCode knows exactly the listed codes', () => {
  for (const c of Object.values(ErrorCode)) {
    assert.ok(isErrorCode(c), c);
  }
  assert.ok(!isErrorCode('internal'));
  assert.ok(!isErrorCode(undefined));
});

test('errorFromResponse maps statuses and server codes', () => {
  const env = (code, message) => ({ error: { code, message } });
  const cases = [
    [401, env('unauthorized', 'bad key'), ErrorCode.UNAUTHORIZED],
    [403, env('forbidden', 'no'), ErrorCode.FORBIDDEN],
    [400, env('bad_request', 'bad'), ErrorCode.INVALID_ARGUMENT],
    [413, env('too_large', 'big'), ErrorCode.INVALID_ARGUMENT],
    [500, env('internal', 'oops'), ErrorCode.SERVER_ERROR],
    [503, undefined, ErrorCode.SERVER_ERROR],
    [401, undefined, ErrorCode.UNAUTHORIZED],
    [404, env('no_wallet', 'no wallet w-1'), ErrorCode.NO_WALLET],
    [404, env('not_found', 'no such route'), ErrorCode.SERVER_ERROR],
    [404, undefined, ErrorCode.SERVER_ERROR],
    [403, env('eject_not_authorized', 'not yet'), ErrorCode.EJECT_NOT_AUTHORIZED],
    [502, env('custodian_unavailable', 'down'), ErrorCode.SERVER_ERROR],
    [400, env('constructor', 'x'), ErrorCode.INVALID_ARGUMENT],
  ];
  for (const [status, body, want] of cases) {
    const e = errorFromResponse(status, body);
    assert.ok(e instanceof DuetError);
    assert.equal(e.code, want, `${status} ${JSON.stringify(body)}`);
  }
  assert.match(errorFromResponse(401, env('unauthorized', 'invalid API key')).message, /refused the API key/);
  assert.match(errorFromResponse(500, env('internal', 'internal error')).message, /500: internal error$/);
  const expired = errorFromResponse(401, env('token_expired', 'the session token has expired'));
  assert.equal(expired.code, ErrorCode.UNAUTHORIZED);
  assert.match(expired.message, /session token has expired/);
});
