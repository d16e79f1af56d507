package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"

	"github.com/duetwallet/duet/wire"
)

// Transaction types Duet signs: EIP-155 legacy, EIP-2930 and EIP-1559.
// Blob and set-code transactions need more than a wallet's signature (blob
// sidecars, authorizations) and are refused.
const (
	TxTypeLegacy     = types.LegacyTxType
	TxTypeAccessList = types.AccessListTxType
	TxTypeDynamicFee = types.DynamicFeeTxType
)

// ErrInvalidTransaction is wrapped by every error of ParseTransaction.
var ErrInvalidTransaction = errors.New("bridge: invalid transaction")

// ErrInvalidTypedData is wrapped by every error of TypedDataHash.
var ErrInvalidTypedData = errors.New("bridge: invalid typed data")

// txFields is the JSON the SDK's provider sends once it has filled every
// field from the node: quantities as 0x hex, as in Ethereum's JSON-RPC.
type txFields struct {
	Type                 *hexutil.Uint64   `json:"type"`
	ChainID              *hexutil.Big      `json:"chainId"`
	Nonce                *hexutil.Uint64   `json:"nonce"`
	To                   *common.Address   `json:"to"`
	Value                *hexutil.Big      `json:"value"`
	Data                 *hexutil.Bytes    `json:"data"`
	Gas                  *hexutil.Uint64   `json:"gas"`
	GasPrice             *hexutil.Big      `json:"gasPrice"`
	MaxFeePerGas         *hexutil.Big      `json:"maxFeePerGas"`
	MaxPriorityFeePerGas *hexutil.Big      `json:"maxPriorityFeePerGas"`
	AccessList           *types.AccessList `json:"accessList"`
}

func invalidTx(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidTransaction, fmt.Sprintf(format, args...))
}

// ParseTransaction reads a complete unsigned transaction from JSON and
// returns it with the EIP-155 signer of its chain. Nothing is filled in or
// defaulted except an absent value (zero) and data (empty): the nonce, gas
// and fees must be the ones the user approved, so a missing one is an error
// rather than a guess. A missing "to" creates a contract.
func ParseTransaction(txJSON []byte) (*types.Transaction, types.Signer, error) {
	// encoding/json matches keys ignoring case and keeps the last of two
	// equal ones; the walk first makes sure each key is written exactly
	// once, exactly as named.
	if err := checkTransactionKeys(txJSON); err != nil {
		return nil, nil, invalidTx("%v", err)
	}
	var f txFields
	dec := json.NewDecoder(bytes.NewReader(txJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, nil, invalidTx("%v", err)
	}
	if dec.More() {
		return nil, nil, invalidTx("trailing data after the transaction")
	}
	if f.Type == nil {
		return nil, nil, invalidTx("type is required")
	}
	if f.ChainID == nil || f.ChainID.ToInt().Sign() <= 0 {
		return nil, nil, invalidTx("chainId must be a positive quantity")
	}
	if f.Nonce == nil {
		return nil, nil, invalidTx("nonce is required")
	}
	if f.Gas == nil || *f.Gas == 0 {
		return nil, nil, invalidTx("gas must be a positive quantity")
	}
	chainID := f.ChainID.ToInt()
	value := new(big.Int)
	if f.Value != nil {
		value = f.Value.ToInt()
	}
	var data []byte
	if f.Data != nil {
		data = *f.Data
	}
	nonce, gas := uint64(*f.Nonce), uint64(*f.Gas)

	var inner types.TxData
	switch t := uint64(*f.Type); t {
	case TxTypeLegacy, TxTypeAccessList:
		if f.GasPrice == nil {
			return nil, nil, invalidTx("a type %d transaction needs gasPrice", t)
		}
		if f.MaxFeePerGas != nil || f.MaxPriorityFeePerGas != nil {
			return nil, nil, invalidTx("a type %d transaction has no maxFeePerGas or maxPriorityFeePerGas", t)
		}
		if t == TxTypeLegacy {
			if f.AccessList != nil && len(*f.AccessList) > 0 {
				return nil, nil, invalidTx("a legacy transaction has no access list")
			}
			inner = &types.LegacyTx{Nonce: nonce, GasPrice: f.GasPrice.ToInt(), Gas: gas, To: f.To, Value: value, Data: data}
		} else {
			inner = &types.AccessListTx{ChainID: chainID, Nonce: nonce, GasPrice: f.GasPrice.ToInt(), Gas: gas, To: f.To, Value: value, Data: data, AccessList: accessList(f.AccessList)}
		}
	case TxTypeDynamicFee:
		if f.MaxFeePerGas == nil || f.MaxPriorityFeePerGas == nil {
			return nil, nil, invalidTx("a type 2 transaction needs maxFeePerGas and maxPriorityFeePerGas")
		}
		if f.GasPrice != nil {
			return nil, nil, invalidTx("a type 2 transaction has no gasPrice")
		}
		feeCap, tipCap := f.MaxFeePerGas.ToInt(), f.MaxPriorityFeePerGas.ToInt()
		if tipCap.Cmp(feeCap) > 0 {
			return nil, nil, invalidTx("maxPriorityFeePerGas %v exceeds maxFeePerGas %v", tipCap, feeCap)
		}
		inner = &types.DynamicFeeTx{ChainID: chainID, Nonce: nonce, GasTipCap: tipCap, GasFeeCap: feeCap, Gas: gas, To: f.To, Value: value, Data: data, AccessList: accessList(f.AccessList)}
	default:
		return nil, nil, invalidTx("type %d is not supported (want 0, 1 or 2)", t)
	}
	return types.NewTx(inner), types.LatestSignerForChainID(chainID), nil
}

func checkTransactionKeys(txJSON []byte) error {
	v, err := decodeStrict(txJSON)
	if err != nil {
		return err
	}
	o, ok := v.(*jsonObject)
	if !ok {
		return errors.New("a transaction must be a JSON object")
	}
	if err := exactKeys(o, "transaction", false, "type", "chainId", "nonce", "to", "value", "data", "gas",
		"gasPrice", "maxFeePerGas", "maxPriorityFeePerGas", "accessList"); err != nil {
		return err
	}
	if list, ok := o.vals["accessList"].([]any); ok {
		for i, e := range list {
			entry, ok := e.(*jsonObject)
			if !ok {
				return fmt.Errorf("accessList[%d] must be an object", i)
			}
			if err := exactKeys(entry, fmt.Sprintf("accessList[%d]", i), true, "address", "storageKeys"); err != nil {
				return err
			}
		}
	}
	return nil
}

func accessList(l *types.AccessList) types.AccessList {
	if l == nil {
		return nil
	}
	return *l
}

// TransactionDigest is the hash the wallet signs for tx under signer.
func TransactionDigest(tx *types.Transaction, signer types.Signer) [32]byte {
	return signer.Hash(tx)
}

// SignedTransaction is a transaction ready for eth_sendRawTransaction.
type SignedTransaction struct {
	Raw  []byte      // the EIP-2718 encoding
	Hash common.Hash // the transaction hash
	From common.Address
}

// AttachSignature adds sig (r ‖ s ‖ v, v ∈ {0, 1}) to tx and checks that the
// signature recovers to from, so that a transaction the node would credit
// to another sender never leaves the device.
func AttachSignature(tx *types.Transaction, signer types.Signer, sig []byte, from common.Address) (*SignedTransaction, error) {
	if len(sig) != 65 || sig[64] > 1 {
		return nil, errors.New("bridge: signature must be 65 bytes r ‖ s ‖ v with v in {0, 1}")
	}
	signed, err := tx.WithSignature(signer, sig)
	if err != nil {
		return nil, fmt.Errorf("bridge: attach signature: %w", err)
	}
	sender, err := types.Sender(signer, signed)
	if err != nil {
		return nil, fmt.Errorf("bridge: recover sender: %w", err)
	}
	if sender != from {
		return nil, fmt.Errorf("bridge: signature recovers to %s, not the wallet's %s", sender.Hex(), from.Hex())
	}
	raw, err := signed.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("bridge: encode transaction: %w", err)
	}
	return &SignedTransaction{Raw: raw, Hash: signed.Hash(), From: sender}, nil
}

// SignTransaction signs a complete unsigned transaction (see
// ParseTransaction) with the wallet, in one signing session with the server.
func (d *Device) SignTransaction(ctx context.Context, txJSON []byte) (*SignedTransaction, error) {
	tx, signer, err := ParseTransaction(txJSON)
	if err != nil {
		return nil, &Error{Code: wire.CodeInvalidArgument, Err: err}
	}
	info, err := d.State(ctx)
	if err != nil {
		return nil, err
	}
	if info == nil {
		return nil, codeErr(wire.CodeNoWallet, "bridge: no wallet on this device")
	}
	sig, err := d.Sign(ctx, TransactionDigest(tx, signer))
	if err != nil {
		return nil, err
	}
	signed, err := AttachSignature(tx, signer, sig.Bytes(), common.HexToAddress(info.Address))
	if err != nil {
		return nil, &Error{Code: wire.CodeInternal, Err: err}
	}
	return signed, nil
}

// TypedDataHash is the EIP-712 digest that eth_signTypedData_v4 signs:
// keccak256("\x19\x01" ‖ domainSeparator ‖ hashStruct(message)), computed by
// go-ethereum from the JSON typed data (types, primaryType, domain, message).
//
// The JSON must be in the canonical form the SDK produces (see
// checkCanonicalTypedData): go-ethereum reads JSON leniently (keys in any
// letter case, the last of two equal keys, integers of several spellings,
// an out-of-range int8), and each of those leniencies is a way for what is
// hashed to differ from what the user was shown. Anything else is refused.
func TypedDataHash(typedDataJSON []byte) ([]byte, error) {
	if err := checkCanonicalTypedData(typedDataJSON); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidTypedData, err)
	}
	var td apitypes.TypedData
	if err := json.Unmarshal(typedDataJSON, &td); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidTypedData, err)
	}
	if td.PrimaryType == "" {
		return nil, fmt.Errorf("%w: primaryType is required", ErrInvalidTypedData)
	}
	if _, ok := td.Types["EIP712Domain"]; !ok {
		return nil, fmt.Errorf("%w: types has no EIP712Domain", ErrInvalidTypedData)
	}
	if _, ok := td.Types[td.PrimaryType]; !ok {
		return nil, fmt.Errorf("%w: types has no primary type %q", ErrInvalidTypedData, td.PrimaryType)
	}
	// The typed data comes from a dapp; a panic in the encoder on input it
	// chose must not take the device module down.
	hash, err := typedDataAndHash(td)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidTypedData, err)
	}
	return hash, nil
}

func typedDataAndHash(td apitypes.TypedData) (hash []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("encoding failed: %v", r)
		}
	}()
	hash, _, err = apitypes.TypedDataAndHash(td)
	return hash, err
}
