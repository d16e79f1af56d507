// A page for make test-sdk: an app that starts Duet itself, announces it by
// EIP-6963, and lets wagmi find it among the injected wallets. wagmi must
// not be connected before it asks, and its connect() must then succeed
// (a provider that emitted connect on its own made it throw
// ConnectorAlreadyConnectedError). The outcome is written to #result.
import { Duet } from '@duetwallet/sdk';
import { connect, createConfig, getConnection, getConnectors, http } from '@wagmi/core';
import { defineChain } from 'viem';

const params = new URLSearchParams(location.search);
const rpc = params.get('rpc');
const chain = defineChain({
  id: 1337,
  name: 'geth --dev',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  rpcUrls: { default: { http: [rpc] } },
});

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

async function run() {
  const config = createConfig({ chains: [chain], transports: { [chain.id]: http(rpc) }, multiInjectedProviderDiscovery: true });
  const duet = await Duet.connect({
    url: params.get('duet'),
    apiKey: params.get('apiKey'),
    autoApprove: true,
    rpcConfig: { 'eip155:1337': rpc },
  });
  let connector;
  for (let i = 0; i < 100 && !connector; i++) {
    connector = getConnectors(config).find((c) => c.id === 'dev.duetwallet' || c.rdns === 'dev.duetwallet');
    await sleep(50);
  }
  if (!connector) {
    throw new Error('wagmi did not find Duet by EIP-6963');
  }
  // Time for a connect event, had the provider emitted one by itself.
  await sleep(500);
  const before = getConnection(config).status;
  const res = await connect(config, { connector });
  return {
    connectorName: connector.name,
    before,
    after: getConnection(config).status,
    accounts: res.accounts,
    chainId: res.chainId,
    duetAddress: duet.address,
  };
}

run().then(
  (r) => {
    document.getElementById('result').textContent = JSON.stringify({ ok: true, ...r });
  },
  (err) => {
    document.getElementById('result').textContent = JSON.stringify({ ok: false, name: err?.name, message: String(err?.message ?? err) });
  },
);
