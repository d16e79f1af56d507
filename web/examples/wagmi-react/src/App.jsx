import { useState } from 'react';
import {
  useBalance,
  useConnect,
  useConnection,
  useConnectors,
  useDisconnect,
  useSendTransaction,
  useSignMessage,
  useWaitForTransactionReceipt,
} from 'wagmi';
import { formatEther, isAddress, parseEther, verifyMessage } from 'viem';

// What a failure says to the user: a DuetError's code and message, or
// wagmi's and viem's short message.
function describe(err) {
  if (!err) {
    return '';
  }
  const code = err.code ?? err.cause?.code ?? err.cause?.data?.code;
  const message = err.shortMessage ?? err.message ?? String(err);
  return typeof code === 'string' ? `${code}: ${message}` : message;
}

export function App() {
  const connection = useConnection();
  const connectors = useConnectors();
  const connect = useConnect();
  const disconnect = useDisconnect();
  const balance = useBalance({ address: connection.address, query: { refetchInterval: 2000 } });
  const sign = useSignMessage();
  const send = useSendTransaction();
  const receipt = useWaitForTransactionReceipt({ hash: send.data });

  const [message, setMessage] = useState('Hello from Duet');
  const [verified, setVerified] = useState(null);
  const [to, setTo] = useState('');
  const [amount, setAmount] = useState('0.01');

  const duetConnector = connectors.find((c) => c.id === 'duet');
  const error = connect.error ?? sign.error ?? send.error ?? receipt.error;

  async function onSign() {
    setVerified(null);
    const signature = await sign.mutateAsync({ message });
    setVerified(await verifyMessage({ address: connection.address, message, signature }));
  }

  return (
    <main>
      <h1>Duet + wagmi</h1>
      <p>
        Status: <span id="status">{connect.isPending ? 'connecting' : connection.status}</span>
      </p>

      {connection.status !== 'connected' ? (
        <button id="connect" disabled={!duetConnector || connect.isPending} onClick={() => connect.mutate({ connector: duetConnector })}>
          {connect.isPending ? 'Connecting… (the first time, Duet creates your wallet)' : 'Connect Duet'}
        </button>
      ) : (
        <>
          <p>
            Address: <code id="address">{connection.address}</code>{' '}
            <button id="disconnect" onClick={() => disconnect.mutate()}>Disconnect</button>
          </p>
          <p>
            Balance: <span id="balance">{balance.data ? formatEther(balance.data.value) : '…'}</span> ETH
          </p>

          <section>
            <h2>Sign a message</h2>
            <input id="message" value={message} onChange={(e) => setMessage(e.target.value)} />
            <button id="sign" disabled={sign.isPending} onClick={() => onSign().catch(() => {})}>Sign</button>
            {sign.data && (
              <p>
                Signature: <code id="signature">{sign.data}</code>
                <br />
                Verified with viem: <span id="verified">{verified === null ? '…' : String(verified)}</span>
              </p>
            )}
          </section>

          <section>
            <h2>Send</h2>
            <input id="to" placeholder="0x… recipient" value={to} onChange={(e) => setTo(e.target.value)} />
            <input id="amount" value={amount} onChange={(e) => setAmount(e.target.value)} /> ETH
            <button
              id="send"
              disabled={send.isPending || !isAddress(to)}
              onClick={() => send.mutate({ to, value: parseEther(amount) })}
            >
              Send
            </button>
            {send.data && (
              <p>
                Transaction: <code id="tx-hash">{send.data}</code>
                <br />
                Receipt: <span id="tx-status">{receipt.data ? receipt.data.status : 'pending'}</span>
              </p>
            )}
          </section>
        </>
      )}

      {error && (
        <p id="error" role="alert">
          {describe(error)}
        </p>
      )}
    </main>
  );
}
