package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
)

// The device encodes the three transaction types it signs itself, with
// go-ethereum's rlp and crypto packages: its core/types package would bring
// blob transactions and their KZG tables (megabytes) into the module.

// AccessTuple is one entry of an EIP-2930 access list.
type AccessTuple struct {
	Address     common.Address
	StorageKeys []common.Hash
}

// UnmarshalJSON reads {"address": …, "storageKeys": […]}, both required and
// neither null.
func (a *AccessTuple) UnmarshalJSON(b []byte) error {
	var v struct {
		Address     *common.Address `json:"address"`
		StorageKeys *[]common.Hash  `json:"storageKeys"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if v.Address == nil {
		return errors.New("an access list entry needs an address")
	}
	if v.StorageKeys == nil {
		return errors.New("an access list entry needs storageKeys")
	}
	a.Address, a.StorageKeys = *v.Address, *v.StorageKeys
	return nil
}

// AccessList is an EIP-2930 access list.
type AccessList []AccessTuple

// Transaction is an unsigned transaction of type TxTypeLegacy (signed with
// EIP-155's replay protection), TxTypeAccessList (EIP-2930) or
// TxTypeDynamicFee (EIP-1559).
type Transaction struct {
	Type       uint8
	ChainID    *big.Int
	Nonce      uint64
	GasPrice   *big.Int // types 0 and 1
	GasTipCap  *big.Int // type 2: maxPriorityFeePerGas
	GasFeeCap  *big.Int // type 2: maxFeePerGas
	Gas        uint64
	To         *common.Address // nil creates a contract
	Value      *big.Int
	Data       []byte
	AccessList AccessList // types 1 and 2
}

// fields are the RLP list items of tx before its signature: the payload of
// the signing hash of a typed transaction, and of the signed encoding of
// every type.
func (tx *Transaction) fields() []any {
	var to []byte
	if tx.To != nil {
		to = tx.To.Bytes()
	}
	al := tx.AccessList
	if al == nil {
		al = AccessList{}
	}
	switch tx.Type {
	case TxTypeLegacy:
		return []any{tx.Nonce, tx.GasPrice, tx.Gas, to, tx.Value, tx.Data}
	case TxTypeAccessList:
		return []any{tx.ChainID, tx.Nonce, tx.GasPrice, tx.Gas, to, tx.Value, tx.Data, al}
	case TxTypeDynamicFee:
		return []any{tx.ChainID, tx.Nonce, tx.GasTipCap, tx.GasFeeCap, tx.Gas, to, tx.Value, tx.Data, al}
	}
	panic(fmt.Sprintf("bridge: transaction type %d", tx.Type))
}

// encode is the EIP-2718 encoding of items: RLP for a legacy transaction,
// the type byte then RLP for the others.
func (tx *Transaction) encode(items []any) []byte {
	b, err := rlp.EncodeToBytes(items)
	if err != nil {
		// Every item is a uint64, a non-negative big.Int, bytes or an
		// access list: RLP encodes all of them.
		panic("bridge: rlp: " + err.Error())
	}
	if tx.Type == TxTypeLegacy {
		return b
	}
	return append([]byte{tx.Type}, b...)
}

// SigningHash is the hash the wallet signs: EIP-155's for a legacy
// transaction (its fields, the chain ID, 0, 0), keccak256(type ‖ rlp(fields))
// for the others.
func (tx *Transaction) SigningHash() [32]byte {
	items := tx.fields()
	if tx.Type == TxTypeLegacy {
		items = append(items, tx.ChainID, uint(0), uint(0))
	}
	return [32]byte(keccak(tx.encode(items)))
}

// MarshalBinarySigned is the EIP-2718 encoding of tx with the signature
// r ‖ s ‖ v, v ∈ {0, 1}: v becomes chainID·2 + 35 + v in a legacy
// transaction and stays the y parity in the others.
func (tx *Transaction) MarshalBinarySigned(sig []byte) ([]byte, error) {
	if len(sig) != 65 || sig[64] > 1 {
		return nil, errors.New("bridge: signature must be 65 bytes r ‖ s ‖ v with v in {0, 1}")
	}
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:64])
	v := big.NewInt(int64(sig[64]))
	if tx.Type == TxTypeLegacy {
		v.Add(v, new(big.Int).Add(new(big.Int).Lsh(tx.ChainID, 1), big.NewInt(35)))
	}
	return tx.encode(append(tx.fields(), v, r, s)), nil
}

// TransactionDigest is the hash the wallet signs for tx.
func TransactionDigest(tx *Transaction) [32]byte {
	return tx.SigningHash()
}

// SignedTransaction is a transaction ready for eth_sendRawTransaction.
type SignedTransaction struct {
	Raw  []byte      // the EIP-2718 encoding
	Hash common.Hash // the transaction hash
	From common.Address
}

// AttachSignature adds sig (r ‖ s ‖ v, v ∈ {0, 1}) to tx and checks that the
// signature is one a node accepts (r and s in range, s in the lower half)
// and recovers to from, so that a transaction the node would credit to
// another sender never leaves the device.
func AttachSignature(tx *Transaction, sig []byte, from common.Address) (*SignedTransaction, error) {
	if len(sig) != 65 || sig[64] > 1 {
		return nil, errors.New("bridge: signature must be 65 bytes r ‖ s ‖ v with v in {0, 1}")
	}
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:64])
	if !crypto.ValidateSignatureValues(sig[64], r, s, true) {
		return nil, errors.New("bridge: recover sender: invalid signature values")
	}
	digest := tx.SigningHash()
	pub, err := crypto.SigToPub(digest[:], sig)
	if err != nil {
		return nil, fmt.Errorf("bridge: recover sender: %w", err)
	}
	sender := crypto.PubkeyToAddress(*pub)
	if sender != from {
		return nil, fmt.Errorf("bridge: signature recovers to %s, not the wallet's %s", sender.Hex(), from.Hex())
	}
	raw, err := tx.MarshalBinarySigned(sig)
	if err != nil {
		return nil, err
	}
	return &SignedTransaction{Raw: raw, Hash: common.BytesToHash(keccak(raw)), From: sender}, nil
}
