import test from 'node:test';
import assert from 'node:assert/strict';
import { WorkerChannel } from '../rpc.js';
import { DuetError, ErrorCode } from '../errors.js';

// FakeWorker stands in for a Worker: it records what the page posts and lets
// the test play the worker's side.
class FakeWorker {
  listeners = { message: [], error: [], messageerror: [] };
  posted = [];
  terminated = false;
  throwOnPost = null;

  addEventListener(type, fn) {
    this.listeners[type].push(fn);
  }

  postMessage(msg) {
    if (this.throwOnPost) {
      throw this.throwOnPost;
    }
    this.posted.push(structuredClone(msg));
  }

  terminate() {
    this.terminated = true;
  }

  send(data) {
    for (const fn of this.listeners.message) {
      fn({ data: structuredClone(data) });
    }
  }

  crash(message) {
    const ev = { message, defaultPrevented: false, preventDefault() { this.defaultPrevented = true; } };
    for (const fn of this.listeners.error) {
      fn(ev);
    }
    return ev;
  }

  lastCall() {
    return this.posted.at(-1);
  }
}

function setup() {
  const worker = new FakeWorker();
  const fatal = [];
  const channel = new WorkerChannel(worker, { onFatal: (e) => fatal.push(e) });
  return { worker, channel, fatal };
}

test('a call posts its method and resolves with the result', async () => {
  const { worker, channel } = setup();
  const p = channel.call('keygen', { a: 1 });
  const msg = worker.lastCall();
  assert.equal(msg.type, 'call');
  assert.equal(msg.method, 'keygen');
  assert.deepEqual(msg.params, { a: 1 });
  worker.send({ type: 'result', id: msg.id, value: { address: '0xabc' } });
  assert.deepEqual(await p, { address: '0xabc' });
  assert.equal(channel.pendingCount, 0);
});

test('answers are matched to calls by id, in any order', async () => {
  const { worker, channel } = setup();
  const p1 = channel.call('one');
  const id1 = worker.lastCall().id;
  const p2 = channel.call('two');
  const id2 = worker.lastCall().id;
  assert.notEqual(id1, id2);
  worker.send({ type: 'result', id: id2, value: 2 });
  worker.send({ type: 'result', id: id1, value: 1 });
  assert.equal(await p1, 1);
  assert.equal(await p2, 2);
});

test('an error answer rejects with a DuetError of the same code', async () => {
  const { worker, channel } = setup();
  const p = channel.call('recover');
  worker.send({ type: 'error', id: worker.lastCall().id, error: { code: 'WRONG_PASSWORD', message: 'duet: wrong password' } });
  await assert.rejects(p, (e) => e instanceof DuetError && e.code === ErrorCode.WRONG_PASSWORD && e.message === 'duet: wrong password');
  assert.equal(channel.closed, false);
});

test('progress goes to the call it belongs to', async () => {
  const { worker, channel } = setup();
  const got1 = [];
  const got2 = [];
  const p1 = channel.call('keygen', {}, { onProgress: (e) => got1.push(e) });
  const id1 = worker.lastCall().id;
  const p2 = channel.call('sign', {}, { onProgress: (e) => got2.push(e) });
  const id2 = worker.lastCall().id;
  worker.send({ type: 'progress', id: id1, event: { phase: 'keygen', round: 1 } });
  worker.send({ type: 'progress', id: id2, event: { phase: 'sign', round: 1 } });
  worker.send({ type: 'progress', id: id1, event: { phase: 'keygen', round: 2 } });
  worker.send({ type: 'result', id: id1, value: null });
  worker.send({ type: 'result', id: id2, value: null });
  await Promise.all([p1, p2]);
  assert.deepEqual(got1, [{ phase: 'keygen', round: 1 }, { phase: 'keygen', round: 2 }]);
  assert.deepEqual(got2, [{ phase: 'sign', round: 1 }]);
});

test('a code goes to its call\'s onCode, never to its progress', async () => {
  const { worker, channel } = setup();
  const codes = [];
  const events = [];
  const p1 = channel.call('requestApproval', {}, { onProgress: (e) => events.push(e), onCode: (c) => codes.push(c) });
  const id1 = worker.lastCall().id;
  const p2 = channel.call('listDevices', {}, { onProgress: (e) => events.push(e) });
  const id2 = worker.lastCall().id;
  worker.send({ type: 'code', id: id2, code: '11112222' });
  worker.send({ type: 'code', id: id1, code: 42 });
  worker.send({ type: 'progress', id: id1, event: { phase: 'awaiting-approval' } });
  worker.send({ type: 'code', id: id1, code: '12345678' });
  worker.send({ type: 'result', id: id1, value: null });
  worker.send({ type: 'code', id: id1, code: '87654321' });
  worker.send({ type: 'result', id: id2, value: null });
  await Promise.all([p1, p2]);
  assert.deepEqual(codes, ['12345678']);
  assert.deepEqual(events, [{ phase: 'awaiting-approval' }]);
});

test('a throwing progress listener is reported and the call still settles', async () => {
  const { worker, channel } = setup();
  const reported = [];
  const saved = globalThis.reportError;
  globalThis.reportError = (e) => reported.push(e);
  try {
    const p = channel.call('keygen', {}, { onProgress: () => { throw new Error('listener bug'); } });
    const id = worker.lastCall().id;
    worker.send({ type: 'progress', id, event: { phase: 'keygen' } });
    worker.send({ type: 'result', id, value: 'done' });
    assert.equal(await p, 'done');
    assert.equal(reported.length, 1);
    assert.equal(reported[0].message, 'listener bug');
  } finally {
    globalThis.reportError = saved;
  }
});

test('a worker that fails before its first message rejects every call with NETWORK', async () => {
  const { worker, channel, fatal } = setup();
  const p1 = channel.call('init');
  const p2 = channel.call('deviceState');
  const ev = worker.crash('404');
  await assert.rejects(p1, { code: ErrorCode.NETWORK });
  await assert.rejects(p2, { code: ErrorCode.NETWORK });
  assert.ok(ev.defaultPrevented);
  assert.ok(worker.terminated);
  assert.equal(fatal.length, 1);
  await assert.rejects(channel.call('deviceState'), { code: ErrorCode.NETWORK });
});

test('a worker that crashes after starting rejects every call with INTERNAL, once', async () => {
  const { worker, channel, fatal } = setup();
  worker.send({ type: 'hello' });
  const p = channel.call('sign');
  worker.crash('boom');
  worker.crash('again');
  await assert.rejects(p, (e) => e.code === ErrorCode.INTERNAL && /crashed: boom/.test(e.message));
  assert.equal(fatal.length, 1);
  assert.equal(channel.closed, true);
});

test('an exited device module fails the channel with the code it sends', async () => {
  const { worker, channel, fatal } = setup();
  worker.send({ type: 'hello' });
  const p = channel.call('refresh');
  worker.send({ type: 'fatal', error: { code: 'INTERNAL', message: 'duet: device module exited with code 2' } });
  await assert.rejects(p, { code: ErrorCode.INTERNAL, message: 'duet: device module exited with code 2' });
  assert.equal(fatal.length, 1);
  assert.ok(worker.terminated);
  // An answer that arrives after the failure changes nothing.
  worker.send({ type: 'result', id: 1, value: 'late' });
  await assert.rejects(channel.call('deviceState'), { code: ErrorCode.INTERNAL });
});

test('a messageerror fails the channel', async () => {
  const { worker, channel } = setup();
  const p = channel.call('sign');
  for (const fn of worker.listeners.messageerror) {
    fn({});
  }
  await assert.rejects(p, { code: ErrorCode.INTERNAL });
});

test('a call that outlives its timeout fails the channel with the timeout code', async () => {
  const { worker, channel, fatal } = setup();
  const other = channel.call('deviceState');
  const p = channel.call('init', {}, { timeoutMs: 20, timeoutCode: ErrorCode.NETWORK });
  await assert.rejects(p, (e) => e.code === ErrorCode.NETWORK && /init within 20 ms/.test(e.message));
  await assert.rejects(other, { code: ErrorCode.NETWORK });
  assert.ok(worker.terminated);
  assert.equal(fatal.length, 1);
});

test('an answer in time clears the timeout', async () => {
  const { worker, channel } = setup();
  const p = channel.call('init', {}, { timeoutMs: 30 });
  worker.send({ type: 'result', id: worker.lastCall().id, value: {} });
  await p;
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(channel.closed, false);
  assert.equal(worker.terminated, false);
});

test('close rejects waiting calls with CLOSED and is not a fatal failure', async () => {
  const { worker, channel, fatal } = setup();
  const p = channel.call('keygen');
  channel.close();
  await assert.rejects(p, { code: ErrorCode.CLOSED });
  await assert.rejects(channel.call('keygen'), { code: ErrorCode.CLOSED });
  assert.ok(worker.terminated);
  assert.equal(fatal.length, 0);
});

test('arguments that cannot be cloned reject that call only', async () => {
  const { worker, channel } = setup();
  worker.throwOnPost = new Error('could not be cloned');
  await assert.rejects(channel.call('sign', { f() {} }), { code: ErrorCode.INVALID_ARGUMENT });
  assert.equal(channel.pendingCount, 0);
  worker.throwOnPost = null;
  const p = channel.call('deviceState');
  worker.send({ type: 'result', id: worker.lastCall().id, value: 1 });
  assert.equal(await p, 1);
});
