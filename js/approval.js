// The approval point: every request that ends in a signature, every chain
// the provider is asked to add or switch to outside the app's rpcConfig,
// and every approval of a new device of the wallet (approveDevice) is shown
// here before anything is signed, used or approved.
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

// The kind of request that approves a new device (host.js RequestKind).
const approveDeviceKind = 'approve-device';

/**
 * Returns the 8 digits of a device approval code, which a person may type
 * with spaces or dashes ("1234 5678", "1234-5678"); throws INVALID_ARGUMENT
 * for anything else.
 */
export function approvalCode(code, operation = 'approveDevice') {
  const digits = typeof code === 'string' ? code.replace(/[\s-]/g, '') : '';
  if (!/^[0-9]{8}$/.test(digits)) {
    throw new DuetError(ErrorCode.INVALID_ARGUMENT, `duet: ${operation} wants the code the new device shows: 8 digits, as "1234 5678"`);
  }
  return digits;
}

/** Returns the 8 digits of a code as a person reads them: "1234 5678". */
export function formatApprovalCode(digits) {
  const d = approvalCode(digits);
  return d.slice(0, 4) + ' ' + d.slice(4);
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
 * An approval of a new device whose description carries no code (isolation
 * mode, where the app's page never sees it) is asked in the SDK's dialog,
 * which asks for the code too: the promise resolves with the 8 digits the
 * user typed. A hook or autoApprove cannot approve such a request.
 *
 * @param {{onSignatureRequest?: Function, autoApprove?: boolean, document?: Document}} options
 */
export function approvalGate({ onSignatureRequest, autoApprove = false, document = globalThis.document } = {}) {
  let queue = Promise.resolve();
  const ask = async (description) => {
    const askCode = description?.kind === approveDeviceKind && (description.code === null || description.code === undefined);
    if (askCode && (onSignatureRequest !== undefined || autoApprove)) {
      throw rejected('approving a device needs the code the new device shows');
    }
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
    if (askCode) {
      const code = await codeEntryDialog(document, description);
      if (code === null) {
        throw rejected();
      }
      return code;
    }
    if (!(await confirmDialog(document, description))) {
      throw rejected();
    }
    return undefined;
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
  [approveDeviceKind]: 'Approve a new device',
};

// What the user must check before approving a device.
const approveDeviceWarning = 'The approved device can sign with this wallet. Approve only a device you are setting up ' +
  'yourself, now, and only with the code that device shows: never a code someone sent you or read to you.';

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
:where(.duet-approval .duet-approval-code-value) { display: block; margin: .5rem 0 1rem; font: 600 2rem/1.2 ui-monospace, monospace;
  letter-spacing: .12em; text-align: center; }
:where(.duet-approval input.duet-approval-code-input) { display: block; width: 100%; box-sizing: border-box; margin: 0 0 .75rem;
  padding: .5rem; font: 600 1.5rem/1.2 ui-monospace, monospace; letter-spacing: .12em; text-align: center; }
:where(.duet-approval .duet-approval-error) { color: #8a1c1c; margin: 0 0 .75rem; }
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
    case approveDeviceKind:
      if (d.code) {
        rows.push(['Code', d.code]);
      }
      warning = approveDeviceWarning;
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
  const title = description.method === 'eth_sendTransaction' ? sendTitle : (titles[description.kind] ?? 'Approve');
  const { dialog, body } = newDialog(document, title);
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
  const { approve, reject } = addActions(document, dialog);

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
    openDialog(dialog);
    // Focus starts on Reject, so that a stray Enter does not approve.
    reject.focus();
  });
}

// The parts every dialog of the SDK shares: the style, once per document,
// and a dialog with its title.
function newDialog(document, title) {
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
  h.textContent = title;
  const body = document.createElement('div');
  body.id = `duet-approval-body-${n}`;
  dialog.append(h, body);
  return { dialog, body };
}

// Adds the Reject and Approve buttons to dialog and puts it in the page.
function addActions(document, dialog) {
  const actions = document.createElement('div');
  actions.className = 'duet-approval-actions';
  const button = (className, text) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = className;
    b.textContent = text;
    return b;
  };
  const reject = button('duet-approval-reject', 'Reject');
  const approve = button('duet-approval-approve', 'Approve');
  actions.append(reject, approve);
  dialog.append(actions);
  (document.body ?? document.documentElement).append(dialog);
  return { approve, reject };
}

function paragraph(document, text, className) {
  const p = document.createElement('p');
  if (className) {
    p.className = className;
  }
  p.textContent = text;
  return p;
}

function openDialog(dialog) {
  if (typeof dialog.showModal === 'function') {
    dialog.showModal();
  } else {
    dialog.setAttribute('open', '');
  }
}

/**
 * Shows the approval of a new device whose code the app's page must not
 * see (isolation mode): the dialog asks the user for the code the new
 * device shows, and resolves with its 8 digits once the user approves, or
 * with null if the user rejects.
 */
export function codeEntryDialog(document, description) {
  const { dialog, body } = newDialog(document, titles[approveDeviceKind]);
  body.append(paragraph(document, approveDeviceWarning, 'duet-approval-warning'));
  if (description?.address) {
    const dl = document.createElement('dl');
    const dt = document.createElement('dt');
    dt.textContent = 'Account';
    const dd = document.createElement('dd');
    dd.textContent = description.address;
    dl.append(dt, dd);
    body.append(dl);
  }
  const label = document.createElement('label');
  label.textContent = 'The code the new device shows';
  const input = document.createElement('input');
  input.className = 'duet-approval-code-input';
  input.type = 'text';
  input.inputMode = 'numeric';
  input.autocomplete = 'off';
  input.spellcheck = false;
  input.maxLength = 12;
  input.placeholder = '1234 5678';
  label.append(input);
  const error = paragraph(document, '', 'duet-approval-error');
  error.hidden = true;
  body.append(label, error);
  const { approve, reject } = addActions(document, dialog);

  return new Promise((resolve) => {
    let done = false;
    const finish = (answer) => {
      if (done) {
        return;
      }
      done = true;
      input.value = '';
      if (dialog.open) {
        dialog.close();
      }
      dialog.remove();
      resolve(answer);
    };
    const submit = () => {
      let code;
      try {
        code = approvalCode(input.value);
      } catch {
        error.textContent = 'Type the 8 digits the new device shows.';
        error.hidden = false;
        input.focus();
        return;
      }
      finish(code);
    };
    approve.addEventListener('click', submit);
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        submit();
      }
    });
    reject.addEventListener('click', () => finish(null));
    dialog.addEventListener('cancel', () => finish(null));
    dialog.addEventListener('close', () => finish(null));
    openDialog(dialog);
    input.focus();
  });
}

/**
 * Shows the code of this device's request to be added to the wallet, for
 * the user to type on a device that already has it. Returns {close}, which
 * the caller calls once the request has ended; the user cannot close it
 * before, since the request goes on without it.
 */
export function showCodeDialog(document, code) {
  const { dialog, body } = newDialog(document, 'Add this device');
  dialog.classList.add('duet-approval-code');
  body.append(paragraph(document, 'On a device that already has this wallet, choose to approve a new device and type this code:'));
  const value = document.createElement('output');
  value.className = 'duet-approval-code-value';
  value.textContent = formatApprovalCode(code);
  body.append(value);
  body.append(paragraph(document, 'Type it only on your own device. Never tell it to anyone: whoever approves a ' +
    'device with it lets that device sign. This closes when the device is added or the request ends (after 5 minutes).',
  'duet-approval-warning'));
  (document.body ?? document.documentElement).append(dialog);
  // Escape closes a modal dialog; this one stays while the request waits.
  const keep = (e) => e.preventDefault();
  dialog.addEventListener('cancel', keep);
  openDialog(dialog);
  let closed = false;
  return {
    close() {
      if (closed) {
        return;
      }
      closed = true;
      dialog.removeEventListener('cancel', keep);
      if (dialog.open) {
        dialog.close();
      }
      dialog.remove();
    },
  };
}
