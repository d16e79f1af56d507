// The demo page's script: one client of a demo organization, driving the
// Duet SDK from buttons. The element ids are listed in index.html.

import { Duet, clientIdFromApiKey } from '/duet.js';

const storageKeys = { client: 'duet-demo/client-key', org: 'duet-demo/org-key', rpc: 'duet-demo/rpc-url' };
const maxLogEntries = 200;

const $ = (id) => document.getElementById(id);
const buttons = ['connect', 'dev-client', 'create', 'sign', 'send', 'backup', 'recover', 'add-device', 'add-device-code', 'approve-device', 'list-devices', 'eject'].map($);
const backupMethods = [['password', 'Password'], ['passkey', 'Passkey'], ['custom', 'Custom key']];
const maxHistory = 20;

let duet = null;
let busy = false;
// What the server said last: whether the client has a wallet, and which
// backup methods are complete.
let walletOnServer = false;
let recoveryMethods = [];

function setStatus(state, text) {
  const el = $('status');
  el.dataset.state = state;
  el.textContent = text;
}

// Messages as people read them: without the SDK's "duet: " mark.
function plainMessage(err) {
  const m = err && err.message ? String(err.message) : String(err);
  return m.replace(/^duet: /, '');
}

// showError puts the error where the user is looking: in the section of the
// action that failed, right after its controls, scrolled into view.
function showError(err, near) {
  const el = $('error');
  const code = err && typeof err.code !== 'undefined' ? String(err.code) : 'ERROR';
  el.dataset.code = code;
  el.textContent = `${code}: ${plainMessage(err)}`;
  const section = near?.closest('section');
  if (section) {
    section.append(el);
  } else {
    $('status').after(el);
  }
  el.hidden = false;
  el.scrollIntoView({ block: 'nearest' });
  el.focus({ preventScroll: true });
}

function clearError() {
  const el = $('error');
  el.hidden = true;
  el.textContent = '';
  delete el.dataset.code;
}

// The steps of each operation, in order, as a user would name them. A step
// is the event's phase, or for the MPC rounds its protocol (aux-info is the
// refresh protocol the SDK runs in the background after key generation).
const stepNames = {
  check: 'Checking the key with the server',
  load: 'Loading the wallet module',
  ready: 'Ready',
  primes: 'Preparing this device\'s secret parameters',
  connecting: 'Contacting the server',
  keygen: 'Generating the key together with the server',
  address: 'The wallet\'s address is known',
  auxinfo: 'Setting up the signing parameters (aux-info)',
  backuppair: 'Making a fresh pair of shares for the backup',
  encrypting: 'Encrypting your half of the backup with the password',
  decrypting: 'Opening the backup with the password',
  recoverpair: 'Rebuilding this device\'s share with the server',
  devicepair: 'Making this device\'s own share with the server',
  refresh: 'Renewing both shares with the server',
  presign: 'Preparing the signature with the server',
  sign: 'Signing together with the server',
  commit: 'Saving the wallet on this device',
  'awaiting-approval': 'Waiting for your other device to approve this one',
  'awaiting-device': 'Waiting for the new device to take its share',
  done: 'Done',
};

const plans = {
  connect: ['check', 'load', 'ready'],
  createWallet: ['connecting', 'keygen', 'commit', 'address', 'done'],
  backupWallet: ['connecting', 'backuppair', 'encrypting', 'commit', 'done'],
  recoverWallet: ['connecting', 'decrypting', 'recoverpair', 'commit', 'done'],
  addDevice: ['connecting', 'awaiting-approval', 'decrypting', 'devicepair', 'commit', 'done'],
  approveDevice: ['connecting', 'awaiting-device', 'done'],
  listDevices: ['connecting', 'done'],
  removeDevice: ['connecting', 'done'],
  ejectPrivateKey: ['connecting', 'decrypting', 'done'],
  refreshWallet: ['primes', 'connecting', 'refresh', 'commit', 'done'],
  signMessage: ['connecting', 'presign', 'sign', 'done'],
  signTransaction: ['connecting', 'presign', 'sign', 'done'],
  signTypedData: ['connecting', 'presign', 'sign', 'done'],
  signDigest: ['connecting', 'presign', 'sign', 'done'],
};

function stepOf(ev) {
  if (ev.phase !== 'mpc') {
    return ev.phase;
  }
  if (ev.protocol === 'refresh') {
    return { prepareSigning: 'auxinfo', backupWallet: 'backuppair', recoverWallet: 'recoverpair', addDevice: 'devicepair' }[ev.operation] ?? 'refresh';
  }
  return ev.protocol;
}

// The bar only moves forward within one operation.
let progressState = { operation: null, reached: -1 };

function showProgress(ev) {
  const plan = plans[ev.operation];
  const step = stepOf(ev);
  if (progressState.operation !== ev.operation) {
    progressState = { operation: ev.operation, reached: -1 };
  }
  const i = plan ? plan.indexOf(step) : -1;
  if (i > progressState.reached) {
    progressState.reached = i;
  }
  const name = stepNames[step] ?? step;
  const box = $('progress');
  box.hidden = false;
  if (plan && progressState.reached >= 0) {
    const n = progressState.reached + 1;
    $('progress-step').textContent = `Step ${n} of ${plan.length}: ${name}`;
    $('progress-bar').value = n / plan.length;
  } else {
    $('progress-step').textContent = name;
  }
  return name;
}

function describe(ev) {
  if (ev.operation === 'sparePrimes' && ev.detail) {
    return `${ev.operation}: ${ev.detail} (${ev.sparePrimes ?? 0} of ${ev.wanted ?? 0} kept)`;
  }
  const name = stepNames[stepOf(ev)] ?? stepOf(ev);
  return ev.round !== undefined ? `${ev.operation}: ${name} (round ${ev.round})` : `${ev.operation}: ${name}`;
}

// The SDK's own background work (aux-info after createWallet, the
// presignature pool, the spare prime search) is logged but does not make the
// page busy.
const backgroundOperations = new Set(['prepareSigning', 'fillPool', 'sparePrimes']);

function onProgress(ev) {
  const text = describe(ev);
  if (!backgroundOperations.has(ev.operation)) {
    const name = showProgress(ev);
    setStatus($('status').dataset.state === 'connecting' ? 'connecting' : 'busy', name + '…');
  }
  const log = $('log');
  const li = document.createElement('li');
  li.textContent = text;
  log.append(li);
  while (log.children.length > maxLogEntries) {
    log.firstElementChild.remove();
  }
}

function setBusy(on) {
  busy = on;
  document.body.setAttribute('aria-busy', String(on));
  updateButtons();
}

// updateButtons enables what makes sense in the wallet's state.
function updateButtons() {
  const connected = duet !== null && !duet.closed;
  const onDevice = connected && duet.isWalletOnDevice();
  const enabled = {
    connect: true,
    'dev-client': true,
    create: connected && !onDevice && !walletOnServer,
    sign: onDevice,
    send: onDevice,
    backup: onDevice,
    recover: connected && recoveryMethods.includes('password'),
    'add-device': connected && !onDevice && recoveryMethods.includes('password'),
    'add-device-code': connected && !onDevice && walletOnServer,
    'approve-device': onDevice,
    'list-devices': onDevice,
    eject: onDevice && recoveryMethods.includes('password') && $('eject-confirm').checked,
  };
  for (const b of buttons) {
    b.disabled = busy || !enabled[b.id];
  }
  for (const b of $('devices').querySelectorAll('button.remove-device')) {
    b.disabled = busy || !onDevice;
  }
}

// showDevices lists the wallet's devices, each with a button that removes
// it; an empty list clears it.
function showDevices(devices) {
  const list = $('devices');
  list.replaceChildren();
  for (const d of devices) {
    const li = document.createElement('li');
    li.dataset.deviceId = d.id;
    li.dataset.current = String(d.current);
    const added = new Date(d.createdAt).toLocaleString();
    const used = d.lastUsedAt === null ? 'never used' : `last used ${new Date(d.lastUsedAt).toLocaleString()}`;
    li.append(`${d.current ? 'This device' : 'Device'} ${d.id.slice(0, 12)}…: added ${added}, ${used}`);
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'remove-device secondary';
    remove.textContent = d.current ? 'Remove this device' : 'Remove';
    remove.setAttribute('aria-label', `Remove device ${d.id}`);
    remove.addEventListener('click', () => run('Removing the device…', () => actions.removeDevice(d.id), remove));
    li.append(remove);
    list.append(li);
  }
  updateButtons();
}

async function showWallet() {
  $('address').textContent = duet?.address ?? 'none';
  const onDevice = duet !== null && duet.isWalletOnDevice();
  $('wallet-on-device').textContent = onDevice ? 'yes' : 'no';
  const ready = $('signing-ready');
  ready.dataset.ready = String(onDevice);
  ready.textContent = onDevice ? 'Ready to sign' : 'Not ready';
  let backups = 'none';
  recoveryMethods = [];
  if (duet) {
    try {
      const info = await duet.getWalletInfo();
      walletOnServer = info !== null;
      recoveryMethods = await duet.availableRecoveryMethods();
      backups = recoveryMethods.length > 0 ? recoveryMethods.join(', ') : 'none';
    } catch (err) {
      backups = `unknown (${err.code ?? 'error'})`;
    }
  }
  $('wallet-backups').textContent = backups;
  for (const [method, label] of backupMethods) {
    const li = $('backup-methods').querySelector(`[data-method="${method}"]`);
    const done = recoveryMethods.includes(method);
    li.dataset.backedUp = String(done);
    li.textContent = `${label}: ${done ? 'backed up' : 'not backed up'}`;
  }
  updateButtons();
  await showBalance();
}

function formatEther(wei) {
  const whole = wei / 10n ** 18n;
  const frac = (wei % 10n ** 18n).toString().padStart(18, '0').replace(/0+$/, '').slice(0, 6);
  return frac === '' ? `${whole} ETH` : `${whole}.${frac} ETH`;
}

// showBalance reads the wallet's balance from the node of #rpc-url, so the
// user sees what there is before sending.
async function showBalance() {
  const out = $('balance');
  const address = duet?.address;
  const url = $('rpc-url').value.trim();
  if (!address || url === '') {
    out.textContent = 'unknown';
    return;
  }
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_getBalance', params: [address, 'latest'] }),
    });
    const body = await res.json();
    out.textContent = typeof body?.result === 'string' ? formatEther(BigInt(body.result)) : 'unknown (the node did not answer)';
  } catch {
    out.textContent = 'unknown (cannot reach the node)';
  }
}

function addHistory(text) {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} — ${text}`;
  const list = $('history');
  list.prepend(li);
  while (list.children.length > maxHistory) {
    list.lastElementChild.remove();
  }
}

// run performs one user action: buttons off, errors cleared, progress shown,
// the outcome in the status line, or the error by the control that started
// the action.
async function run(busyText, action, near) {
  clearError();
  setBusy(true);
  setStatus('busy', busyText);
  progressState = { operation: null, reached: -1 };
  $('progress').hidden = true;
  let failure = null;
  try {
    const done = await action();
    setStatus('ready', done);
  } catch (err) {
    failure = err;
    setStatus('error', `Failed: ${plainMessage(err)}`);
  } finally {
    $('progress').hidden = true;
    await showWallet();
    setBusy(false);
  }
  if (failure !== null) {
    showError(failure, near);
  }
}

function requireDuet() {
  if (duet === null) {
    throw Object.assign(new Error('not connected: enter a client API key and press Connect'), { code: 'NOT_CONNECTED' });
  }
  return duet;
}

async function fetchDevKeys() {
  const res = await fetch('/dev/client-key', { cache: 'no-store' });
  if (!res.ok) {
    throw Object.assign(new Error(`GET /dev/client-key answered ${res.status}; outside dev mode, paste a client API key`), { code: 'NO_DEV_KEY' });
  }
  const body = await res.json();
  if (typeof body.clientApiKey !== 'string') {
    throw Object.assign(new Error('GET /dev/client-key sent no clientApiKey'), { code: 'NO_DEV_KEY' });
  }
  return body;
}

function rememberKeys(clientKey, orgKey) {
  $('client-key').value = clientKey;
  $('org-key').value = orgKey ?? '';
  localStorage.setItem(storageKeys.client, clientKey);
  if (orgKey) {
    localStorage.setItem(storageKeys.org, orgKey);
  } else {
    localStorage.removeItem(storageKeys.org);
  }
}

async function connect() {
  const apiKey = $('client-key').value.trim();
  if (apiKey === '') {
    throw Object.assign(new Error('enter a client API key'), { code: 'INVALID_ARGUMENT' });
  }
  rememberKeys(apiKey, $('org-key').value.trim());
  if (duet !== null) {
    duet.close();
    duet = null;
  }
  $('signature').textContent = '';
  hideKey();
  showDevices([]);
  walletOnServer = false;
  recoveryMethods = [];
  setStatus('connecting', 'Loading the device module…');
  duet = await Duet.connect({ url: location.origin, apiKey, onProgress });
  duet.provider.on('accountsChanged', () => showWallet());
  return duet.isWalletOnDevice() ? 'Connected. The wallet is on this device.' : 'Connected. No wallet on this device yet.';
}

async function useDevClient() {
  const keys = await fetchDevKeys();
  rememberKeys(keys.clientApiKey, keys.orgApiKey);
  return connect();
}

// The organization authorises eject from its backend, after checking with
// the user, with POST /v1/clients/{id}/eject and its organization API key,
// which a page should never hold. In dev mode the server does it for the
// demo client (POST /dev/eject) without showing the page the organization's
// key; a key pasted into #org-key is used for any other client.
async function authorizeEject(clientApiKey) {
  const orgKey = $('org-key').value.trim();
  const clientId = clientIdFromApiKey(clientApiKey);
  if (clientId === null) {
    throw Object.assign(new Error('eject needs a Duet client key'), { code: 'INVALID_ARGUMENT' });
  }
  const res = orgKey === ''
    ? await fetch('/dev/eject', { method: 'POST', headers: { Authorization: `Bearer ${clientApiKey}` } })
    : await fetch(`/v1/clients/${clientId}/eject`, { method: 'POST', headers: { Authorization: `Bearer ${orgKey}` } });
  if (!res.ok) {
    let message = `authorising eject: server answered ${res.status}`;
    let code = 'SERVER_ERROR';
    try {
      const body = await res.json();
      if (body?.error?.message) {
        message += `: ${body.error.message}`;
      }
      if (typeof body?.error?.code === 'string') {
        // The server's codes read like the SDK's once upper-cased
        // (no_wallet, unauthorized, forbidden).
        code = body.error.code.toUpperCase();
      }
    } catch {
      // The status says enough.
    }
    if (orgKey === '' && code === 'NOT_FOUND') {
      // No /dev/eject: this server is not in dev mode.
      message = 'outside dev mode the organization authorises eject from its backend (POST /v1/clients/{id}/eject); enter its API key above to act as it here';
      code = 'EJECT_NOT_AUTHORIZED';
    }
    throw Object.assign(new Error(message), { code });
  }
}

// Returns a decimal amount of ETH in wei.
function parseEther(text) {
  const m = /^(\d+)(?:\.(\d{1,18}))?$/.exec(text);
  if (m === null) {
    throw Object.assign(new Error(`amount ${JSON.stringify(text)} is not a decimal number of ETH (at most 18 decimals)`), { code: 'INVALID_ARGUMENT' });
  }
  return BigInt(m[1]) * 10n ** 18n + BigInt((m[2] ?? '').padEnd(18, '0'));
}

function setSendStatus(status, text) {
  const el = $('send-status');
  el.dataset.status = status;
  el.textContent = text;
}

// Asks a node for its chain id, so that the page sends on whatever chain
// the URL points at.
async function chainIdAt(url) {
  let res;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
    });
  } catch (err) {
    throw Object.assign(new Error(`cannot reach ${url}: ${err.message}`), { code: 'NETWORK' });
  }
  const body = await res.json().catch(() => null);
  if (typeof body?.result !== 'string') {
    throw Object.assign(new Error(`${url} did not answer eth_chainId`), { code: 'NETWORK' });
  }
  return body.result;
}

async function waitForReceipt(provider, hash) {
  const deadline = Date.now() + 5 * 60 * 1000;
  while (Date.now() < deadline) {
    const receipt = await provider.request({ method: 'eth_getTransactionReceipt', params: [hash] });
    if (receipt) {
      return receipt;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw Object.assign(new Error(`transaction ${hash} was not mined within 5 minutes`), { code: 'TIMEOUT' });
}

const actions = {
  async create() {
    const { address } = await requireDuet().createWallet();
    return `Wallet created: ${address}`;
  },

  async sign() {
    const d = requireDuet();
    if (!d.address) {
      throw Object.assign(new Error('there is no wallet on this device'), { code: 'NO_WALLET' });
    }
    $('signature').textContent = '';
    const signature = await d.provider.request({
      method: 'personal_sign',
      params: [$('sign-message').value, d.address],
    });
    $('signature').textContent = signature;
    addHistory(`Signed "${$('sign-message').value}": ${signature.slice(0, 18)}…`);
    return 'Message signed.';
  },

  async send() {
    const d = requireDuet();
    if (!d.address) {
      throw Object.assign(new Error('there is no wallet on this device'), { code: 'NO_WALLET' });
    }
    $('send-tx-hash').textContent = '';
    setSendStatus('pending', 'Preparing…');
    try {
      const url = $('rpc-url').value.trim();
      const value = parseEther($('send-amount').value.trim());
      localStorage.setItem(storageKeys.rpc, url);
      const chainId = await chainIdAt(url);
      // Adds the chain's URL to the provider (unless it has one) and
      // switches to it.
      await d.provider.request({
        method: 'wallet_addEthereumChain',
        params: [{ chainId, chainName: `Chain ${BigInt(chainId)}`, rpcUrls: [url] }],
      });
      const hash = await d.provider.request({
        method: 'eth_sendTransaction',
        params: [{ from: d.address, to: $('send-to').value.trim(), value: '0x' + value.toString(16) }],
      });
      $('send-tx-hash').textContent = hash;
      setSendStatus('pending', 'Sent; waiting for a block…');
      const receipt = await waitForReceipt(d.provider, hash);
      const ok = receipt.status === '0x1';
      setSendStatus(ok ? 'success' : 'reverted', `Mined in block ${BigInt(receipt.blockNumber)}, status ${ok ? 1 : 0}`);
      addHistory(`Sent ${$('send-amount').value.trim()} ETH to ${$('send-to').value.trim()}: ${hash} (${ok ? 'mined' : 'reverted'})`);
      return ok ? 'ETH sent.' : 'The transaction was mined but reverted.';
    } catch (err) {
      setSendStatus('error', 'Not sent.');
      throw err;
    }
  },

  async backup() {
    await requireDuet().backupWallet({ method: 'password', password: $('backup-password').value });
    return 'Wallet backed up with a password.';
  },

  async recover() {
    const { address } = await requireDuet().recoverWallet({ method: 'password', password: $('recover-password').value });
    return `Wallet recovered: ${address}`;
  },

  async addDevice() {
    const d = requireDuet();
    const { deviceId } = await d.addDevice({ method: 'password', password: $('add-device-password').value });
    showDevices(await d.listDevices());
    return `This device was added to the wallet (device ${deviceId.slice(0, 12)}…). The other devices keep signing.`;
  },

  async addDeviceByCode() {
    const d = requireDuet();
    const out = $('approval-code');
    try {
      const { deviceId } = await d.addDevice({
        method: 'approval',
        onCode: (code) => {
          out.textContent = code;
          setStatus('busy', `Type ${code} on a device that has the wallet, under "Approve a new device".`);
        },
      });
      showDevices(await d.listDevices());
      return `This device was added to the wallet (device ${deviceId.slice(0, 12)}…). The other devices keep signing.`;
    } finally {
      out.textContent = '';
    }
  },

  async approveDevice() {
    const d = requireDuet();
    await d.approveDevice($('approve-code').value);
    $('approve-code').value = '';
    return 'The new device was approved: it now makes its own share with the server (List devices shows it once it has).';
  },

  async listDevices() {
    const devices = await requireDuet().listDevices();
    showDevices(devices);
    return `The wallet has ${devices.length} ${devices.length === 1 ? 'device' : 'devices'}.`;
  },

  async removeDevice(id) {
    const d = requireDuet();
    const self = (await d.deviceState()).deviceId === id;
    await d.removeDevice(id);
    showDevices(d.isWalletOnDevice() ? await d.listDevices() : []);
    return self ? 'This device was removed from the wallet: its share is deleted.' : 'The device was removed: it can no longer sign.';
  },

  async eject() {
    const d = requireDuet();
    hideKey();
    if (!$('eject-confirm').checked) {
      throw Object.assign(new Error('tick the box to confirm that you understand what eject means'), { code: 'INVALID_ARGUMENT' });
    }
    setStatus('busy', 'Asking the organization to authorise eject…');
    await authorizeEject($('client-key').value.trim());
    const key = await d.ejectPrivateKey({ method: 'password', password: $('eject-password').value });
    $('private-key').textContent = key;
    $('eject-confirm').checked = false;
    $('reveal-key').hidden = false;
    return 'Private key ejected. It is hidden: reveal it only where no one can see your screen.';
  },
};

const busyTexts = {
  create: 'Creating the wallet…',
  sign: 'Signing…',
  send: 'Sending ETH…',
  backup: 'Backing up…',
  recover: 'Recovering…',
  addDevice: 'Adding this device…',
  approveDevice: 'Approving the new device…',
  eject: 'Ejecting…',
};

function hideKey() {
  $('private-key').textContent = '';
  $('private-key').hidden = true;
  $('reveal-key').hidden = true;
  $('reveal-key').textContent = 'Reveal the key';
}

function wire() {
  $('connect').addEventListener('click', () => run('Connecting…', connect, $('connect')));
  $('dev-client').addEventListener('click', () => run('Getting the dev client…', useDevClient, $('dev-client')));
  $('create').addEventListener('click', () => run(busyTexts.create, actions.create, $('create')));
  $('sign').addEventListener('click', () => run(busyTexts.sign, actions.sign, $('sign')));
  $('list-devices').addEventListener('click', () => run('Listing the devices…', actions.listDevices, $('list-devices')));
  $('add-device-code').addEventListener('click', () => run('Asking to add this device…', actions.addDeviceByCode, $('add-device-code')));
  for (const form of document.querySelectorAll('form[data-action]')) {
    const name = form.dataset.action;
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      run(busyTexts[name], actions[name], form);
    });
  }
  $('eject-confirm').addEventListener('change', updateButtons);
  $('rpc-url').addEventListener('change', () => showBalance());
  $('reveal-key').addEventListener('click', () => {
    const key = $('private-key');
    key.hidden = !key.hidden;
    $('reveal-key').textContent = key.hidden ? 'Reveal the key' : 'Hide the key';
  });
}

async function start() {
  wire();
  const rpc = new URLSearchParams(location.search).get('rpc') ?? localStorage.getItem(storageKeys.rpc);
  if (rpc) {
    $('rpc-url').value = rpc;
  }
  const clientKey = localStorage.getItem(storageKeys.client);
  const orgKey = localStorage.getItem(storageKeys.org);
  if (clientKey) {
    rememberKeys(clientKey, orgKey);
    await run('Connecting…', connect);
  } else {
    await run('Getting the dev client…', useDevClient);
  }
}

start();
