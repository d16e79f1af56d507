package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/duetwallet/duet/wire"
)

// Transaction types Duet signs: EIP-155 legacy, EIP-2930 and EIP-1559.
// Blob and set-code transactions need more than a wallet's signature (blob
// sidecars, authorizations) and are refused.
const (
	TxTypeLegacy     = 0
	TxTypeAccessList = 1
	TxTypeDynamicFee = 2
)

// ErrInvalidTransaction is wrapped by every error of ParseTransaction.
var ErrInvalidTransaction = errors.New("bridge: invalid transaction")

// ErrInvalidTypedData is wrapped by every error of TypedDataHash.
var ErrInvalidTypedData = errors.New("bridge: invalid typed data")

// txFields is the JSON the SDK's provider sends once it has filled every
// field from the node: quantities as 0x hex, as in Ethereum's JSON-RPC.
type txFields struct {
	Type                 *hexUint64  `json:"type"`
	ChainID              *hexBig     `json:"chainId"`
	Nonce                *hexUint64  `json:"nonce"`
	To                   *Address    `json:"to"`
	Value                *hexBig     `json:"value"`
	Data                 *hexData    `json:"data"`
	Gas                  *hexUint64  `json:"gas"`
	GasPrice             *hexBig     `json:"gasPrice"`
	MaxFeePerGas         *hexBig     `json:"maxFeePerGas"`
	MaxPriorityFeePerGas *hexBig     `json:"maxPriorityFeePerGas"`
	AccessList           *AccessList `json:"accessList"`
}

func invalidTx(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidTransaction, fmt.Sprintf(format, args...))
}

// ParseTransaction reads a complete unsigned transaction from JSON and
// returns it. Nothing is filled in or
// defaulted except an absent value (zero) and data (empty): the nonce, gas
// and fees must be the ones the user approved, so a missing one is an error
// rather than a guess. A missing "to" creates a contract.
func ParseTransaction(txJSON []byte) (*Transaction, error) {
	// encoding/json matches keys ignoring case and keeps the last of two
	// equal ones; the walk first makes sure each key is written exactly
	// once, exactly as named.
	if err := checkTransactionKeys(txJSON); err != nil {
		return nil, invalidTx("%v", err)
	}
	var f txFields
	dec := json.NewDecoder(bytes.NewReader(txJSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, invalidTx("%v", err)
	}
	if dec.More() {
		return nil, invalidTx("trailing data after the transaction")
	}
	if f.Type == nil {
		return nil, invalidTx("type is required")
	}
	if f.ChainID == nil || f.ChainID.toInt().Sign() <= 0 {
		return nil, invalidTx("chainId must be a positive quantity")
	}
	if f.Nonce == nil {
		return nil, invalidTx("nonce is required")
	}
	if f.Gas == nil || *f.Gas == 0 {
		return nil, invalidTx("gas must be a positive quantity")
	}
	chainID := f.ChainID.toInt()
	value := new(big.Int)
	if f.Value != nil {
		value = f.Value.toInt()
	}
	var data []byte
	if f.Data != nil {
		data = *f.Data
	}
	nonce, gas := uint64(*f.Nonce), uint64(*f.Gas)

	tx := &Transaction{ChainID: chainID, Nonce: nonce, Gas: gas, To: f.To, Value: value, Data: data}
	switch t := uint64(*f.Type); t {
	case TxTypeLegacy, TxTypeAccessList:
		if f.GasPrice == nil {
			return nil, invalidTx("a type %d transaction needs gasPrice", t)
		}
		if f.MaxFeePerGas != nil || f.MaxPriorityFeePerGas != nil {
			return nil, invalidTx("a type %d transaction has no maxFeePerGas or maxPriorityFeePerGas", t)
		}
		if t == TxTypeLegacy {
			if f.AccessList != nil && len(*f.AccessList) > 0 {
				return nil, invalidTx("a legacy transaction has no access list")
			}
			tx.Type = TxTypeLegacy
		} else {
			tx.Type, tx.AccessList = TxTypeAccessList, accessList(f.AccessList)
		}
		tx.GasPrice = f.GasPrice.toInt()
	case TxTypeDynamicFee:
		if f.MaxFeePerGas == nil || f.MaxPriorityFeePerGas == nil {
			return nil, invalidTx("a type 2 transaction needs maxFeePerGas and maxPriorityFeePerGas")
		}
		if f.GasPrice != nil {
			return nil, invalidTx("a type 2 transaction has no gasPrice")
		}
		feeCap, tipCap := f.MaxFeePerGas.toInt(), f.MaxPriorityFeePerGas.toInt()
		if tipCap.Cmp(feeCap) > 0 {
			return nil, invalidTx("maxPriorityFeePerGas %v exceeds maxFeePerGas %v", tipCap, feeCap)
		}
		tx.Type, tx.GasTipCap, tx.GasFeeCap, tx.AccessList = TxTypeDynamicFee, tipCap, feeCap, accessList(f.AccessList)
	default:
		return nil, invalidTx("type %d is not supported (want 0, 1 or 2)", t)
	}
	return tx, nil
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

func accessList(l *AccessList) AccessList {
	if l == nil {
		return nil
	}
	return *l
}

// SignTransaction signs a complete unsigned transaction (see
// ParseTransaction) with the wallet, in one signing session with the server.
func (d *Device) SignTransaction(ctx context.Context, txJSON []byte) (*SignedTransaction, error) {
	tx, err := ParseTransaction(txJSON)
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
	sig, err := d.Sign(ctx, TransactionDigest(tx))
	if err != nil {
		return nil, err
	}
	from, err := parseAddress(info.Address)
	if err != nil {
		return nil, &Error{Code: wire.CodeInternal, Err: err}
	}
	signed, err := AttachSignature(tx, sig.Bytes(), from)
	if err != nil {
		return nil, &Error{Code: wire.CodeInternal, Err: err}
	}
	return signed, nil
}

// TypedDataHash is the EIP-712 digest that eth_signTypedData_v4 signs:
// keccak256("\x19\x01" ‖ domainSeparator ‖ hashStruct(message)), computed
// from the JSON typed data (types, primaryType, domain, message).
//
// The JSON must be in the canonical form the SDK produces (see
// checkCanonicalTypedData): readers of JSON are lenient in many ways (keys in
// any letter case, the last of two equal keys, integers of several
// spellings, an out-of-range int8), and each of those leniencies is a way for
// what is hashed to differ from what the user was shown. Anything else is
// refused.
func TypedDataHash(typedDataJSON []byte) ([]byte, error) {
	td, err := checkCanonicalTypedData(typedDataJSON)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidTypedData, err)
	}
	return td.hash(), nil
}

// parseAddress reads 0x and 40 hex digits, either case.
func parseAddress(s string) (Address, error) {
	var a Address
	if len(s) != 42 || !has0x([]byte(s)) {
		return a, fmt.Errorf("bridge: malformed address %q", s)
	}
	if err := decodeHex(a[:], []byte(s[2:])); err != nil {
		return a, fmt.Errorf("bridge: malformed address %q", s)
	}
	return a, nil
}
