// A wagmi connector for Duet: @duetwallet/sdk/wagmi.
//
//     import { createConfig, http } from 'wagmi';
//     import { duet } from '@duetwallet/sdk/wagmi';
//
//     const config = createConfig({
//       chains: [mainnet],
//       connectors: [duet({ url: 'https://duet.example', apiKey: () => fetchClientKey() })],
//       transports: { [mainnet.id]: http() },
//     });
//
// connect() starts the Duet (Duet.connect), creates the wallet on this device
// if it has none (unless createWallet is false), and asks the provider for
// the accounts. The provider's RPC goes to each chain's first HTTP RPC URL in
// the wagmi config, unless rpcConfig is given. The Duet's provider is not
// announced by EIP-6963 unless announceProvider is true: the connector is how
// wagmi finds it, and an announced copy would show as a second wallet.

import { createConnector } from '@wagmi/core';
import { getAddress, numberToHex, SwitchChainError, UserRejectedRequestError } from 'viem';
import { Duet, DuetError, ErrorCode, providerInfo } from './duet.js';

/** The storage key under which the connector remembers a connection. */
const connectedKey = 'duet.connected';

/**
 * Returns a wagmi connector for Duet.
 *
 * @param {object} parameters Duet.connect's options, with apiKey a string or
 *   a function that resolves to one (or, instead, getSessionToken as
 *   Duet.connect takes it), and createWallet (default true): create the
 *   wallet when this device has none
 */
export function duet(parameters) {
  if (parameters === null || typeof parameters !== 'object') {
    throw new DuetError(ErrorCode.INVALID_ARGUMENT, 'duet: the wagmi connector wants options');
  }
  const { apiKey, createWallet = true, ...options } = parameters;
  if (options.getSessionToken !== undefined ? apiKey !== undefined : typeof apiKey !== 'string' && typeof apiKey !== 'function') {
    throw new DuetError(ErrorCode.INVALID_ARGUMENT, 'duet: the wagmi connector wants apiKey, a string or a function that returns one, or else getSessionToken');
  }

  return createConnector((config) => {
    let instance = null;
    let starting = null;
    let accountsChanged;
    let chainChanged;
    let disconnect;

    function rpcConfig() {
      if (options.rpcConfig !== undefined) {
        return options.rpcConfig;
      }
      const out = {};
      for (const chain of config.chains) {
        const url = chain.rpcUrls?.default?.http?.[0];
        if (typeof url === 'string') {
          out['eip155:' + chain.id] = url;
        }
      }
      return out;
    }

    async function getDuet() {
      if (instance !== null && !instance.closed) {
        return instance;
      }
      if (starting === null) {
        starting = (async () => {
          const key = typeof apiKey === 'function' ? await apiKey() : apiKey;
          return Duet.connect({
            announceProvider: false,
            chainId: config.chains[0]?.id,
            ...options,
            rpcConfig: rpcConfig(),
            ...(key === undefined ? {} : { apiKey: key }),
          });
        })();
        starting.then((d) => {
          instance = d;
        }, () => {}).finally(() => {
          starting = null;
        });
      }
      return starting;
    }

    return {
      id: 'duet',
      name: providerInfo.name,
      type: 'duet',
      icon: providerInfo.icon,
      rdns: providerInfo.rdns,

      getDuet,

      async connect({ chainId, isReconnecting, withCapabilities } = {}) {
        const d = await getDuet();
        if (!d.isWalletOnDevice()) {
          if (isReconnecting || !createWallet) {
            throw new DuetError(ErrorCode.NO_WALLET, 'duet: there is no wallet on this device');
          }
          await d.createWallet();
        }
        const provider = d.provider;
        let accounts;
        try {
          accounts = (await provider.request({ method: 'eth_requestAccounts' })).map((a) => getAddress(a));
        } catch (err) {
          if (err?.code === 4001) {
            throw new UserRejectedRequestError(err);
          }
          throw err;
        }
        if (!accountsChanged) {
          accountsChanged = this.onAccountsChanged.bind(this);
          provider.on('accountsChanged', accountsChanged);
        }
        if (!chainChanged) {
          chainChanged = this.onChainChanged.bind(this);
          provider.on('chainChanged', chainChanged);
        }
        if (!disconnect) {
          disconnect = this.onDisconnect.bind(this);
          provider.on('disconnect', disconnect);
        }
        let current = await this.getChainId();
        if (chainId !== undefined && chainId !== current) {
          current = (await this.switchChain({ chainId })).id;
        }
        await config.storage?.setItem(connectedKey, true);
        return {
          accounts: withCapabilities ? accounts.map((address) => ({ address, capabilities: {} })) : accounts,
          chainId: current,
        };
      },

      async disconnect() {
        const d = instance;
        if (d !== null) {
          const provider = d.provider;
          if (accountsChanged) provider.removeListener('accountsChanged', accountsChanged);
          if (chainChanged) provider.removeListener('chainChanged', chainChanged);
          if (disconnect) provider.removeListener('disconnect', disconnect);
        }
        accountsChanged = chainChanged = disconnect = undefined;
        instance = null;
        await config.storage?.removeItem(connectedKey);
        d?.close();
      },

      async getAccounts() {
        const d = await getDuet();
        return (await d.provider.request({ method: 'eth_accounts' })).map((a) => getAddress(a));
      },

      async getChainId() {
        const d = await getDuet();
        return Number(d.provider.chainId);
      },

      async getProvider() {
        return (await getDuet()).provider;
      },

      async isAuthorized() {
        try {
          if (!(await config.storage?.getItem(connectedKey))) {
            return false;
          }
          return (await getDuet()).isWalletOnDevice();
        } catch {
          return false;
        }
      },

      async switchChain({ chainId }) {
        const chain = config.chains.find((c) => c.id === chainId);
        if (!chain) {
          throw new SwitchChainError(new Error(`duet: chain ${chainId} is not in the wagmi config`));
        }
        const d = await getDuet();
        try {
          await d.provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: numberToHex(chainId) }] });
        } catch (err) {
          if (err?.code === 4001) {
            throw new UserRejectedRequestError(err);
          }
          throw new SwitchChainError(err);
        }
        return chain;
      },

      onAccountsChanged(accounts) {
        if (accounts.length === 0) {
          this.onDisconnect();
        } else {
          config.emitter.emit('change', { accounts: accounts.map((a) => getAddress(a)) });
        }
      },

      onChainChanged(chain) {
        config.emitter.emit('change', { chainId: Number(chain) });
      },

      async onDisconnect() {
        config.emitter.emit('disconnect');
        await this.disconnect();
      },
    };
  });
}
