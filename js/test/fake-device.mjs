// A device host over a fake device worker, for the provider's and the SDK's
// tests: the real approval point and request parsing (host.js, approval.js,
// request.js), with a worker that records what it is asked to hash and sign.

import { DeviceHost } from '../host.js';
import { approvalGate } from '../approval.js';

export const ADDRESS = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';
export const SIG = '0x' + 'ab'.repeat(64) + '1b';
export const RAW = '0x02f8deadbeef';
export const TXHASH = '0x' + 'cd'.repeat(32);
export const TYPED_DIGEST = '0x' + '07'.repeat(32);

/** The fake worker channel: calls[method] lists the params of each call. */
export function fakeChannel(address = ADDRESS) {
  const ch = {
    address,
    fail: null,
    messages: [],
    typed: [],
    digests: [],
    transactions: [],
    async call(method, params) {
      switch (method) {
        case 'deviceState':
          return ch.address ? { hasShare: true, address: ch.address, generation: 1 } : { hasShare: false };
        case 'hashPersonalMessage':
          ch.messages.push(params.data);
          return new Uint8Array(32).fill(9);
        case 'hashTypedData':
          ch.typed.push(params.data);
          return new Uint8Array(32).fill(7);
        case 'sign': {
          if (ch.fail) {
            throw ch.fail;
          }
          ch.digests.push(params.digest);
          const sig = new Uint8Array(65).fill(0xab);
          sig[64] = 0;
          return { signature: sig };
        }
        case 'signTransaction':
          if (ch.fail) {
            throw ch.fail;
          }
          ch.transactions.push(params.tx);
          return { raw: RAW, hash: TXHASH };
        default:
          throw new Error('fake device has no ' + method);
      }
    },
    close() {},
  };
  return ch;
}

/**
 * A signer for DuetProvider as Duet makes it: the device host with the
 * approval point. hook (if given) answers each request; without it
 * everything is approved. hookCalls lists the descriptions shown.
 */
export function fakeSigner({ address = ADDRESS, hook } = {}) {
  const channel = fakeChannel(address);
  const hookCalls = [];
  const approve = approvalGate(hook === undefined ? { autoApprove: true } : {
    onSignatureRequest: async (d) => {
      hookCalls.push(d);
      return hook(d);
    },
  });
  const host = new DeviceHost(channel, approve);
  const signer = {
    channel,
    hookCalls,
    control: null,
    get address() {
      return channel.address;
    },
    authorize: (req) => host.authorize(req),
    attach(c) {
      signer.control = c;
    },
  };
  return signer;
}
