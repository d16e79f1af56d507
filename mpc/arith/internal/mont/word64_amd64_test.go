//go:build amd64 && !purego

package mont

import "testing"

// TestMontMulGeneric checks the portable code, which montMul replaces with
// assembly on CPUs with ADX for multiples of four limbs.
func TestMontMulGeneric(t *testing.T) { checkMontMul(t, montMulGeneric) }
