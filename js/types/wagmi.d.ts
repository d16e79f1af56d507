// Types of @duetwallet/sdk/wagmi, the wagmi connector.

import type { CreateConnectorFn } from '@wagmi/core';
import type { ConnectOptions, Duet, DuetProvider } from './duet.js';

interface DuetConnectorBase extends Omit<ConnectOptions, 'apiKey' | 'getSessionToken'> {
  /** Create the wallet on connect when this device has none; default true. */
  createWallet?: boolean;
}

export type DuetConnectorParameters = DuetConnectorBase &
  (
    | {
        /** The client API key, or a function that fetches it (from the app's backend) when connecting. */
        apiKey: string | (() => string | Promise<string>);
        getSessionToken?: undefined;
      }
    | {
        apiKey?: undefined;
        /** Client session tokens from the app's backend, as Duet.connect takes them. */
        getSessionToken: () => Promise<string>;
      }
  );

/** A wagmi connector for Duet: connect, sign and send through duet.provider. */
export declare function duet(
  parameters: DuetConnectorParameters,
): CreateConnectorFn<DuetProvider, { getDuet(): Promise<Duet> }>;
