// A TypeScript app of @duetwallet/sdk, compiled with tsc --noEmit by make
// test-sdk against the installed package: it uses every public method,
// option and error code, so that a type the package lacks or gets wrong
// fails the build. It is type-checked, never run.

import {
  BackupMethod,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_LOAD_TIMEOUT_MS,
  Duet,
  DuetError,
  DuetProvider,
  ErrorCode,
  GoogleDriveKeyStorage,
  loadOrCreateKey,
  ProviderErrorCode,
  ProviderRpcError,
  RequestKind,
  clientIdFromApiKey,
  normalizeServerUrl,
  providerInfo,
  sessionTokenExpiry,
  type ApprovalOptions,
  type ConnectOptions,
  type DeviceInfo,
  type KeyStorage,
  type Hex,
  type ProgressEvent,
  type SignatureRequest,
} from '@duetwallet/sdk';
import { duet as duetConnector, type DuetConnectorParameters } from '@duetwallet/sdk/wagmi';
import { createConfig, http, connect, signMessage } from '@wagmi/core';
import { defineChain } from 'viem';

// What an app shows for each code: a switch that must cover them all.
function explain(code: ErrorCode): string {
  switch (code) {
    case ErrorCode.INVALID_ARGUMENT: return 'bad input';
    case ErrorCode.UNAUTHORIZED: return 'sign in again';
    case ErrorCode.FORBIDDEN: return 'not allowed';
    case ErrorCode.NO_WALLET: return 'create a wallet';
    case ErrorCode.WALLET_EXISTS: return 'you already have a wallet';
    case ErrorCode.WRONG_PASSWORD: return 'wrong password';
    case ErrorCode.NOT_BACKED_UP: return 'back up first';
    case ErrorCode.BACKUP_BROKEN: return 'back up again';
    case ErrorCode.EJECT_NOT_AUTHORIZED: return 'ask for eject';
    case ErrorCode.NETWORK: return 'check the connection';
    case ErrorCode.PROTOCOL_ABORT: return 'the server misbehaved';
    case ErrorCode.SERVER_ERROR: return 'server error';
    case ErrorCode.BUSY: return 'retry later';
    case ErrorCode.RATE_LIMITED: return 'too many attempts';
    case ErrorCode.BAD_FRAME: return 'bad frame';
    case ErrorCode.STALE_DEVICE: return 'recover this device';
    case ErrorCode.DEVICE_REMOVED: return 'add this device again';
    case ErrorCode.APPROVAL_FAILED: return 'start again with a new code';
    case ErrorCode.INTERNAL: return 'bug';
    case ErrorCode.UNSUPPORTED: return 'use another browser';
    case ErrorCode.CSP_BLOCKED: return "allow worker-src 'self' and 'wasm-unsafe-eval'";
    case ErrorCode.CLOSED: return 'closed';
    case ErrorCode.REJECTED: return 'you said no';
  }
  const never: never = code;
  return never;
}

async function main(): Promise<void> {
  const onProgress = (e: ProgressEvent): void => {
    console.log(e.operation, e.phase, e.protocol ?? '', e.round ?? 0, e.detail ?? '');
  };
  const options: ConnectOptions = {
    apiKey: 'duet_cli_00000000000000000000000000000000_secret',
    url: normalizeServerUrl('https://duet.example/'),
    onProgress,
    chainId: 'eip155:1',
    rpcConfig: { 'eip155:1': 'https://rpc.example' },
    hooks: {
      onSignatureRequest: async (r: SignatureRequest) => r.kind === RequestKind.MESSAGE || r.kind === RequestKind.TRANSACTION,
    },
    announceProvider: true,
    loadTimeoutMs: DEFAULT_LOAD_TIMEOUT_MS,
    fetch: globalThis.fetch,
  };
  const isolated: ConnectOptions = { apiKey: options.apiKey, isolation: { frameUrl: 'https://duet.example/duet-frame.html' } };
  const custom: ConnectOptions = { apiKey: options.apiKey, autoApprove: true, wasmUrl: new URL('https://cdn.example/duet.wasm'), wasmExecUrl: '/wasm_exec.js', workerUrl: '/worker.js' };
  const id: string | null = clientIdFromApiKey(options.apiKey);
  const withTokens: ConnectOptions = {
    url: 'https://duet.example',
    getSessionToken: async () => (await fetch('/api/duet-token', { method: 'POST' })).text(),
    connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS,
  };
  const expires: number | null = sessionTokenExpiry('duet_cst_…');
  const tokenParameters: DuetConnectorParameters = { getSessionToken: async () => 'duet_cst_…' };
  console.log(withTokens, expires, tokenParameters);

  let d: Duet;
  try {
    d = await Duet.connect(options);
  } catch (err) {
    if (err instanceof DuetError) {
      console.log(explain(err.code), err.message);
    }
    throw err;
  }
  await Duet.connect(isolated);
  await Duet.connect(custom);

  const isolatedMode: boolean = d.isolated;
  const url: string = d.url;
  const closed: boolean = d.closed;
  const onDevice: boolean = d.isWalletOnDevice();
  const state = await d.deviceState();
  const addr: Hex | null = state.address ?? d.address;
  const created: { address: Hex; generation: number } = await d.createWallet({ onProgress });
  const digestSig = await d.signDigest(new Uint8Array(32));
  const yParity: 0 | 1 = digestSig.yParity;
  const sig: Hex = await d.signMessage('hello', { onProgress });
  const typed = { types: { EIP712Domain: [{ name: 'name', type: 'string' }], Mail: [{ name: 'text', type: 'string' }] }, primaryType: 'Mail', domain: { name: 'x' }, message: { text: 'hi' } };
  const hash: Uint8Array = await d.hashTypedData(typed);
  const typedSig: Hex = await d.signTypedData(JSON.stringify(typed));
  const signed: { raw: Hex; hash: Hex } = await d.signTransaction({ type: '0x2', chainId: '0x1', nonce: '0x0', gas: '0x5208', maxFeePerGas: '0x1', maxPriorityFeePerGas: '0x1', to: '0x0000000000000000000000000000000000000001', value: '0x1', data: '0x', accessList: [] });
  await d.backupWallet({ method: BackupMethod.PASSWORD, password: 'correct horse' });
  await d.backupWallet({ method: 'passkey', key: new Uint8Array(32), onProgress });
  const recovered = await d.recoverWallet({ method: BackupMethod.APP, key: new Uint8Array(32) });
  await d.backupWallet({ method: BackupMethod.PASSKEY, rpId: 'example.com', rpName: 'Example' });
  const drive: KeyStorage = new GoogleDriveKeyStorage({ accessToken: async () => 'token' });
  const customKey: Uint8Array = await loadOrCreateKey(drive, 'wallet');
  await d.backupWallet({ method: BackupMethod.CUSTOM, key: customKey });
  const drill: { verified: true; lastVerifiedAt: string | null } = await d.verifyBackup({ method: 'passkey' });
  const removed: { method: BackupMethod } = await d.removeBackupMethod('custom', { onProgress });
  const added: { address: Hex; generation: number; deviceId: string } = await d.addDevice({ method: 'password', password: 'correct horse', onProgress });
  const approval: ApprovalOptions = { method: 'approval', onCode: (code: string) => console.log('type', code, 'on your other device'), onProgress };
  const byCode: { address: Hex; deviceId: string } = await d.addDevice(approval);
  await d.addDevice({ method: 'approval' });
  const approved: void = await d.approveDevice('1234 5678', { onProgress });
  await d.approveDevice();
  const approvalKind: RequestKind = RequestKind.APPROVE_DEVICE;
  const hookSeesCode = (r: SignatureRequest): boolean => r.kind === 'approve-device' && typeof r.code === 'string';
  console.log(byCode, approved, approvalKind, hookSeesCode);
  const devices: DeviceInfo[] = await d.listDevices();
  const lastUsed: string | null | undefined = devices[0]?.lastUsedAt;
  const gone: { id: string } = await d.removeDevice(added.deviceId, { onProgress });
  const removedHere: boolean = state.removed && !state.stale && state.deviceId !== '';
  const key: Hex = await d.ejectPrivateKey({ method: 'password', password: 'correct horse' });
  const refreshed: { generation: number } = await d.refreshWallet();
  const info = await d.getWalletInfo();
  const walletId: string | undefined = info?.walletId;
  const status = await d.getBackupStatus();
  const methods: BackupMethod[] = status?.recoveryMethods ?? [];
  const lastDrill: string | null | undefined = status?.lastVerifiedAt.password;
  const exists: boolean = await d.doesWalletExist();
  const backedUp: boolean = (await d.isWalletBackedUp()) && (await d.isWalletBackedUp(BackupMethod.PASSKEY));
  const recoverable: boolean = await d.isWalletRecoverable();
  const available: BackupMethod[] = await d.availableRecoveryMethods();

  const provider: DuetProvider = d.provider;
  const chain: Hex = provider.chainId;
  const isDuet: true = provider.isDuet;
  const connected: boolean = provider.isConnected();
  const accounts = (await provider.request({ method: 'eth_requestAccounts' })) as Hex[];
  const onAccounts = (a: Hex[]): void => console.log(a);
  provider.on('accountsChanged', onAccounts).on('chainChanged', (c: Hex) => console.log(c));
  provider.once('connect', (i) => console.log(i.chainId));
  provider.on('disconnect', (e: ProviderRpcError) => console.log(e.code === ProviderErrorCode.DISCONNECTED));
  provider.on('message', (m) => console.log(m.type));
  provider.removeListener('accountsChanged', onAccounts);
  provider.off('accountsChanged', onAccounts);
  const n: number = provider.listenerCount('connect');
  try {
    await provider.request({ method: 'personal_sign', params: ['0x68656c6c6f', accounts[0]] });
  } catch (err) {
    if (err instanceof ProviderRpcError && err.code === ProviderErrorCode.USER_REJECTED_REQUEST) {
      console.log('rejected');
    }
  }
  const codes: number[] = [
    ProviderErrorCode.UNAUTHORIZED, ProviderErrorCode.UNSUPPORTED_METHOD, ProviderErrorCode.CHAIN_DISCONNECTED,
    ProviderErrorCode.UNRECOGNIZED_CHAIN, ProviderErrorCode.EXECUTION_REVERTED, ProviderErrorCode.INVALID_REQUEST,
    ProviderErrorCode.INVALID_PARAMS, ProviderErrorCode.INTERNAL_ERROR,
  ];
  const kinds: RequestKind[] = [RequestKind.DIGEST, RequestKind.TYPED_DATA, RequestKind.ADD_CHAIN, RequestKind.SWITCH_CHAIN];
  const announced: string = providerInfo.name + providerInfo.rdns + providerInfo.icon;
  console.log(id, isolatedMode, url, closed, onDevice, addr, created, yParity, sig, hash, typedSig, signed, recovered, key,
    refreshed, walletId, methods, exists, backedUp, recoverable, available, chain, isDuet, connected, n, codes, kinds, announced);
  d.close();
  new DuetError(ErrorCode.INTERNAL, 'duet: made by hand');
}

// wagmi: the connector in a config, connect and sign through it.
async function withWagmi(): Promise<void> {
  const local = defineChain({
    id: 1337,
    name: 'local',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: ['http://127.0.0.1:8545'] } },
  });
  const parameters: DuetConnectorParameters = { url: 'http://127.0.0.1:8080', apiKey: async () => 'duet_cli_…', createWallet: false };
  const connector = duetConnector(parameters);
  const config = createConfig({ chains: [local], connectors: [connector], transports: { [local.id]: http() } });
  const result = await connect(config, { connector: config.connectors[0] });
  const signature = await signMessage(config, { message: 'hello' });
  console.log(result.accounts[0], result.chainId, signature);
}

void main();
void withWagmi();
