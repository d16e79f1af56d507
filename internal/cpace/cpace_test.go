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
// SHA-512").
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
	tcG    = "9c5712178570957204d89ac11acbef789dd076992ba361429acb2bc38c71d14c"
	tcYa   = "1433dd19359992d4e06d740d3993d429af6338ffb4531ce175d22449853a790b"
	tcMSGa = "20a8fc42c4d57b3c7346661011122a00563d0995fd72b62123ae244400e86d7b1a03414461"
	tcYb   = "0e6566d32d80a5a1135f99c27f2d637aa24da23027c3fa76b9d1cfd9742fdc00"
	tcMSGb = "20fc8e84ae4ab725909af05a56ef9714db6930e4a5589b3fee6cdd266236676d6303414462"
	tcK    = "3efef1706f42efa354020b087b37fbd9f81cf72a16f4947e4a042a7f1aaa2b6f"
	tcISK  = `0e33c5822bd495dea94ba7af161501f1b2d6a16d464b5d6e1a53dcbf
		b9244b9ba66c09c430fffdfe4fb4e99b4ea46f991a272de0431c132c
		2c79fd6de1a7e5e4`
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
	if err := X.Decode(unhex(t, "021ca069484e890c9e494d8ed6bb0f66cbd9a8f0ef67168f36c51e0efeb8f347")); err != nil {
		t.Fatal(err)
	}
	if got := ristretto255.NewElement().ScalarMult(s, X).Encode(nil); !bytes.Equal(got, unhex(t, "62aaa018755dc881902097c2a993c0b7c0a4fe33bce2c0182b46a44c40b95119")) {
		t.Fatalf("scalar_mult %x", got)
	}
	own := lvCat(make([]byte, 32), nil)
	for name, c := range map[string]struct {
		Y    string
		want error
	}{
		"does not decode": {"011ca069484e890c9e494d8ed6bb0f66cbd9a8f0ef67168f36c51e0efeb8f347", ErrMessage},
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
