// Where the app finds the Duet server, the chain and the client API key.
//
// Query parameters override the defaults, so one build can be pointed at
// any local setup: ?duet=http://127.0.0.1:8080&rpc=http://127.0.0.1:8545
// &apiKey=duet_cli_…. A real app fetches the client's key (or a session
// token) from its own backend instead; without ?apiKey, this example asks a
// Duet server in dev mode for its demo client's key.
import { createConfig, http } from 'wagmi';
import { defineChain } from 'viem';
import { duet } from '@duetwallet/sdk/wagmi';

const params = new URLSearchParams(globalThis.location?.search ?? '');

export const duetUrl = params.get('duet') ?? import.meta.env.VITE_DUET_URL ?? 'http://127.0.0.1:8080';
export const rpcUrl = params.get('rpc') ?? import.meta.env.VITE_RPC_URL ?? 'http://127.0.0.1:8545';

async function apiKey() {
  const given = params.get('apiKey') ?? import.meta.env.VITE_DUET_API_KEY;
  if (given) {
    return given;
  }
  const res = await fetch(duetUrl + '/dev/client-key', { cache: 'no-store' });
  if (!res.ok) {
    throw new Error(`no API key: pass ?apiKey=…, or run duetd --dev (GET /dev/client-key answered ${res.status})`);
  }
  return (await res.json()).clientApiKey;
}

/** geth --dev's chain. */
export const devChain = defineChain({
  id: 1337,
  name: 'Local chain (geth --dev)',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  rpcUrls: { default: { http: [rpcUrl] } },
});

export const config = createConfig({
  chains: [devChain],
  connectors: [duet({ url: duetUrl, apiKey })],
  transports: { [devChain.id]: http(rpcUrl) },
  // Duet is reached through its connector, not found among injected wallets.
  multiInjectedProviderDiscovery: false,
});
