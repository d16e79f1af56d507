package cpace

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/gtank/ristretto255"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func scalar(t *testing.T, s string) *ristretto255.Scalar {
	t.Helper()
	y := ristretto255.NewScalar()
	if err := y.Decode(unhex(t, s)); err != nil {
		t.Fatal(err)
	}
	return y
}

// The test vectors of draft-irtf-cfrg-cpace for CPace with ristretto255 and
// SHA-512 (appendix "Test vector for CPace using group ristretto255 and hash
// SHA-512"), as the current revisions give them: older revisions printed a
// generator (9c5712…) that is not the element derivation of their own hash
// result under RFC 9496, and the points and keys that follow from it.
var (
	tcPRS = []byte("Password")
	tcCI  = []byte("\nAinitiator\nBresponder")
	tcSID = "7e4b4791d6a8ef019b936c79fb7f2c57"
	tcGen = `11435061636552697374726574746f3235350850617373776f726464
		00000000000000000000000000000000000000000000000000000000
		00000000000000000000000000000000000000000000000000000000
		00000000000000000000000000000000000000000000000000000000
		00000000000000000000000000000000160a41696e69746961746f72
		0a42726573706f6e646572107e4b4791d6a8ef019b936c79fb7f2c57`
	tcHash = `a5ce446f63a1ae6d1fee80fa67d0b4004a4b1283ec5549a462bf33a6
		c1ae06a0871f9bf48545f49b2a792eed255ac04f52758c9c60448306
		810b44e986e3dcbb`
	tcG    = "5e25411ca1ad7c9debfd0b33ad987a95cefef2d3f15dcc8bd26415a5dfe2e15a"
	tcYa   = "da3d23700a9e5699258aef94dc060dfda5ebb61f02a5ea77fad53f4ff0976d08"
	tcMSGa = "20383a85dd236978f17f8c8545b50dabc52a39fcdab2cf8bc531ce040ff77ca82d03414461"
	tcYb   = "d2316b454718c35362d83d69df6320f38578ed5984651435e2949762d900b80d"
	tcMSGb = "20a6206309c0e8e5f579295e35997ac4300ab3fecec3c17f7b604f3e698fa1383c03414462"
	tcK    = "fa1d0318864e2cacb26875f1b791c9ae83204fe8359addb53e95a2e98893853f"
	tcISK  = `e91ccb2c0f5e0d0993a33956e3be59754f3f2b07db57631f5394452e
		a2e7b4354674eb1f5686c078462bf83bec72e8743df440108e638f35
		26d9b90e85be096f`
)

func TestDraftVectors(t *testing.T) {
	sid := unhex(t, tcSID)
	if got := generatorString(tcPRS, tcCI, sid); !bytes.Equal(got, unhex(t, tcGen)) {
		t.Fatalf("generator string\n got %x\nwant %x", got, unhex(t, tcGen))
	}
	g := calculateGenerator(tcPRS, tcCI, sid)
	if got := g.Encode(nil); !bytes.Equal(got, unhex(t, tcG)) {
		t.Fatalf("generator %x, want %s", got, tcG)
	}
	want := ristretto255.NewElement().FromUniformBytes(unhex(t, tcHash))
	if g.Equal(want) != 1 {
		t.Fatal("the generator is not the one-way map of the draft's hash result")
	}
	ya, yb := scalar(t, tcYa), scalar(t, tcYb)
	msgA := message(ya, g, []byte("ADa"))
	msgB := message(yb, g, []byte("ADb"))
	if !bytes.Equal(msgA, unhex(t, tcMSGa)) || !bytes.Equal(msgB, unhex(t, tcMSGb)) {
		t.Fatalf("messages\n%x\n%x", msgA, msgB)
	}
	iskA, err := sharedKey(ya, msgB, sid, msgA, msgB)
	if err != nil {
		t.Fatal(err)
	}
	iskB, err := sharedKey(yb, msgA, sid, msgA, msgB)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(iskA, unhex(t, tcISK)) || !bytes.Equal(iskB, iskA) {
		t.Fatalf("ISK\n got %x\n and %x\nwant %x", iskA, iskB, unhex(t, tcISK))
	}
	Yb := ristretto255.NewElement()
	if err := Yb.Decode(msgB[1:33]); err != nil {
		t.Fatal(err)
	}
	if K := ristretto255.NewElement().ScalarMult(ya, Yb).Encode(nil); !bytes.Equal(K, unhex(t, tcK)) {
		t.Fatalf("K = %x, want %s", K, tcK)
	}
}

// The draft's scalar_mult_vfy cases: an encoding that does not decode, and
// the identity, both make the run abort.
func TestDraftInvalidElements(t *testing.T) {
	s := scalar(t, "7cd0e075fa7955ba52c02759a6c90dbbfc10e6d40aea8d283e407d88cf538a05")
	X := ristretto255.NewElement()
	if err := X.Decode(unhex(t, "2c3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c")); err != nil {
		t.Fatal(err)
	}
	if got := ristretto255.NewElement().ScalarMult(s, X).Encode(nil); !bytes.Equal(got, unhex(t, "7c13645fe790a468f62c39beb7388e541d8405d1ade69d1778c5fe3e7f6b600e")) {
		t.Fatalf("scalar_mult %x", got)
	}
	own := lvCat(make([]byte, 32), nil)
	for name, c := range map[string]struct {
		Y    string
		want error
	}{
		"does not decode": {"2b3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c", ErrMessage},
		"identity":        {"0000000000000000000000000000000000000000000000000000000000000000", ErrIdentity},
	} {
		peer := lvCat(unhex(t, c.Y), nil)
		if _, err := sharedKey(s, peer, nil, own, peer); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
		if err := CheckMessage(peer); !errors.Is(err, c.want) {
			t.Errorf("%s: CheckMessage %v, want %v", name, err, c.want)
		}
		if _, _, err := Respond(rand.Reader, tcPRS, tcCI, nil, peer); !errors.Is(err, c.want) {
			t.Errorf("%s: Respond %v, want %v", name, err, c.want)
		}
	}
}

func run(t *testing.T, pwA, pwB, ciB, sidB []byte) (a, b []byte, err error) {
	t.Helper()
	sid, ci := []byte("session id 0123456789"), []byte("channel")
	if ciB == nil {
		ciB = ci
	}
	if sidB == nil {
		sidB = sid
	}
	init, msgA, err := Start(rand.Reader, pwA, ci, sid)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgA) != MessageSize || CheckMessage(msgA) != nil {
		t.Fatalf("initiator message %x", msgA)
	}
	msgB, iskB, err := Respond(rand.Reader, pwB, ciB, sidB, msgA)
	if err != nil {
		t.Fatal(err)
	}
	iskA, err := init.Finish(msgB)
	return iskA, iskB, err
}

func TestKeysAgreeOnlyOnEqualInputs(t *testing.T) {
	a, b, err := run(t, []byte("12345678"), []byte("12345678"), nil, nil)
	if err != nil || len(a) != KeySize || !bytes.Equal(a, b) {
		t.Fatalf("same password: %x %x %v", a, b, err)
	}
	a2, _, _ := run(t, []byte("12345678"), []byte("12345678"), nil, nil)
	if bytes.Equal(a, a2) {
		t.Fatal("two runs gave the same key")
	}
	for name, c := range map[string][3][]byte{
		"password": {[]byte("12345679"), nil, nil},
		"channel":  {[]byte("12345678"), []byte("other channel"), nil},
		"sid":      {[]byte("12345678"), nil, []byte("another session")},
	} {
		a, b, err := run(t, []byte("12345678"), c[0], c[1], c[2])
		if err != nil || bytes.Equal(a, b) {
			t.Errorf("different %s: keys equal (%v)", name, err)
		}
	}
}

func TestMalformedMessages(t *testing.T) {
	_, msg, err := Start(rand.Reader, []byte("pw"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string][]byte{
		"empty":           nil,
		"short":           msg[:33],
		"long":            append(append([]byte(nil), msg...), 0),
		"length byte":     append([]byte{31}, msg[1:]...),
		"associated data": append(append([]byte(nil), msg[:33]...), 1, 'x'),
	}
	for name, m := range bad {
		if _, _, err := Respond(rand.Reader, []byte("pw"), nil, nil, m); !errors.Is(err, ErrMessage) {
			t.Errorf("%s: Respond %v", name, err)
		}
		if err := CheckMessage(m); !errors.Is(err, ErrMessage) {
			t.Errorf("%s: CheckMessage %v", name, err)
		}
		init, _, _ := Start(rand.Reader, []byte("pw"), nil, nil)
		if _, err := init.Finish(m); !errors.Is(err, ErrMessage) {
			t.Errorf("%s: Finish %v", name, err)
		}
	}
	init, _, _ := Start(rand.Reader, []byte("pw"), nil, nil)
	msgB, _, err := Respond(rand.Reader, []byte("pw"), nil, nil, msg)
	if err != nil {
		t.Fatal(err)
	}
	init.Finish(msgB)
	if _, err := init.Finish(msgB); err == nil {
		t.Fatal("an initiator finished twice")
	}
}

func TestPrependLen(t *testing.T) {
	for n, want := range map[int]string{0: "00", 127: "7f", 128: "8001", 300: "ac02"} {
		got := prependLen(make([]byte, n))
		if hex.EncodeToString(got[:len(got)-n]) != want {
			t.Errorf("prepend_len of %d bytes: %x, want %s", n, got[:len(got)-n], want)
		}
	}
}

func FuzzCheckMessage(f *testing.F) {
	f.Add(unhex(&testing.T{}, tcMSGa))
	f.Add(make([]byte, MessageSize))
	f.Fuzz(func(t *testing.T, msg []byte) {
		if CheckMessage(msg) != nil {
			return
		}
		if len(msg) != MessageSize || msg[0] != 32 || msg[33] != 0 {
			t.Fatalf("accepted %x", msg)
		}
	})
}
