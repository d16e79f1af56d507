package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/duetwallet/duet/mpc/curve"
)

// The device encodes the three transaction types it signs itself (see
// ethtypes.go): go-ethereum's core/types package would bring blob
// transactions and their KZG tables (megabytes) into the module, and its
// rlp and crypto packages a reflection-driven codec and more.

// AccessTuple is one entry of an EIP-2930 access list.
type AccessTuple struct {
	Address     Address
	StorageKeys []Hash
}

// UnmarshalJSON reads {"address": …, "storageKeys": […]}, both required and
// neither null.
func (a *AccessTuple) UnmarshalJSON(b []byte) error {
	var v struct {
		Address     *Address `json:"address"`
		StorageKeys *[]Hash  `json:"storageKeys"`
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
	To         *Address // nil creates a contract
	Value      *big.Int
	Data       []byte
	AccessList AccessList // types 1 and 2
}

// fields are the RLP-encoded list items of tx before its signature: the
// payload of the signing hash of a typed transaction, and of the signed
// encoding of every type.
func (tx *Transaction) fields() [][]byte {
	var to []byte
	if tx.To != nil {
		to = tx.To[:]
	}
	to = rlpBytes(to)
	switch tx.Type {
	case TxTypeLegacy:
		return [][]byte{rlpUint(tx.Nonce), rlpBig(tx.GasPrice), rlpUint(tx.Gas), to, rlpBig(tx.Value), rlpBytes(tx.Data)}
	case TxTypeAccessList:
		return [][]byte{rlpBig(tx.ChainID), rlpUint(tx.Nonce), rlpBig(tx.GasPrice), rlpUint(tx.Gas), to, rlpBig(tx.Value), rlpBytes(tx.Data), tx.AccessList.rlp()}
	case TxTypeDynamicFee:
		return [][]byte{rlpBig(tx.ChainID), rlpUint(tx.Nonce), rlpBig(tx.GasTipCap), rlpBig(tx.GasFeeCap), rlpUint(tx.Gas), to, rlpBig(tx.Value), rlpBytes(tx.Data), tx.AccessList.rlp()}
	}
	panic(fmt.Sprintf("bridge: transaction type %d", tx.Type))
}

// rlp is the list of [address, [storage keys]] lists.
func (al AccessList) rlp() []byte {
	tuples := make([][]byte, len(al))
	for i, t := range al {
		keys := make([][]byte, len(t.StorageKeys))
		for j := range t.StorageKeys {
			keys[j] = rlpBytes(t.StorageKeys[j][:])
		}
		tuples[i] = rlpList(rlpBytes(t.Address[:]), rlpList(keys...))
	}
	return rlpList(tuples...)
}

// encode is the EIP-2718 encoding of items: RLP for a legacy transaction,
// the type byte then RLP for the others.
func (tx *Transaction) encode(items [][]byte) []byte {
	b := rlpList(items...)
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
		items = append(items, rlpBig(tx.ChainID), rlpUint(0), rlpUint(0))
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
	return tx.encode(append(tx.fields(), rlpBig(v), rlpBig(r), rlpBig(s))), nil
}

// TransactionDigest is the hash the wallet signs for tx.
func TransactionDigest(tx *Transaction) [32]byte {
	return tx.SigningHash()
}

// SignedTransaction is a transaction ready for eth_sendRawTransaction.
type SignedTransaction struct {
	Raw  []byte // the EIP-2718 encoding
	Hash Hash   // the transaction hash
	From Address
}

// AttachSignature adds sig (r ‖ s ‖ v, v ∈ {0, 1}) to tx and checks that the
// signature is one a node accepts (r and s in range, s in the lower half)
// and recovers to from, so that a transaction the node would credit to
// another sender never leaves the device.
func AttachSignature(tx *Transaction, sig []byte, from Address) (*SignedTransaction, error) {
	if len(sig) != 65 || sig[64] > 1 {
		return nil, errors.New("bridge: signature must be 65 bytes r ‖ s ‖ v with v in {0, 1}")
	}
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:64])
	if !validSignatureValues(r, s) {
		return nil, errors.New("bridge: recover sender: invalid signature values")
	}
	digest := tx.SigningHash()
	// A compact signature leads with 27 + the recovery id (of an
	// uncompressed key).
	compact := make([]byte, 65)
	compact[0] = 27 + sig[64]
	copy(compact[1:], sig[:64])
	pub, _, err := ecdsa.RecoverCompact(compact, digest[:])
	if err != nil {
		return nil, fmt.Errorf("bridge: recover sender: %w", err)
	}
	sender := Address(keccak(pub.SerializeUncompressed()[1:])[12:])
	if sender != from {
		return nil, fmt.Errorf("bridge: signature recovers to %s, not the wallet's %s", sender.Hex(), from.Hex())
	}
	raw, err := tx.MarshalBinarySigned(sig)
	if err != nil {
		return nil, err
	}
	return &SignedTransaction{Raw: raw, Hash: Hash(keccak(raw)), From: sender}, nil
}

// validSignatureValues reports whether r and s are a signature Ethereum
// accepts since Homestead: both in [1, n), s at most n/2.
func validSignatureValues(r, s *big.Int) bool {
	n := curve.Order()
	half := new(big.Int).Rsh(n, 1)
	return r.Sign() > 0 && s.Sign() > 0 && r.Cmp(n) < 0 && s.Cmp(half) <= 0
}
