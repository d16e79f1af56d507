// The approval point: every request that ends in a signature, and every
// chain the provider is asked to add or switch to outside the app's
// rpcConfig, is shown here before anything is signed or used.
//
// Who approves is chosen once, when the Duet is made:
//   - hooks.onSignatureRequest, if the app gives one: only `true` approves;
//   - else, unless autoApprove is true, the SDK's own confirmation dialog;
//   - autoApprove: true approves everything without asking (for apps that
//     approve in their own back end, and for tests).
// Requests are shown one at a time, in the order they were made.

import { DuetError, ErrorCode } from './errors.js';

function rejected(detail) {
  return new DuetError(ErrorCode.REJECTED, 'duet: the request was rejected' + (detail ? ': ' + detail : ''));
}

/**
 * Checks the approval options of Duet.connect and returns them as
 * {onSignatureRequest, autoApprove}. Throws INVALID_ARGUMENT for a malformed
 * one.
 */
export function checkApprovalOptions({ hooks, autoApprove } = {}) {
  if (hooks !== undefined && (hooks === null || typeof hooks !== 'object')) {
    throw new DuetError(ErrorCode.INVALID_ARGUMENT, 'duet: hooks must be an object');
  }
  const hook = hooks?.onSignatureRequest;
  if (hook !== undefined && typeof hook !== 'function') {
    throw new DuetError(ErrorCode.INVALID_ARGUMENT, 'duet: hooks.onSignatureRequest must be a function');
  }
  if (autoApprove !== undefined && typeof autoApprove !== 'boolean') {
    throw new DuetError(ErrorCode.INVALID_ARGUMENT, 'duet: autoApprove must be true or false');
  }
  if (hook !== undefined && autoApprove === true) {
    throw new DuetError(ErrorCode.INVALID_ARGUMENT, 'duet: give hooks.onSignatureRequest or autoApprove: true, not both');
  }
  return { onSignatureRequest: hook, autoApprove: autoApprove === true };
}

/**
 * Returns the approval function: (description) → Promise that resolves when
 * the request is approved and rejects with REJECTED otherwise. A hook that
 * throws or answers anything but true rejects, so a broken hook fails
 * closed.
 *
 * @param {{onSignatureRequest?: Function, autoApprove?: boolean, document?: Document}} options
 */
export function approvalGate({ onSignatureRequest, autoApprove = false, document = globalThis.document } = {}) {
  let queue = Promise.resolve();
  const ask = async (description) => {
    if (onSignatureRequest !== undefined) {
      let answer;
      try {
        answer = await onSignatureRequest(description);
      } catch (err) {
        throw rejected(err?.message ?? String(err));
      }
      if (answer !== true) {
        throw rejected();
      }
      return;
    }
    if (autoApprove) {
      return;
    }
    if (!document || typeof document.createElement !== 'function') {
      throw rejected('there is no approval hook and no page to show a confirmation on; ' +
        'give hooks.onSignatureRequest, or autoApprove: true');
    }
    if (!(await confirmDialog(document, description))) {
      throw rejected();
    }
  };
  return (description) => {
    const result = queue.then(() => ask(description));
    queue = result.catch(() => {});
    return result;
  };
}

// ---- The SDK's confirmation dialog ----

const titles = {
  message: 'Sign a message',
  typedData: 'Sign typed data',
  transaction: 'Sign a transaction',
  digest: 'Sign a raw digest',
  addChain: 'Add a network',
  switchChain: 'Switch network',
};

const sendTitle = 'Send a transaction';

const styleId = 'duet-approval-style';

// Low specificity (:where), so that any rule of the app's wins.
const css = `
:where(dialog.duet-approval) { max-width: min(36rem, 92vw); border: 1px solid #8894a0; border-radius: 10px;
  padding: 1.25rem; font: 14px/1.45 system-ui, sans-serif; color: #10202e; background: #fff; }
:where(dialog.duet-approval)::backdrop { background: rgb(16 32 46 / 0.45); }
:where(.duet-approval h2) { margin: 0 0 .75rem; font-size: 1.15rem; }
:where(.duet-approval dl) { display: grid; grid-template-columns: max-content 1fr; gap: .3rem .9rem; margin: 0 0 1rem; }
:where(.duet-approval dt) { font-weight: 600; }
:where(.duet-approval dd) { margin: 0; overflow-wrap: anywhere; font-family: ui-monospace, monospace; }
:where(.duet-approval pre) { max-height: 16rem; overflow: auto; background: #f1f4f7; padding: .6rem; border-radius: 6px;
  white-space: pre-wrap; overflow-wrap: anywhere; }
:where(.duet-approval .duet-approval-warning) { color: #8a1c1c; font-weight: 600; }
:where(.duet-approval .duet-approval-actions) { display: flex; gap: .6rem; justify-content: flex-end; }
:where(.duet-approval button) { font: inherit; padding: .45rem 1rem; border-radius: 6px; border: 1px solid #8894a0; cursor: pointer; }
:where(.duet-approval button.duet-approval-approve) { background: #1f3b57; color: #fff; border-color: #1f3b57; }
`;

/** The rows the dialog shows for a description: [label, value] pairs and an optional block. */
export function describeForDisplay(d) {
  const rows = [];
  let block = null;
  let warning = null;
  if (d.chainId) {
    rows.push(['Network', d.chainId]);
  }
  if (d.address) {
    rows.push(['Account', d.address]);
  }
  switch (d.kind) {
    case 'message':
      if (d.text !== null) {
        block = d.text;
      } else {
        rows.push(['Data', d.message]);
      }
      break;
    case 'typedData':
      rows.push(['Type', d.typedData.primaryType]);
      for (const [k, v] of Object.entries(d.typedData.domain)) {
        rows.push(['Domain ' + k, String(v)]);
      }
      block = JSON.stringify(d.typedData.message, null, 2);
      break;
    case 'transaction': {
      const t = d.transaction;
      rows.push(['To', t.to ?? '(creates a contract)']);
      rows.push(['Value (wei)', BigInt(t.value).toString()]);
      rows.push(['Nonce', BigInt(t.nonce).toString()]);
      rows.push(['Gas', BigInt(t.gas).toString()]);
      for (const k of ['gasPrice', 'maxFeePerGas', 'maxPriorityFeePerGas']) {
        if (t[k] !== undefined) {
          rows.push([k + ' (wei)', BigInt(t[k]).toString()]);
        }
      }
      if (t.data !== '0x') {
        block = t.data;
      }
      break;
    }
    case 'digest':
      rows.push(['Digest', d.digest]);
      warning = 'A raw digest can be anything, including a transaction. Approve only if you know what it is.';
      break;
    case 'addChain':
    case 'switchChain':
      if (d.rpcUrl) {
        rows.push(['RPC', d.rpcUrl]);
      }
      if (d.chainName) {
        rows.push(['Name', d.chainName]);
      }
      break;
  }
  return { rows, block, warning };
}

let dialogCount = 0;

/**
 * Shows the confirmation dialog for description in document and resolves
 * with true if the user approves. Any script of the document's origin can
 * click it, as it can do anything else there: the dialog keeps the user
 * informed, the isolation mode keeps such scripts away from it.
 */
export function confirmDialog(document, description) {
  if (!document.getElementById(styleId)) {
    const style = document.createElement('style');
    style.id = styleId;
    style.textContent = css;
    (document.head ?? document.documentElement).append(style);
  }
  const n = ++dialogCount;
  const dialog = document.createElement('dialog');
  dialog.className = 'duet-approval';
  dialog.setAttribute('aria-labelledby', `duet-approval-title-${n}`);
  dialog.setAttribute('aria-describedby', `duet-approval-body-${n}`);
  const h = document.createElement('h2');
  h.id = `duet-approval-title-${n}`;
  h.textContent = description.method === 'eth_sendTransaction' ? sendTitle : (titles[description.kind] ?? 'Approve');
  const body = document.createElement('div');
  body.id = `duet-approval-body-${n}`;
  const { rows, block, warning } = describeForDisplay(description);
  if (warning) {
    const p = document.createElement('p');
    p.className = 'duet-approval-warning';
    p.textContent = warning;
    body.append(p);
  }
  const dl = document.createElement('dl');
  for (const [k, v] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    dl.append(dt, dd);
  }
  body.append(dl);
  if (block !== null) {
    const pre = document.createElement('pre');
    pre.textContent = block;
    body.append(pre);
  }
  const actions = document.createElement('div');
  actions.className = 'duet-approval-actions';
  const reject = document.createElement('button');
  reject.type = 'button';
  reject.className = 'duet-approval-reject';
  reject.textContent = 'Reject';
  const approve = document.createElement('button');
  approve.type = 'button';
  approve.className = 'duet-approval-approve';
  approve.textContent = 'Approve';
  actions.append(reject, approve);
  dialog.append(h, body, actions);
  (document.body ?? document.documentElement).append(dialog);

  return new Promise((resolve) => {
    let done = false;
    const finish = (answer) => {
      if (done) {
        return;
      }
      done = true;
      if (dialog.open) {
        dialog.close();
      }
      dialog.remove();
      resolve(answer);
    };
    approve.addEventListener('click', () => finish(true));
    reject.addEventListener('click', () => finish(false));
    dialog.addEventListener('cancel', () => finish(false));
    dialog.addEventListener('close', () => finish(false));
    if (typeof dialog.showModal === 'function') {
      dialog.showModal();
    } else {
      dialog.setAttribute('open', '');
    }
    // Focus starts on Reject, so that a stray Enter does not approve.
    reject.focus();
  });
}
