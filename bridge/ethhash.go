package bridge

import "strconv"

// PersonalMessageHash is EIP-191's hash for personal_sign:
// keccak256("\x19Ethereum Signed Message:\n" + len(message) + message).
func PersonalMessageHash(message []byte) []byte {
	prefix := "\x19Ethereum Signed Message:\n" + strconv.Itoa(len(message))
	return keccak(append([]byte(prefix), message...))
}
