// The demo page's script: one client of a demo organization, driving the
// Duet SDK from buttons. The element ids are listed in index.html.

import { Duet, clientIdFromApiKey } from '/duet.js';

const storageKeys = { client: 'duet-demo/client-key', org: 'duet-demo/org-key', rpc: 'duet-demo/rpc-url' };
const maxLogEntries = 200;

const $ = (id) => document.getElementById(id);
const buttons = ['connect', 'dev-client', 'create', 'sign', 'send', 'backup', 'recover', 'eject'].map($);

let duet = null;

function setStatus(state, text) {
  const el = $('status');
  el.dataset.state = state;
  el.textContent = text;
}

function showError(err) {
  const el = $('error');
  const code = err && typeof err.code !== 'undefined' ? String(err.code) : 'ERROR';
  el.dataset.code = code;
  el.textContent = `${code}: ${err && err.message ? err.message : String(err)}`;
  el.hidden = false;
}

function clearError() {
  const el = $('error');
  el.hidden = true;
  el.textContent = '';
  delete el.dataset.code;
}

const connectPhases = { load: 'loading the device module', ready: 'device module ready' };

function describe(ev) {
  const phase = ev.operation === 'connect' ? connectPhases[ev.phase] ?? ev.phase : ev.phase;
  let s = `${ev.operation ?? ''}: ${phase ?? ''}`;
  if (ev.protocol && ev.protocol !== ev.phase) {
    s += ` (${ev.protocol})`;
  }
  if (ev.round !== undefined) {
    s += `, round ${ev.round}`;
  }
  if (ev.detail && ev.operation !== 'connect') {
    s += ` — ${ev.detail}`;
  }
  return s;
}

// The SDK's own background work (aux-info after createWallet, the
// presignature pool) is logged but does not make the page busy.
const backgroundOperations = new Set(['prepareSigning', 'fillPool']);

function onProgress(ev) {
  const text = describe(ev);
  if (!backgroundOperations.has(ev.operation)) {
    setStatus($('status').dataset.state === 'connecting' ? 'connecting' : 'busy', text);
  }
  const log = $('log');
  const li = document.createElement('li');
  li.textContent = text;
  log.append(li);
  while (log.children.length > maxLogEntries) {
    log.firstElementChild.remove();
  }
}

function setBusy(busy) {
  document.body.setAttribute('aria-busy', String(busy));
  for (const b of buttons) {
    b.disabled = busy;
  }
}

async function showWallet() {
  $('address').textContent = duet?.address ?? 'none';
  $('wallet-on-device').textContent = duet?.isWalletOnDevice() ? 'yes' : 'no';
  let backups = 'none';
  if (duet) {
    try {
      const methods = await duet.availableRecoveryMethods();
      backups = methods.length > 0 ? methods.join(', ') : 'none';
    } catch (err) {
      backups = `unknown (${err.code ?? 'error'})`;
    }
  }
  $('wallet-backups').textContent = backups;
}

// run performs one user action: buttons off, errors cleared, the outcome in
// the status line or the error line.
async function run(busyText, action) {
  clearError();
  setBusy(true);
  setStatus('busy', busyText);
  try {
    const done = await action();
    setStatus('ready', done);
  } catch (err) {
    setStatus('error', 'Failed.');
    showError(err);
  } finally {
    await showWallet();
    setBusy(false);
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
  $('private-key').textContent = '';
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

  async eject() {
    const d = requireDuet();
    $('private-key').textContent = '';
    setStatus('busy', 'Asking the organization to authorise eject…');
    await authorizeEject($('client-key').value.trim());
    const key = await d.ejectPrivateKey({ method: 'password', password: $('eject-password').value });
    $('private-key').textContent = key;
    return 'Private key ejected. Keep it secret.';
  },
};

const busyTexts = {
  create: 'Creating the wallet…',
  sign: 'Signing…',
  send: 'Sending ETH…',
  backup: 'Backing up…',
  recover: 'Recovering…',
  eject: 'Ejecting…',
};

function wire() {
  $('connect').addEventListener('click', () => run('Connecting…', connect));
  $('dev-client').addEventListener('click', () => run('Getting the dev client…', useDevClient));
  $('create').addEventListener('click', () => run(busyTexts.create, actions.create));
  $('sign').addEventListener('click', () => run(busyTexts.sign, actions.sign));
  for (const form of document.querySelectorAll('form[data-action]')) {
    const name = form.dataset.action;
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      run(busyTexts[name], actions[name]);
    });
  }
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
