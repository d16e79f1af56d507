// duet.provider: an EIP-1193 provider over a Duet wallet, so that dapps and
// libraries (ethers, viem) use Duet as they use any injected wallet.
//
// The wallet's own methods (accounts, chain, every kind of signature and
// sending a transaction) are entries of a private, frozen table below, each a
// function of the provider's context, the request's params and the chain the
// request was made on; any other method is passed to the JSON-RPC node of
// that chain, whose errors come back unchanged. The chain is read once, when
// the request arrives: a switch while it runs changes nothing about it.
//
// The provider never signs by itself: it parses each request strictly and
// hands it to its signer (the Duet's device host), which freezes it, has it
// approved and signs exactly that. Signing a transaction is done in this
// order, so that nothing is signed that the node would refuse or the user
// has not seen: check the params, fill the nonce, gas and fees from the
// request's chain's node, simulate, have it approved, sign, send to the same
// node.

import { ErrorCode } from './errors.js';
import { bytesToHex, hexToBytes, isAddress, isHexData, sameAddress, utf8ToBytes } from './bytes.js';
import { callListener } from './rpc.js';
import { caip2, canonicalAccessList, canonicalTypedData, quantityValue } from './request.js';
import { RequestKind, checkChainRpcUrl } from './host.js';

export { caip2 } from './request.js';

/** EIP-1193 and JSON-RPC error codes the provider uses. */
export const ProviderErrorCode = Object.freeze({
  /** The app's signature hook rejected the request. */
  USER_REJECTED_REQUEST: 4001,
  /** No wallet, or an address that is not the wallet's. */
  UNAUTHORIZED: 4100,
  /** The method is not supported. */
  UNSUPPORTED_METHOD: 4200,
  /** The Duet was closed or its device worker failed. */
  DISCONNECTED: 4900,
  /** No RPC URL for the current chain, or its node cannot be reached. */
  CHAIN_DISCONNECTED: 4901,
  /** wallet_switchEthereumChain to a chain without an RPC URL. */
  UNRECOGNIZED_CHAIN: 4902,
  /** A simulated transaction or call reverted; data holds the revert data. */
  EXECUTION_REVERTED: 3,
  INVALID_REQUEST: -32600,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
});

/** An EIP-1193 error: an Error with a numeric `code` and optional `data`. */
export class ProviderRpcError extends Error {
  constructor(code, message, data) {
    super(message);
    this.name = 'ProviderRpcError';
    this.code = code;
    if (data !== undefined) {
      this.data = data;
    }
  }
}

// How SDK error codes read to a dapp. The SDK code travels in data.code.
const providerCodes = {
  [ErrorCode.INVALID_ARGUMENT]: ProviderErrorCode.INVALID_PARAMS,
  [ErrorCode.NO_WALLET]: ProviderErrorCode.UNAUTHORIZED,
  [ErrorCode.UNAUTHORIZED]: ProviderErrorCode.UNAUTHORIZED,
  [ErrorCode.FORBIDDEN]: ProviderErrorCode.UNAUTHORIZED,
  [ErrorCode.CLOSED]: ProviderErrorCode.DISCONNECTED,
  [ErrorCode.REJECTED]: ProviderErrorCode.USER_REJECTED_REQUEST,
};

/** Returns err, which a request raised, as a ProviderRpcError. */
export function toProviderError(err) {
  if (err instanceof ProviderRpcError) {
    return err;
  }
  const sdkCode = err && typeof err.code === 'string' ? err.code : ErrorCode.INTERNAL;
  const message = err && typeof err.message === 'string' ? err.message : String(err);
  const code = providerCodes[sdkCode] ?? ProviderErrorCode.INTERNAL_ERROR;
  return new ProviderRpcError(code, message, { code: sdkCode });
}

function invalidParams(message) {
  return new ProviderRpcError(ProviderErrorCode.INVALID_PARAMS, 'duet: ' + message);
}

const hexQuantity = /^0x[0-9a-fA-F]+$/;

/**
 * Returns chainId as 0x hex. It may be a positive integer, its 0x hex, or a
 * CAIP-2 id of the eip155 namespace ('eip155:1337').
 */
export function normalizeChainId(chainId) {
  let n;
  if (typeof chainId === 'number') {
    n = chainId;
  } else if (typeof chainId === 'bigint') {
    n = Number(chainId);
  } else if (typeof chainId === 'string' && hexQuantity.test(chainId)) {
    n = parseInt(chainId, 16);
  } else if (typeof chainId === 'string' && /^eip155:[1-9][0-9]*$/.test(chainId)) {
    n = Number(chainId.slice('eip155:'.length));
  } else {
    n = NaN;
  }
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw invalidParams(`chain id ${String(chainId)} must be a positive integer, its 0x hex, or eip155:<decimal>`);
  }
  return '0x' + n.toString(16);
}

function rpcUrl(u, what) {
  let url;
  try {
    url = new URL(u);
  } catch {
    throw invalidParams(`${what} is not an absolute URL: ${String(u)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidParams(`${what} must be http or https, not ${url.protocol}`);
  }
  return url.href;
}

/**
 * Returns the RPC URLs of rpcConfig ({'eip155:1': 'https://…'}) as a Map
 * from 0x hex chain id to URL.
 */
export function normalizeRpcConfig(rpcConfig) {
  const out = new Map();
  if (rpcConfig === undefined || rpcConfig === null) {
    return out;
  }
  if (typeof rpcConfig !== 'object' || Array.isArray(rpcConfig)) {
    throw invalidParams('rpcConfig must map CAIP-2 chain ids to RPC URLs');
  }
  for (const [key, url] of Object.entries(rpcConfig)) {
    out.set(normalizeChainId(key), rpcUrl(url, `rpcConfig[${key}]`));
  }
  return out;
}

/**
 * Checks the provider's options (see DuetProvider) and returns the chain id
 * to start on as 0x hex and the RPC URLs by chain. Throws a -32602
 * ProviderRpcError for a malformed one.
 */
export function checkProviderOptions({ chainId, rpcConfig } = {}) {
  const rpc = normalizeRpcConfig(rpcConfig);
  return {
    chainId: normalizeChainId(chainId ?? rpc.keys().next().value ?? 1337),
    rpc,
  };
}

/**
 * Returns the bytes personal_sign signs: a 0x-prefixed hex string of whole
 * bytes is data, as in MetaMask; any other string is UTF-8 text.
 */
export function personalMessageBytes(message) {
  if (typeof message !== 'string') {
    throw invalidParams('personal_sign message must be a string');
  }
  return isHexData(message) ? hexToBytes(message) : utf8ToBytes(message);
}

function accounts(ctx) {
  const address = ctx.wallet.address;
  return address ? [address] : [];
}

function requireAccount(ctx, address) {
  const own = ctx.wallet.address;
  if (!own) {
    throw new ProviderRpcError(ProviderErrorCode.UNAUTHORIZED, 'duet: there is no wallet on this device', { code: ErrorCode.NO_WALLET });
  }
  if (!sameAddress(own, address)) {
    throw new ProviderRpcError(ProviderErrorCode.UNAUTHORIZED, `duet: address ${address} is not this wallet's`);
  }
  return own;
}

function paramList(params, method, shape, min) {
  if (!Array.isArray(params) || params.length < min) {
    throw invalidParams(`${method} wants params ${shape}`);
  }
  return params;
}

function addressParam(value, method, what = 'address') {
  if (!isAddress(value)) {
    throw invalidParams(`${method} ${what} must be 0x-prefixed 20-byte hex`);
  }
  return value;
}

// ---- The node ----

let nextRpcId = 1;

/**
 * Sends one JSON-RPC request to the node of chain, the request's chain. A
 * JSON-RPC error comes back as a ProviderRpcError with the node's code,
 * message and data, unchanged.
 */
async function nodeRequest(ctx, chain, method, params) {
  return rpcRequest(ctx, chain.id, chain.url, method, params);
}

async function rpcRequest(ctx, chainId, url, method, params) {
  if (url === undefined) {
    throw new ProviderRpcError(ProviderErrorCode.CHAIN_DISCONNECTED,
      `duet: no RPC URL for chain ${caip2(chainId)}; give one in rpcConfig to use ${method}`);
  }
  let res;
  try {
    res = await ctx.fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: nextRpcId++, method, params }),
      cache: 'no-store',
    });
  } catch (err) {
    throw new ProviderRpcError(ProviderErrorCode.CHAIN_DISCONNECTED,
      `duet: cannot reach the node of chain ${caip2(chainId)}: ${err?.message ?? err}`);
  }
  let body;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  if (body !== null && typeof body === 'object' && body.error !== null && typeof body.error === 'object') {
    const { code, message, data } = body.error;
    throw new ProviderRpcError(Number.isInteger(code) ? code : ProviderErrorCode.INTERNAL_ERROR,
      typeof message === 'string' ? message : 'node error', data);
  }
  if (!res.ok || body === null || typeof body !== 'object' || !('result' in body)) {
    throw new ProviderRpcError(ProviderErrorCode.INTERNAL_ERROR,
      `duet: the node of chain ${caip2(chainId)} answered ${method} with HTTP ${res.status} and no JSON-RPC result`);
  }
  return body.result;
}

function isRevert(err) {
  return err instanceof ProviderRpcError &&
    (err.code === ProviderErrorCode.EXECUTION_REVERTED || /revert/i.test(err.message));
}

// Runs a simulation (eth_call or eth_estimateGas) and turns a revert into
// an error that says so, with the revert data, before anything is signed.
async function simulate(ctx, chain, method, params) {
  try {
    return await nodeRequest(ctx, chain, method, params);
  } catch (err) {
    if (isRevert(err)) {
      throw new ProviderRpcError(ProviderErrorCode.EXECUTION_REVERTED,
        `duet: the transaction reverted in simulation, so it was not signed: ${err.message}`, err.data);
    }
    throw err;
  }
}

// ---- Transactions ----

function quantityParam(value, name) {
  return quantityValue(value, `transaction ${name}`);
}

function hexOf(n) {
  return '0x' + n.toString(16);
}

const txKeys = new Set([
  'from', 'to', 'value', 'data', 'input', 'nonce', 'gas', 'gasLimit', 'gasPrice',
  'maxFeePerGas', 'maxPriorityFeePerGas', 'accessList', 'type', 'chainId',
]);

/**
 * Checks a transaction's params (eth_sendTransaction, eth_signTransaction)
 * without asking the node anything. Quantities become BigInts.
 */
export function parseTransactionRequest(ctx, params, method, chain) {
  const [given] = paramList(params, method, '[transaction]', 1);
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw invalidParams(`${method} wants params [transaction]`);
  }
  // One read of each field, from a copy: a getter cannot answer one thing to
  // the checks and another to the signature.
  const t = {};
  for (const k of Object.keys(given)) {
    const d = Object.getOwnPropertyDescriptor(given, k);
    if (!('value' in d)) {
      throw invalidParams(`transaction field ${k} is an accessor, not a value`);
    }
    if (!txKeys.has(k) && d.value !== undefined) {
      throw invalidParams(`transaction field ${k} is not supported`);
    }
    t[k] = d.value;
  }
  const tx = {};
  if (t.from !== undefined && t.from !== null) {
    tx.from = requireAccount(ctx, addressParam(t.from, method, 'from'));
  } else {
    tx.from = requireAccount(ctx, ctx.wallet.address);
  }
  if (t.to !== undefined && t.to !== null && t.to !== '') {
    tx.to = addressParam(t.to, method, 'to');
  }
  for (const name of ['value', 'nonce', 'gasPrice', 'maxFeePerGas', 'maxPriorityFeePerGas', 'type', 'chainId']) {
    if (t[name] !== undefined && t[name] !== null) {
      tx[name] = quantityParam(t[name], name);
    }
  }
  const gas = t.gas ?? t.gasLimit;
  if (t.gas !== undefined && t.gasLimit !== undefined && t.gas !== t.gasLimit) {
    throw invalidParams('transaction gas and gasLimit differ');
  }
  if (gas !== undefined && gas !== null) {
    tx.gas = quantityParam(gas, 'gas');
    if (tx.gas === 0n) {
      throw invalidParams('transaction gas must be positive');
    }
  }
  for (const name of ['data', 'input']) {
    if (t[name] !== undefined && t[name] !== null && !isHexData(t[name])) {
      throw invalidParams(`transaction ${name} must be 0x-prefixed hex of whole bytes`);
    }
  }
  if (t.data != null && t.input != null && t.data.toLowerCase() !== t.input.toLowerCase()) {
    throw invalidParams('transaction data and input differ');
  }
  tx.data = (t.input ?? t.data ?? '0x').toLowerCase();
  if (t.accessList !== undefined && t.accessList !== null) {
    tx.accessList = canonicalAccessList(t.accessList, 'transaction accessList');
  }
  if (tx.chainId !== undefined && hexOf(tx.chainId) !== chain.id) {
    throw invalidParams(`transaction chainId ${hexOf(tx.chainId)} is not the provider's chain ${chain.id}`);
  }
  const has1559 = tx.maxFeePerGas !== undefined || tx.maxPriorityFeePerGas !== undefined;
  if (tx.type !== undefined) {
    if (tx.type > 2n) {
      throw invalidParams(`transaction type ${hexOf(tx.type)} is not supported (0x0, 0x1 or 0x2)`);
    }
    if (tx.type < 2n && has1559) {
      throw invalidParams(`a type ${hexOf(tx.type)} transaction has no maxFeePerGas or maxPriorityFeePerGas`);
    }
    if (tx.type === 2n && tx.gasPrice !== undefined) {
      throw invalidParams('a type 0x2 transaction has no gasPrice; give maxFeePerGas');
    }
    if (tx.type === 0n && tx.accessList !== undefined && tx.accessList.length > 0) {
      throw invalidParams('a type 0x0 transaction has no accessList');
    }
  } else if (has1559 && tx.gasPrice !== undefined) {
    throw invalidParams('transaction has both gasPrice and EIP-1559 fees');
  }
  if (tx.maxFeePerGas !== undefined && tx.maxPriorityFeePerGas !== undefined && tx.maxPriorityFeePerGas > tx.maxFeePerGas) {
    throw invalidParams('transaction maxPriorityFeePerGas exceeds maxFeePerGas');
  }
  return tx;
}

// The tip when the node cannot suggest one: 1 gwei.
const fallbackPriorityFee = 1000000000n;

// Fills what the transaction lacks from the node, simulating it on the way,
// and returns the complete transaction in the device module's form.
async function fillTransaction(ctx, chain, tx) {
  const call = { from: tx.from, data: tx.data };
  if (tx.to !== undefined) {
    call.to = tx.to;
  }
  if (tx.value !== undefined) {
    call.value = hexOf(tx.value);
  }
  if (tx.accessList !== undefined) {
    call.accessList = tx.accessList;
  }

  let type = tx.type;
  let baseFee;
  if (type === 2n || (type === undefined && tx.gasPrice === undefined)) {
    const block = await nodeRequest(ctx, chain, 'eth_getBlockByNumber', ['latest', false]);
    if (block && typeof block.baseFeePerGas === 'string' && hexQuantity.test(block.baseFeePerGas)) {
      baseFee = BigInt(block.baseFeePerGas);
    }
  }
  if (type === undefined) {
    if (tx.maxFeePerGas !== undefined || tx.maxPriorityFeePerGas !== undefined) {
      type = 2n;
    } else if (tx.gasPrice === undefined && baseFee !== undefined) {
      type = 2n;
    } else {
      type = tx.accessList !== undefined && tx.accessList.length > 0 ? 1n : 0n;
    }
  }

  const out = { type: hexOf(type), chainId: chain.id, data: tx.data, value: hexOf(tx.value ?? 0n) };
  if (tx.to !== undefined) {
    out.to = tx.to;
  }
  if (type > 0n) {
    out.accessList = tx.accessList ?? [];
  }

  // Simulation first: a revert is reported before the node is asked for
  // anything else, and long before the signing session.
  if (tx.gas === undefined) {
    out.gas = hexOf(BigInt(await simulate(ctx, chain, 'eth_estimateGas', [call])));
  } else {
    out.gas = hexOf(tx.gas);
    await simulate(ctx, chain, 'eth_call', [{ ...call, gas: out.gas }, 'latest']);
  }

  if (type === 2n) {
    if (baseFee === undefined && tx.maxFeePerGas === undefined) {
      throw new ProviderRpcError(ProviderErrorCode.INVALID_PARAMS,
        `duet: chain ${caip2(chain.id)} reports no base fee; give maxFeePerGas or send a legacy transaction`);
    }
    let tip = tx.maxPriorityFeePerGas;
    if (tip === undefined) {
      try {
        tip = BigInt(await nodeRequest(ctx, chain, 'eth_maxPriorityFeePerGas', []));
      } catch {
        tip = fallbackPriorityFee;
      }
      if (tx.maxFeePerGas !== undefined && tip > tx.maxFeePerGas) {
        tip = tx.maxFeePerGas;
      }
    }
    // Twice the base fee keeps the transaction valid through several full
    // blocks; only the base fee actually paid and the tip are charged.
    const feeCap = tx.maxFeePerGas ?? baseFee * 2n + tip;
    out.maxPriorityFeePerGas = hexOf(tip);
    out.maxFeePerGas = hexOf(feeCap);
  } else {
    out.gasPrice = hexOf(tx.gasPrice ?? BigInt(await nodeRequest(ctx, chain, 'eth_gasPrice', [])));
  }
  out.nonce = hexOf(tx.nonce ?? BigInt(await nodeRequest(ctx, chain, 'eth_getTransactionCount', [tx.from, 'pending'])));
  return out;
}

// Prepares a transaction on chain, has it approved and signed; returns
// {raw, hash}.
async function signTransaction(ctx, chain, params, method) {
  const tx = parseTransactionRequest(ctx, params, method, chain);
  const filled = await fillTransaction(ctx, chain, tx);
  const signed = await ctx.wallet.authorize({
    kind: RequestKind.TRANSACTION,
    method,
    chainId: caip2(chain.id),
    address: tx.from,
    transaction: filled,
  });
  if (!signed || !isHexData(signed.raw) || typeof signed.hash !== 'string') {
    throw new ProviderRpcError(ProviderErrorCode.INTERNAL_ERROR, 'duet: device module returned a malformed transaction');
  }
  return signed;
}

// ---- Chains ----

function chainParam(params, method) {
  const [p] = paramList(params, method, '[{chainId}]', 1);
  if (p === null || typeof p !== 'object') {
    throw invalidParams(`${method} wants params [{chainId}]`);
  }
  if (typeof p.chainId !== 'string' || !/^0x(?:0|[1-9a-fA-F][0-9a-fA-F]*)$/.test(p.chainId)) {
    throw invalidParams(`${method} chainId must be a 0x hex quantity`);
  }
  return { p, chainId: normalizeChainId(p.chainId) };
}

function switchChain(ctx, chainId) {
  if (ctx.chainId === chainId) {
    return;
  }
  ctx.chainId = chainId;
  ctx.emit('chainChanged', chainId);
}

// The RPC URL of a chain: the app's rpcConfig first, then the chains the
// user approved adding.
function chainUrl(ctx, chainId) {
  return ctx.rpc.get(chainId) ?? ctx.added.get(chainId);
}

function requireAddress(ctx, address, method) {
  addressParam(address, method);
  return requireAccount(ctx, address);
}

async function signMessage(ctx, chain, method, address, bytes) {
  requireAddress(ctx, address, method);
  const sig = await ctx.wallet.authorize({
    kind: RequestKind.MESSAGE, method, chainId: caip2(chain.id), address, message: bytesToHex(bytes),
  });
  return sig.signature;
}

// The methods the provider answers itself: name → (ctx, params, chain) →
// result or Promise. Private and frozen: nothing outside this module can
// reach or replace an entry.
const methods = Object.freeze(Object.assign(Object.create(null), {
  eth_accounts(ctx) {
    return accounts(ctx);
  },

  eth_requestAccounts(ctx) {
    const list = accounts(ctx);
    if (list.length === 0) {
      throw new ProviderRpcError(ProviderErrorCode.UNAUTHORIZED, 'duet: there is no wallet on this device', { code: ErrorCode.NO_WALLET });
    }
    // EIP-1193's connect, once, when a dapp first asks for the accounts.
    if (!ctx.connectEmitted) {
      ctx.connectEmitted = true;
      ctx.emit('connect', { chainId: ctx.chainId });
    }
    return list;
  },

  eth_chainId(ctx, params, chain) {
    return chain.id;
  },

  personal_sign(ctx, params, chain) {
    const [message, address] = paramList(params, 'personal_sign', '[message, address]', 2);
    return signMessage(ctx, chain, 'personal_sign', address, personalMessageBytes(message));
  },

  // eth_sign as Ethereum's JSON-RPC defines it (and geth implements it):
  // the data is signed with the EIP-191 prefix, so it can never be made to
  // sign a transaction's hash.
  eth_sign(ctx, params, chain) {
    const [address, data] = paramList(params, 'eth_sign', '[address, data]', 2);
    if (!isHexData(data)) {
      throw invalidParams('eth_sign data must be 0x-prefixed hex of whole bytes');
    }
    return signMessage(ctx, chain, 'eth_sign', address, hexToBytes(data));
  },

  async eth_signTypedData_v4(ctx, params, chain) {
    const [address, data] = paramList(params, 'eth_signTypedData_v4', '[address, typedData]', 2);
    requireAddress(ctx, address, 'eth_signTypedData_v4');
    if (typeof data !== 'string' && (data === null || typeof data !== 'object')) {
      throw invalidParams('eth_signTypedData_v4 typed data must be an object or its JSON');
    }
    // Parsed here once, strictly, into a copy: the dapp's object is not read
    // again, whatever it does to it after this call.
    const typedData = canonicalTypedData(data);
    const domainChain = typedData.domain.chainId;
    if (domainChain !== undefined && normalizeChainId(BigInt(domainChain)) !== chain.id) {
      throw invalidParams(`eth_signTypedData_v4 domain.chainId ${domainChain} is not the provider's chain ${BigInt(chain.id)}`);
    }
    const sig = await ctx.wallet.authorize({
      kind: RequestKind.TYPED_DATA, method: 'eth_signTypedData_v4', chainId: caip2(chain.id), address, typedData,
    });
    return sig.signature;
  },

  async eth_signTransaction(ctx, params, chain) {
    return (await signTransaction(ctx, chain, params, 'eth_signTransaction')).raw;
  },

  // Runs after every earlier eth_sendTransaction of this provider has
  // reached the node, so that each one's pending nonce counts the others.
  // It is signed for, and sent to, the chain it was requested on.
  eth_sendTransaction(ctx, params, chain) {
    const run = async () => {
      const signed = await signTransaction(ctx, chain, params, 'eth_sendTransaction');
      return nodeRequest(ctx, chain, 'eth_sendRawTransaction', [signed.raw]);
    };
    const result = ctx.sendQueue.then(run, run);
    ctx.sendQueue = result.catch(() => {});
    return result;
  },

  // A chain of the app's rpcConfig is switched to at once; one the user
  // added is switched to once approved again.
  async wallet_switchEthereumChain(ctx, params) {
    const { chainId } = chainParam(params, 'wallet_switchEthereumChain');
    if (chainId === ctx.chainId || ctx.rpc.has(chainId)) {
      switchChain(ctx, chainId);
      return null;
    }
    const url = ctx.added.get(chainId);
    if (url === undefined) {
      throw new ProviderRpcError(ProviderErrorCode.UNRECOGNIZED_CHAIN,
        `duet: chain ${caip2(chainId)} has no RPC URL; add it with wallet_addEthereumChain or in rpcConfig`);
    }
    await ctx.wallet.authorize({ kind: RequestKind.SWITCH_CHAIN, method: 'wallet_switchEthereumChain', chainId: caip2(chainId), rpcUrl: url });
    switchChain(ctx, chainId);
    return null;
  },

  // A chain of the app's rpcConfig is switched to. Any other is added only
  // if its first RPC URL is https (http only on a loopback address), its
  // node answers eth_chainId with the chain asked for, and the user
  // approves; then it is switched to, as wallets do after adding one.
  async wallet_addEthereumChain(ctx, params) {
    const { p, chainId } = chainParam(params, 'wallet_addEthereumChain');
    if (ctx.rpc.has(chainId)) {
      switchChain(ctx, chainId);
      return null;
    }
    if (!Array.isArray(p.rpcUrls) || p.rpcUrls.length === 0) {
      throw invalidParams('wallet_addEthereumChain wants rpcUrls, a non-empty array of URLs');
    }
    let url;
    try {
      url = checkChainRpcUrl(p.rpcUrls[0]);
    } catch (err) {
      throw invalidParams('wallet_addEthereumChain rpcUrls[0]: ' + err.message.replace(/^duet: /, ''));
    }
    const answered = await rpcRequest(ctx, chainId, url, 'eth_chainId', []);
    let nodeChain;
    try {
      nodeChain = normalizeChainId(answered);
    } catch {
      nodeChain = String(answered);
    }
    if (nodeChain !== chainId) {
      throw invalidParams(`wallet_addEthereumChain: the node at ${url} is on chain ${nodeChain}, not ${chainId}`);
    }
    const request = { kind: RequestKind.ADD_CHAIN, method: 'wallet_addEthereumChain', chainId: caip2(chainId), rpcUrl: url };
    if (typeof p.chainName === 'string' && p.chainName.length <= 100) {
      request.chainName = p.chainName;
    }
    await ctx.wallet.authorize(request);
    ctx.added.set(chainId, url);
    switchChain(ctx, chainId);
    return null;
  },
}));

// Methods that belong to wallets, or that would make the node sign or hold
// keys, are never passed to the node: unless listed in `methods`, they are
// unsupported.
const walletOnlyPrefixes = ['wallet_', 'personal_', 'eth_sign', 'eth_subscribe', 'eth_unsubscribe', 'eth_coinbase',
  'eth_getEncryptionPublicKey', 'eth_decrypt', 'metamask_', 'snap_'];

function passesToNode(method) {
  return !walletOnlyPrefixes.some((p) => method.startsWith(p)) && /^[a-z][a-z0-9]*_[A-Za-z0-9_]+$/.test(method);
}

/** The info of Duet's EIP-6963 announcement, but for its per-session uuid. */
export const providerInfo = Object.freeze({
  name: 'Duet',
  rdns: 'dev.duetwallet',
  icon: 'data:image/svg+xml,' + encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#1f3b57"/>' +
    '<circle cx="12" cy="16" r="7" fill="#7fd1c7"/><circle cx="20" cy="16" r="7" fill="#f2b84b" fill-opacity=".85"/></svg>'),
});

/**
 * Announces provider to dapps by EIP-6963: now, and again whenever a dapp
 * dispatches eip6963:requestProvider on target. Returns a function that
 * stops answering.
 *
 * @param {DuetProvider} provider
 * @param {EventTarget} [target] defaults to window
 */
export function announceProvider(provider, target = globalThis.window) {
  if (!target || typeof target.dispatchEvent !== 'function' || typeof globalThis.CustomEvent !== 'function') {
    return () => {};
  }
  const uuid = globalThis.crypto?.randomUUID?.() ?? randomUUIDv4();
  const detail = Object.freeze({ info: Object.freeze({ uuid, ...providerInfo }), provider });
  const announce = () => target.dispatchEvent(new CustomEvent('eip6963:announceProvider', { detail }));
  target.addEventListener('eip6963:requestProvider', announce);
  announce();
  return () => target.removeEventListener('eip6963:requestProvider', announce);
}

function randomUUIDv4() {
  const b = globalThis.crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = bytesToHex(b).slice(2);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const eventNames = new Set(['accountsChanged', 'chainChanged', 'connect', 'disconnect', 'message']);

/**
 * The EIP-1193 provider of one Duet wallet.
 *
 * Its signer is what signs: `address` (string or null) and
 * `authorize(request)`, which parses, freezes, has approved and signs a
 * request (see host.js) and resolves with {signature} or, for a transaction,
 * {raw, hash}. A Duet passes its device host; the provider itself cannot
 * sign. If the signer has `attach(control)`, it is called once with
 * {emit(event, ...args), disconnect(err)}, the provider's events.
 */
export class DuetProvider {
  #ctx;
  #listeners = new Map();
  #disconnected = null;

  /**
   * @param {{address: string | null, authorize: (request: object) => Promise<object>, attach?: Function}} signer
   * @param {object} [options]
   * @param {number | string} [options.chainId] the chain to start on: a
   *   number, 0x hex or 'eip155:N'; defaults to the first chain of
   *   rpcConfig, else 1337
   * @param {Record<string, string>} [options.rpcConfig] RPC URL per CAIP-2
   *   chain id, for every method the provider does not answer itself
   * @param {typeof fetch} [options.fetch] for the RPC; default globalThis.fetch
   */
  constructor(signer, options = {}) {
    if (signer === null || typeof signer !== 'object' || typeof signer.authorize !== 'function') {
      throw new TypeError('duet: DuetProvider wants a signer with authorize(request)');
    }
    const { chainId, rpc } = checkProviderOptions(options);
    const f = options.fetch ?? globalThis.fetch?.bind(globalThis);
    this.#ctx = {
      wallet: signer,
      chainId,
      rpc,
      added: new Map(),
      fetch: typeof f === 'function' ? f : () => Promise.reject(new Error('no fetch')),
      sendQueue: Promise.resolve(),
      connectEmitted: false,
      emit: (event, ...args) => this.#emit(event, ...args),
    };
    if (typeof signer.attach === 'function') {
      signer.attach(Object.freeze({
        emit: (event, ...args) => this.#emit(event, ...args),
        disconnect: (err) => this.#disconnect(err),
      }));
    }
  }

  /** Tells dapps that look for it that this provider is Duet. */
  get isDuet() {
    return true;
  }

  /** The current chain id, as 0x hex. */
  get chainId() {
    return this.#ctx.chainId;
  }

  /** Reports whether the provider can serve requests. */
  isConnected() {
    return this.#disconnected === null;
  }

  /**
   * Serves one EIP-1193 request. Rejections are ProviderRpcErrors with a
   * numeric code; an SDK error's code is kept in `data.code`, and a node's
   * JSON-RPC error keeps its code, message and data.
   *
   * @param {{method: string, params?: unknown[] | object}} args
   */
  async request(args) {
    if (args === null || typeof args !== 'object' || typeof args.method !== 'string' || args.method === '') {
      throw new ProviderRpcError(ProviderErrorCode.INVALID_REQUEST, 'duet: request wants {method, params}');
    }
    const { method, params } = args;
    if (params !== undefined && (params === null || typeof params !== 'object')) {
      throw invalidParams('params must be an array or an object');
    }
    const own = Object.hasOwn(methods, method);
    if (!own && !passesToNode(method)) {
      throw new ProviderRpcError(ProviderErrorCode.UNSUPPORTED_METHOD, `duet: method ${method} is not supported`);
    }
    if (this.#disconnected !== null) {
      throw new ProviderRpcError(ProviderErrorCode.DISCONNECTED, this.#disconnected.message, this.#disconnected.data);
    }
    // The chain of this request, fixed now for all it does.
    const chainId = this.#ctx.chainId;
    const chain = Object.freeze({ id: chainId, url: chainUrl(this.#ctx, chainId) });
    try {
      if (own) {
        return await methods[method](this.#ctx, params ?? [], chain);
      }
      return await nodeRequest(this.#ctx, chain, method, params ?? []);
    } catch (err) {
      throw toProviderError(err);
    }
  }

  /** Adds listener for event; returns the provider, as Node's EventEmitter does. */
  on(event, listener) {
    if (typeof listener !== 'function') {
      throw new TypeError('duet: listener must be a function');
    }
    if (!eventNames.has(event)) {
      throw new TypeError(`duet: unknown provider event ${String(event)}`);
    }
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener);
    return this;
  }

  /** Adds listener for the next event only. */
  once(event, listener) {
    if (typeof listener !== 'function') {
      throw new TypeError('duet: listener must be a function');
    }
    const wrapper = (...args) => {
      this.removeListener(event, wrapper);
      listener(...args);
    };
    wrapper.listener = listener;
    return this.on(event, wrapper);
  }

  /** Removes listener; returns the provider. */
  removeListener(event, listener) {
    const set = this.#listeners.get(event);
    if (set) {
      for (const l of set) {
        // A once() wrapper is removed by the listener it wraps too.
        if (l === listener || l.listener === listener) {
          set.delete(l);
          break;
        }
      }
    }
    return this;
  }

  /** Same as removeListener. */
  off(event, listener) {
    return this.removeListener(event, listener);
  }

  /** The number of listeners for event. */
  listenerCount(event) {
    const set = this.#listeners.get(event);
    return set ? set.size : 0;
  }

  #emit(event, ...args) {
    const set = this.#listeners.get(event);
    if (!set) {
      return;
    }
    for (const listener of [...set]) {
      callListener(listener, ...args);
    }
  }

  #disconnect(err) {
    if (this.#disconnected !== null) {
      return;
    }
    const sdkCode = err && typeof err.code === 'string' ? err.code : ErrorCode.CLOSED;
    this.#disconnected = new ProviderRpcError(
      ProviderErrorCode.DISCONNECTED,
      err && err.message ? err.message : 'duet: disconnected',
      { code: sdkCode },
    );
    this.#emit('disconnect', this.#disconnected);
  }
}

Object.freeze(DuetProvider.prototype);
Object.freeze(DuetProvider);
Object.freeze(ProviderRpcError.prototype);
