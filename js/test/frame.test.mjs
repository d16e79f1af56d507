// The isolation frame's message schema (frame.js): what the app's page may
// send it. The frame itself runs in browser.test.mjs and the e2e tests.

import test from 'node:test';
import assert from 'node:assert/strict';
import { checkMessage, protocol } from '../frame.js';

const call = (method, params = {}, extra = {}) => ({ duet: protocol, type: 'call', id: 1, method, params, ...extra });

test('the frame accepts its own calls', () => {
  assert.deepEqual(checkMessage(call('deviceState')), { id: 1, method: 'deviceState', params: {} });
  assert.equal(checkMessage(call('authorize', { request: {} })).method, 'authorize');
  assert.equal(checkMessage(call('backup', { method: 'password', password: 'x' })).method, 'backup');
  assert.equal(checkMessage(call('addDevice', { method: 'custom', key: new Uint8Array(32) })).method, 'addDevice');
  assert.equal(checkMessage(call('listDevices')).method, 'listDevices');
  assert.equal(checkMessage(call('requestApproval')).method, 'requestApproval');
  assert.deepEqual(checkMessage(call('removeDevice', { id: 'ab12' })).params, { id: 'ab12' });
});

test('the frame refuses anything outside its schema', () => {
  const bad = [
    null, 'call', [], {},
    call('sign', { digest: new Uint8Array(32) }),
    call('signTransaction', { tx: {} }),
    call('hashPersonalMessage', { data: new Uint8Array(1) }),
    call('toString'),
    call('__proto__'),
    call('deviceState', { store: {} }),
    call('listDevices', { id: 'ab12' }),
    call('requestApproval', { onCode: 'x' }),
    call('requestApproval', { code: '12345678' }),
    call('approveDevice', { code: '12345678' }),
    call('removeDevice', { id: 'ab12', apiKey: 'k' }),
    call('addDevice', { method: 'password', password: 'x', url: 'https://evil.example' }),
    call('authorize', { request: {}, autoApprove: true }),
    call('init', { apiKey: 'k', url: 'https://evil.example' }),
    call('deviceState', {}, { extra: 1 }),
    { ...call('deviceState'), duet: 'duet-frame/2' },
    { ...call('deviceState'), type: 'result' },
    { ...call('deviceState'), id: 0 },
    { ...call('deviceState'), id: 1.5 },
    { ...call('deviceState'), params: null },
    { ...call('deviceState'), params: [] },
  ];
  for (const m of bad) {
    assert.throws(() => checkMessage(m), { code: 'INVALID_ARGUMENT' }, JSON.stringify(m));
  }
});
