// Approving a new device from this one (Duet.approveDevice): the code's
// form, and the host's one approval point in front of the device module's
// approveDevice. The dialogs and the sessions run in the e2e tests.

import test from 'node:test';
import assert from 'node:assert/strict';
import { DeviceHost, RequestKind } from '../host.js';
import { approvalCode, approvalGate, formatApprovalCode } from '../approval.js';
import { ErrorCode } from '../errors.js';

const ADDRESS = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';

// A device worker that records the codes it is asked to approve with.
function fakeChannel(state = { hasShare: true, address: ADDRESS, generation: 1 }) {
  const ch = {
    approved: [],
    async call(method, params) {
      if (method === 'deviceState') {
        return state;
      }
      if (method === 'approveDevice') {
        ch.approved.push(params.code);
        return {};
      }
      throw new Error('fake device has no ' + method);
    },
  };
  return ch;
}

test('a code is 8 digits, typed with or without a space or dash', () => {
  for (const c of ['12345678', '1234 5678', '1234-5678', ' 1234 5678 ', '12-34 56-78']) {
    assert.equal(approvalCode(c), '12345678', c);
    assert.equal(formatApprovalCode(c), '1234 5678', c);
  }
  for (const c of ['', '1234567', '123456789', '1234 567a', '1234_5678', '１２３４５６７８', 12345678, null, undefined, ['12345678']]) {
    assert.throws(() => approvalCode(c), { code: ErrorCode.INVALID_ARGUMENT }, String(c));
  }
});

test('approving a device goes through the hook, which sees the code, and then to the device module', async () => {
  const seen = [];
  let answer = false;
  const ch = fakeChannel();
  const host = new DeviceHost(ch, approvalGate({ onSignatureRequest: (r) => { seen.push(r); return answer; } }));
  const request = { kind: RequestKind.APPROVE_DEVICE, method: 'approveDevice', code: '1234-5678' };
  await assert.rejects(host.authorize(request), { code: ErrorCode.REJECTED });
  assert.deepEqual(ch.approved, [], 'a rejected approval reached the device module');
  answer = true;
  assert.equal(await host.authorize(request), null);
  assert.deepEqual(ch.approved, ['12345678']);
  assert.equal(seen.length, 2);
  assert.equal(seen[1].kind, 'approve-device');
  assert.equal(seen[1].code, '1234 5678');
  assert.equal(seen[1].address, ADDRESS);
  assert.ok(Object.isFrozen(seen[1]));
});

test('a malformed code is refused before the hook is asked', async () => {
  const seen = [];
  const ch = fakeChannel();
  const host = new DeviceHost(ch, approvalGate({ onSignatureRequest: (r) => seen.push(r) > 0 }));
  await assert.rejects(host.authorize({ kind: RequestKind.APPROVE_DEVICE, method: 'approveDevice', code: '1234' }), { code: ErrorCode.INVALID_ARGUMENT });
  assert.equal(seen.length, 0);
  assert.deepEqual(ch.approved, []);
});

test('without a code only the SDK\'s dialog can approve: a hook or autoApprove cannot', async () => {
  for (const gate of [approvalGate({ onSignatureRequest: () => true }), approvalGate({ autoApprove: true })]) {
    const ch = fakeChannel();
    const host = new DeviceHost(ch, gate);
    await assert.rejects(host.authorize({ kind: RequestKind.APPROVE_DEVICE, method: 'approveDevice' }), { code: ErrorCode.REJECTED });
    assert.deepEqual(ch.approved, []);
  }
});

test('a removed or stale device approves nothing and is told why', async () => {
  const cases = [
    [{ hasShare: true, stale: true, removed: true, address: ADDRESS }, ErrorCode.DEVICE_REMOVED],
    [{ hasShare: true, stale: true, removed: false, address: ADDRESS }, ErrorCode.STALE_DEVICE],
    [{ hasShare: false }, ErrorCode.NO_WALLET],
  ];
  for (const [state, code] of cases) {
    const seen = [];
    const ch = fakeChannel(state);
    const host = new DeviceHost(ch, approvalGate({ onSignatureRequest: (r) => seen.push(r) > 0 }));
    await assert.rejects(host.authorize({ kind: RequestKind.APPROVE_DEVICE, method: 'approveDevice', code: '12345678' }), { code }, JSON.stringify(state));
    assert.equal(seen.length, 0);
    assert.deepEqual(ch.approved, []);
  }
});

test('a removed device refuses to sign with DEVICE_REMOVED, not STALE_DEVICE', async () => {
  const ch = fakeChannel({ hasShare: true, stale: true, removed: true, address: ADDRESS });
  const host = new DeviceHost(ch, approvalGate({ autoApprove: true }));
  await assert.rejects(host.authorize({ kind: RequestKind.DIGEST, method: 'signDigest', digest: '0x' + '11'.repeat(32) }), { code: ErrorCode.DEVICE_REMOVED });
});
