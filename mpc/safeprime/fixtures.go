package safeprime

import (
	_ "embed"
	"errors"
	"math/big"
	"strings"
)

//go:embed testdata/safeprimes_1024.txt
var fixtures string

// Fixtures returns eight fixed 1024-bit safe primes, for test fixtures only:
// they are public, so a key built from them protects nothing. Tests of other
// packages use them to build Paillier keys without generating primes.
func Fixtures() ([]*big.Int, error) {
	var primes []*big.Int
	for line := range strings.Lines(fixtures) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p, ok := new(big.Int).SetString(line, 16)
		if !ok {
			return nil, errors.New("safeprime: malformed fixture line")
		}
		primes = append(primes, p)
	}
	return primes, nil
}
