// Types of @duetwallet/sdk: the Duet class, its options, errors and their
// codes, progress events, the EIP-1193 provider and the approval hook.

/** Stable error codes of DuetError. */
export declare const ErrorCode: Readonly<{
  /** An option is missing or malformed. */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT';
  /** The server rejected the client API key. */
  UNAUTHORIZED: 'UNAUTHORIZED';
  /** The client API key is valid but may not do this. */
  FORBIDDEN: 'FORBIDDEN';
  /** There is no wallet (on this device, or on the server). */
  NO_WALLET: 'NO_WALLET';
  /** A wallet already exists, so another cannot be created. */
  WALLET_EXISTS: 'WALLET_EXISTS';
  /** The backup password or key does not open the backup. */
  WRONG_PASSWORD: 'WRONG_PASSWORD';
  /** The wallet has no confirmed backup for the requested method. */
  NOT_BACKED_UP: 'NOT_BACKED_UP';
  /** The backup drill found that a method's backup no longer recovers the wallet. */
  BACKUP_BROKEN: 'BACKUP_BROKEN';
  /** The organization has not authorised eject for this wallet. */
  EJECT_NOT_AUTHORIZED: 'EJECT_NOT_AUTHORIZED';
  /** The server, the device module or the worker script could not be reached. */
  NETWORK: 'NETWORK';
  /** The MPC protocol aborted: a check on the peer's messages failed. */
  PROTOCOL_ABORT: 'PROTOCOL_ABORT';
  /** The server failed or answered something the SDK cannot use. */
  SERVER_ERROR: 'SERVER_ERROR';
  /** Another change of this wallet is running, or the client has too many sessions open: retry later. */
  BUSY: 'BUSY';
  /** Too many backups, refreshes, recoveries or aborted sessions: retry at the time the message gives. */
  RATE_LIMITED: 'RATE_LIMITED';
  /** A session frame did not decode: a bug or a tampered connection. */
  BAD_FRAME: 'BAD_FRAME';
  /** This device's share belongs to a generation the server has retired. */
  STALE_DEVICE: 'STALE_DEVICE';
  /** This device was removed from the wallet, or retired by a recovery: addDevice or recoverWallet brings the wallet back. */
  DEVICE_REMOVED: 'DEVICE_REMOVED';
  /** Adding a device with a code failed: the code did not match, no device was waiting, the request expired or was replaced, or the new device did not answer. Nothing was added. */
  APPROVAL_FAILED: 'APPROVAL_FAILED';
  /** A broken invariant, a crashed worker or an exited device module. */
  INTERNAL: 'INTERNAL';
  /** The browser lacks Web Workers, IndexedDB or WebCrypto (which needs a secure context). */
  UNSUPPORTED: 'UNSUPPORTED';
  /** A Content-Security-Policy refused the device worker or WebAssembly: it needs worker-src 'self' and script-src 'self' 'wasm-unsafe-eval'. */
  CSP_BLOCKED: 'CSP_BLOCKED';
  /** The Duet instance was closed. */
  CLOSED: 'CLOSED';
  /** The user (or the app's approval hook) did not approve the request. */
  REJECTED: 'REJECTED';
}>;

/** One of the values of ErrorCode. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Every failure of the SDK: an Error with a stable code. */
export declare class DuetError extends Error {
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown });
  readonly name: 'DuetError';
  readonly code: ErrorCode;
}

/** How a backup share is encrypted, and so how it is opened again. */
export declare const BackupMethod: Readonly<{
  PASSWORD: 'password';
  /** A passkey of the app's relying party (WebAuthn PRF); the key is derived on the device. */
  PASSKEY: 'passkey';
  /** A 32-byte key the app keeps (see GoogleDriveKeyStorage). */
  CUSTOM: 'custom';
  /** @deprecated The former name of CUSTOM. */
  APP: 'app';
}>;
export type BackupMethod = (typeof BackupMethod)[keyof typeof BackupMethod];

/** The kinds of request the approval point is shown. */
export declare const RequestKind: Readonly<{
  MESSAGE: 'message';
  TYPED_DATA: 'typedData';
  TRANSACTION: 'transaction';
  DIGEST: 'digest';
  ADD_CHAIN: 'addChain';
  SWITCH_CHAIN: 'switchChain';
  /** approveDevice: another device may sign with the wallet once approved. */
  APPROVE_DEVICE: 'approve-device';
}>;
export type RequestKind = (typeof RequestKind)[keyof typeof RequestKind];

/** The default of ConnectOptions.loadTimeoutMs. */
export declare const DEFAULT_LOAD_TIMEOUT_MS: 120000;

/** The default of ConnectOptions.connectTimeoutMs. */
export declare const DEFAULT_CONNECT_TIMEOUT_MS: 10000;

/** A 0x-prefixed hex string. */
export type Hex = `0x${string}`;

/** A progress event of an operation. */
export interface ProgressEvent {
  /** The public method that reports it: 'connect', 'createWallet', 'signMessage', … */
  operation: string;
  /** Where the operation is: 'check', 'load', 'ready', 'mpc', 'commit', … */
  phase: string;
  /** The MPC protocol of phase 'mpc': 'keygen', 'aux', 'sign', 'refresh', … */
  protocol?: string;
  /** The protocol's round. */
  round?: number;
  /** More, for a person. */
  detail?: string;
  /** Operation 'sparePrimes': the sets of spare primes the device holds, and how many it searches for. */
  sparePrimes?: number;
  wanted?: number;
}

export type ProgressListener = (event: ProgressEvent) => void;

/**
 * The frozen description of a request, as the approval hook is shown it and
 * as it will be signed.
 */
export interface SignatureRequest {
  readonly kind: RequestKind;
  readonly method: string;
  readonly chainId?: string;
  readonly address?: string;
  readonly message?: Hex;
  readonly digest?: Hex;
  readonly typedData?: unknown;
  readonly transaction?: Readonly<Record<string, unknown>>;
  /** Kind 'approve-device': the new device's code, as "1234 5678" (null in isolation mode, where the frame asks for it). */
  readonly code?: string | null;
  readonly [field: string]: unknown;
}

export interface Hooks {
  /** Resolves true to approve; anything else, or a throw, rejects with REJECTED. */
  onSignatureRequest?: (request: SignatureRequest) => boolean | Promise<boolean>;
}

interface ConnectOptionsBase {
  /** The server's base URL; default the origin the SDK was loaded from. */
  url?: string;
  /** Receives every progress event of this Duet's operations. */
  onProgress?: ProgressListener;
  /** The provider's chain: 'eip155:N', a number or 0x hex; default the first chain of rpcConfig, else 1337. */
  chainId?: number | string;
  /** The JSON-RPC URL of each chain, by CAIP-2 id: { 'eip155:1': 'https://…' }. */
  rpcConfig?: Record<string, string>;
  /** The approval hook; without it (and without autoApprove) the SDK shows its own dialog. */
  hooks?: Hooks;
  /** Approve every request without asking anyone; default false. */
  autoApprove?: boolean;
  /** Announce duet.provider by EIP-6963; default true. */
  announceProvider?: boolean;
  /** Run the device party and the approval dialog in the server's isolation frame. */
  isolation?: boolean | { frameUrl?: string };
  /** Where duet.wasm is; default beside the SDK (a bundler's asset). */
  wasmUrl?: string | URL;
  /** Where wasm_exec.js is; default beside the SDK (a bundler's asset). */
  wasmExecUrl?: string | URL;
  /** Where worker.js is; default beside the SDK (a bundler's worker chunk). */
  workerUrl?: string | URL;
  /** How long loading the device module may take before connect fails with NETWORK; default 120000. */
  loadTimeoutMs?: number;
  /** How long connect's first request (the key and server check) may wait for an answer before NETWORK; default 10000. */
  connectTimeoutMs?: number;
  /** Run aux-info after createWallet and keep a pool of presignatures in the background; default true. */
  background?: boolean;
  /** Search for the safe primes of the device's next Paillier keys in the background, from connect; default: as background. */
  sparePrimes?: boolean;
  /** The fetch for the server's API and the chains' RPC; default globalThis.fetch. */
  fetch?: typeof globalThis.fetch;
}

/** Either a client API key, or a function that returns client session tokens. */
export type ConnectOptions = ConnectOptionsBase &
  (
    | {
        /** The client API key (duet_cli_…) the organization's backend made for this user. */
        apiKey: string;
        getSessionToken?: undefined;
      }
    | {
        apiKey?: undefined;
        /**
         * Returns a client session token (duet_cst_…) that the app's backend
         * minted with POST /v1/clients/{id}/session-tokens; called at connect,
         * before the token expires, and once more when the server refuses it.
         * Not in isolation mode.
         */
        getSessionToken: () => Promise<string>;
      }
  );

export interface OperationOptions {
  onProgress?: ProgressListener;
}

/** WebAuthn options of a passkey backup; the relying party defaults to the page's domain. */
export interface PasskeyOptions {
  rpId?: string;
  rpName?: string;
  userName?: string;
  userDisplayName?: string;
}

export type BackupCredential =
  | { method: 'password'; password: string }
  | ({ method: 'passkey'; key?: undefined } & PasskeyOptions)
  | { method: 'passkey' | 'custom' | 'app'; key: Uint8Array };

export type BackupOptions = BackupCredential & OperationOptions;

/** addDevice without a backup: another device of the wallet approves this one with the code it shows. */
export interface ApprovalOptions extends OperationOptions {
  method: 'approval';
  /**
   * Receives the code to show, as "1234 5678", once the server holds the
   * request; without it the SDK shows the code in its own dialog. Refused in
   * isolation mode, where the frame shows it.
   */
  onCode?: (code: string) => void;
}

export interface WalletState {
  hasShare: boolean;
  /** The last server session named another active pair: the share is kept but cannot sign. */
  stale: boolean;
  /** The server refused this device with DEVICE_REMOVED (kept across reloads): it was removed from the wallet, or retired by a recovery. */
  removed: boolean;
  address: Hex | null;
  generation: number;
  /** This device's id, as listDevices names it, where the device module knows it. */
  deviceId: string | null;
  /** Sets of safe primes kept for the device's next Paillier keys. */
  sparePrimes: number;
  /** Presignatures pooled for signing. */
  presignatures: number;
  /** The size of the device module's WebAssembly memory, in bytes: its peak, since it never shrinks. */
  moduleMemoryBytes: number;
}

/** One signing device of the wallet, as listDevices reports it. */
export interface DeviceInfo {
  /** The device's id, hex. */
  id: string;
  /** When the device was added (ISO 8601). */
  createdAt: string;
  /** When the device last used the wallet (ISO 8601), or null if never. */
  lastUsedAt: string | null;
  /** Whether it is this device. */
  current: boolean;
}

export interface WalletInfo {
  walletId: string;
  address: Hex;
  publicKey: string;
  generation: number;
}

export interface BackupStatus {
  walletId: string;
  backedUp: boolean;
  recoveryMethods: BackupMethod[];
  /** For each recovery method, when its backup drill last passed (ISO 8601), or null. */
  lastVerifiedAt: Partial<Record<BackupMethod, string | null>>;
  ejectAuthorized: boolean;
}

export interface DigestSignature {
  r: Hex;
  s: Hex;
  yParity: 0 | 1;
  /** r‖s‖v, v = 27 + yParity. */
  signature: Hex;
}

/** A complete transaction for signTransaction: canonical 0x hex quantities. */
export interface TransactionFields {
  type: '0x0' | '0x1' | '0x2';
  chainId: Hex;
  nonce: Hex;
  gas: Hex;
  gasPrice?: Hex;
  maxFeePerGas?: Hex;
  maxPriorityFeePerGas?: Hex;
  to?: Hex | null;
  value?: Hex;
  data?: Hex;
  accessList?: { address: Hex; storageKeys: Hex[] }[];
}

export interface TypedData {
  types: Record<string, { name: string; type: string }[]>;
  primaryType: string;
  domain: Record<string, unknown>;
  message: Record<string, unknown>;
}

/** A connection to one wallet on this device and on the Duet server. */
export declare class Duet {
  private constructor();
  /** Starts the device worker, loads the device module and reads this device's wallet state. */
  static connect(options: ConnectOptions): Promise<Duet>;
  /** Whether this Duet runs in isolation mode. */
  readonly isolated: boolean;
  /** The EIP-1193 provider of this wallet. */
  readonly provider: DuetProvider;
  /** The server's base URL. */
  readonly url: string;
  /** The address of the wallet on this device, or null. */
  readonly address: Hex | null;
  /** Whether close() was called or the device worker failed. */
  readonly closed: boolean;
  isWalletOnDevice(): boolean;
  deviceState(): Promise<WalletState>;
  /** Resolves with the address once key generation commits; aux-info then runs in the background. */
  createWallet(options?: OperationOptions): Promise<{ address: Hex; generation: number }>;
  /** Whether aux-info has run, so that a signature starts at once. */
  isSigningReady(): Promise<boolean>;
  on(event: 'signingReady', listener: () => void): void;
  off(event: 'signingReady', listener: () => void): void;
  signDigest(digest: Uint8Array | Hex, options?: OperationOptions): Promise<DigestSignature>;
  signMessage(message: string | Uint8Array, options?: OperationOptions): Promise<Hex>;
  hashTypedData(typedData: TypedData | string): Promise<Uint8Array>;
  signTypedData(typedData: TypedData | string, options?: OperationOptions): Promise<Hex>;
  signTransaction(tx: TransactionFields, options?: OperationOptions): Promise<{ raw: Hex; hash: Hex }>;
  backupWallet(options: BackupOptions): Promise<{ method: BackupMethod }>;
  recoverWallet(options: BackupOptions): Promise<{ address: Hex; generation: number }>;
  ejectPrivateKey(options: BackupOptions): Promise<Hex>;
  refreshWallet(options?: OperationOptions): Promise<{ generation: number }>;
  /** The backup drill: proves the method's backup still recovers the wallet, without recovering it. */
  verifyBackup(options: BackupOptions): Promise<{ method: BackupMethod; verified: true; lastVerifiedAt: string | null }>;
  /** Deletes one method's backup pair at the custodian; the device proves it holds the signing share. */
  removeBackupMethod(method: BackupMethod, options?: OperationOptions): Promise<{ method: BackupMethod }>;
  /** Adds this device to the wallet through a backup method, or approved from another device with a code; the other devices keep signing. */
  addDevice(options: BackupOptions | ApprovalOptions): Promise<{ address: Hex; generation: number; deviceId: string }>;
  /**
   * Approves a new device (addDevice with method 'approval' there) with the
   * code it shows, after the approval point; resolves once the new device
   * opened its share. In isolation mode give no code: the frame asks for it.
   */
  approveDevice(code?: string, options?: OperationOptions): Promise<void>;
  /** The wallet's signing devices; this device proves it holds a signing share. */
  listDevices(options?: OperationOptions): Promise<DeviceInfo[]>;
  /** Removes a device from the wallet: its server share is deleted and it no longer signs. */
  removeDevice(id: string, options?: OperationOptions): Promise<{ id: string }>;
  getWalletInfo(): Promise<WalletInfo | null>;
  getBackupStatus(): Promise<BackupStatus | null>;
  doesWalletExist(): Promise<boolean>;
  isWalletBackedUp(method?: BackupMethod): Promise<boolean>;
  isWalletRecoverable(): Promise<boolean>;
  availableRecoveryMethods(): Promise<BackupMethod[]>;
  /** Stops the device worker; running operations reject with CLOSED. */
  close(): void;
}

/** Where an app keeps the keys of its custom backups. */
export interface KeyStorage {
  /** The wallet's key, or null if none is stored. */
  load(walletId: string): Promise<Uint8Array | null>;
  /** Stores the wallet's key; refuses to replace a different one. */
  save(walletId: string, key: Uint8Array): Promise<void>;
}

/** Keeps backup keys in the user's Google Drive appDataFolder (Drive v3 REST API). */
export declare class GoogleDriveKeyStorage implements KeyStorage {
  constructor(options: {
    /** The app's OAuth access token (scope drive.appdata), or a function giving a current one. */
    accessToken: string | (() => Promise<string>);
    baseUrl?: string;
    fetch?: typeof fetch;
    fileName?: (walletId: string) => string;
  });
  load(walletId: string): Promise<Uint8Array | null>;
  save(walletId: string, key: Uint8Array): Promise<void>;
}

/** The wallet's key from storage, or a fresh random one saved and read back. */
export declare function loadOrCreateKey(storage: KeyStorage, walletId: string): Promise<Uint8Array>;

/** Returns the server's base URL without query, fragment or trailing slash. */
export declare function normalizeServerUrl(url: string): string;

/** Returns the client id inside a client API key or session token, or null. */
export declare function clientIdFromApiKey(apiKey: string): string | null;

/** Returns when a client session token expires, in ms since 1970, or null for another string. */
export declare function sessionTokenExpiry(token: string): number | null;

/** EIP-1193 error codes of the provider. */
export declare const ProviderErrorCode: Readonly<{
  USER_REJECTED_REQUEST: 4001;
  UNAUTHORIZED: 4100;
  UNSUPPORTED_METHOD: 4200;
  DISCONNECTED: 4900;
  CHAIN_DISCONNECTED: 4901;
  UNRECOGNIZED_CHAIN: 4902;
  EXECUTION_REVERTED: 3;
  INVALID_REQUEST: -32600;
  INVALID_PARAMS: -32602;
  INTERNAL_ERROR: -32603;
}>;
export type ProviderErrorCode = (typeof ProviderErrorCode)[keyof typeof ProviderErrorCode];

/** An EIP-1193 error; an SDK error's code is kept in data.code. */
export declare class ProviderRpcError extends Error {
  constructor(code: number, message: string, data?: unknown);
  readonly name: 'ProviderRpcError';
  readonly code: number;
  readonly data?: { code?: ErrorCode; [k: string]: unknown } | unknown;
}

export interface RequestArguments {
  readonly method: string;
  readonly params?: readonly unknown[] | object;
}

export interface ProviderEvents {
  accountsChanged: (accounts: Hex[]) => void;
  chainChanged: (chainId: Hex) => void;
  connect: (info: { chainId: Hex }) => void;
  disconnect: (error: ProviderRpcError) => void;
  message: (message: { type: string; data: unknown }) => void;
}

/** The EIP-1193 provider of a Duet (duet.provider). */
export declare class DuetProvider {
  private constructor();
  readonly isDuet: true;
  /** The current chain id, as 0x hex. */
  readonly chainId: Hex;
  isConnected(): boolean;
  request(args: RequestArguments): Promise<any>;
  on<E extends keyof ProviderEvents>(event: E, listener: ProviderEvents[E]): this;
  once<E extends keyof ProviderEvents>(event: E, listener: ProviderEvents[E]): this;
  removeListener<E extends keyof ProviderEvents>(event: E, listener: ProviderEvents[E]): this;
  off<E extends keyof ProviderEvents>(event: E, listener: ProviderEvents[E]): this;
  listenerCount(event: keyof ProviderEvents): number;
}

/** The EIP-6963 info Duet announces its provider with. */
export declare const providerInfo: Readonly<{ name: 'Duet'; rdns: 'dev.duetwallet'; icon: string }>;
