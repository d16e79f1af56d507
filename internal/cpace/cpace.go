// Package cpace is the balanced PAKE CPace over ristretto255 with SHA-512
// (draft-irtf-cfrg-cpace, group G_Ristretto255, DSI "CPaceRistretto255"), in
// its initiator-responder form: the initiator sends its message first, and
// both sides hash the transcript as MSGa ‖ MSGb.
//
// Two parties that share a low-entropy password (PRS), a channel identifier
// (CI) and a session id (sid) derive the same 64-byte intermediate session
// key (ISK); a party that relays or alters the messages without the password
// gets one guess at it per run, and nothing to test further guesses against
// offline. The messages carry no associated data.
package cpace

import (
	"crypto/sha512"
	"errors"
	"io"

	"github.com/gtank/ristretto255"
)

// DSI is the domain-separation identifier of the group.
const DSI = "CPaceRistretto255"

const (
	// sInBytes is SHA-512's input block size, which the generator string's
	// zero padding fills.
	sInBytes = 128
	// elementSize is the size of an encoded ristretto255 element.
	elementSize = 32
	// MessageSize is the size of a message: lv_cat(Y, AD) with an empty AD.
	MessageSize = 1 + elementSize + 1
	// KeySize is the size of the ISK.
	KeySize = sha512.Size
)

var (
	// ErrMessage is returned for a peer message that is not one element
	// with empty associated data, or whose element does not decode.
	ErrMessage = errors.New("cpace: malformed message")
	// ErrIdentity is returned when the shared element is the identity: the
	// peer's element was the identity, and the run must abort.
	ErrIdentity = errors.New("cpace: the shared element is the identity")
)

// prependLen prefixes b with its length in LEB128.
func prependLen(b []byte) []byte {
	out := make([]byte, 0, len(b)+3)
	n := len(b)
	for {
		c := byte(n & 0x7f)
		n >>= 7
		if n != 0 {
			out = append(out, c|0x80)
			continue
		}
		out = append(out, c)
		break
	}
	return append(out, b...)
}

// lvCat is the draft's lv_cat (prefix_free_cat): each part with its length
// prepended.
func lvCat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, prependLen(p)...)
	}
	return out
}

// generatorString is lv_cat(DSI, PRS, zero_bytes(len_zpad), CI, sid), the
// padding sized so that DSI, PRS and the padding fill SHA-512's first block.
func generatorString(prs, ci, sid []byte) []byte {
	zpad := sInBytes - 1 - len(prependLen(prs)) - len(prependLen([]byte(DSI)))
	if zpad < 0 {
		zpad = 0
	}
	return lvCat([]byte(DSI), prs, make([]byte, zpad), ci, sid)
}

// calculateGenerator hashes the generator string to 64 bytes and maps them
// to an element with the one-way map.
func calculateGenerator(prs, ci, sid []byte) *ristretto255.Element {
	s := generatorString(prs, ci, sid)
	h := sha512.Sum512(s)
	clear(s)
	g := ristretto255.NewElement().FromUniformBytes(h[:])
	clear(h[:])
	return g
}

// sampleScalar draws a uniform non-zero scalar: 64 random bytes reduced
// modulo the group order.
func sampleScalar(rand io.Reader) (*ristretto255.Scalar, error) {
	var b [64]byte
	defer clear(b[:])
	zero := ristretto255.NewScalar()
	for {
		if _, err := io.ReadFull(rand, b[:]); err != nil {
			return nil, err
		}
		y := ristretto255.NewScalar().FromUniformBytes(b[:])
		if y.Equal(zero) == 0 {
			return y, nil
		}
	}
}

// message is MSG = lv_cat(Y, AD) for Y = y·g.
func message(y *ristretto255.Scalar, g *ristretto255.Element, ad []byte) []byte {
	Y := ristretto255.NewElement().ScalarMult(y, g)
	return lvCat(Y.Encode(nil), ad)
}

// parseMessage splits a message into its element and associated data; the
// two lengths must account for every byte.
func parseMessage(msg []byte) (Y, ad []byte, err error) {
	if len(msg) < 1+elementSize || msg[0] != elementSize {
		return nil, nil, ErrMessage
	}
	Y, rest := msg[1:1+elementSize], msg[1+elementSize:]
	if len(rest) == 0 || rest[0] >= 0x80 || int(rest[0]) != len(rest)-1 {
		return nil, nil, ErrMessage
	}
	return Y, rest[1:], nil
}

// sharedKey is ISK = H(lv_cat(DSI‖"_ISK", sid, K) ‖ msgA ‖ msgB) with
// K = y·Y_peer, refusing an element that does not decode and the identity.
func sharedKey(y *ristretto255.Scalar, peer, sid, msgA, msgB []byte) ([]byte, error) {
	Yp, _, err := parseMessage(peer)
	if err != nil {
		return nil, err
	}
	P := ristretto255.NewElement()
	if err := P.Decode(Yp); err != nil {
		return nil, ErrMessage
	}
	K := ristretto255.NewElement().ScalarMult(y, P)
	if K.Equal(ristretto255.NewElement().Zero()) == 1 {
		return nil, ErrIdentity
	}
	k := K.Encode(nil)
	h := sha512.New()
	h.Write(lvCat([]byte(DSI+"_ISK"), sid, k))
	h.Write(msgA)
	h.Write(msgB)
	clear(k)
	return h.Sum(nil), nil
}

// Initiator is the side that sends the first message; it finishes with the
// responder's.
type Initiator struct {
	y   *ristretto255.Scalar
	msg []byte
	sid []byte
}

// Start begins a run as the initiator and returns its state and message.
func Start(rand io.Reader, prs, ci, sid []byte) (*Initiator, []byte, error) {
	y, err := sampleScalar(rand)
	if err != nil {
		return nil, nil, err
	}
	msg := message(y, calculateGenerator(prs, ci, sid), nil)
	return &Initiator{y: y, msg: msg, sid: append([]byte(nil), sid...)}, append([]byte(nil), msg...), nil
}

// Finish derives the ISK from the responder's message. It can be called
// once: the secret scalar is wiped whatever the outcome.
func (a *Initiator) Finish(peer []byte) ([]byte, error) {
	if a.y == nil {
		return nil, errors.New("cpace: the run has finished")
	}
	defer a.Wipe()
	if len(peer) != MessageSize {
		return nil, ErrMessage
	}
	return sharedKey(a.y, peer, a.sid, a.msg, peer)
}

// Wipe erases the initiator's secret scalar.
func (a *Initiator) Wipe() {
	if a.y != nil {
		a.y.Zero()
		a.y = nil
	}
}

// Respond answers the initiator's message: it returns the responder's
// message and the ISK.
func Respond(rand io.Reader, prs, ci, sid, peer []byte) (msg, isk []byte, err error) {
	if len(peer) != MessageSize {
		return nil, nil, ErrMessage
	}
	if _, _, err := parseMessage(peer); err != nil {
		return nil, nil, err
	}
	y, err := sampleScalar(rand)
	if err != nil {
		return nil, nil, err
	}
	defer y.Zero()
	msg = message(y, calculateGenerator(prs, ci, sid), nil)
	isk, err = sharedKey(y, peer, sid, peer, msg)
	if err != nil {
		return nil, nil, err
	}
	return msg, isk, nil
}

// CheckMessage reports whether msg has a message's form: one encoded
// element, of a valid non-identity element, with empty associated data.
func CheckMessage(msg []byte) error {
	if len(msg) != MessageSize {
		return ErrMessage
	}
	Y, _, err := parseMessage(msg)
	if err != nil {
		return err
	}
	P := ristretto255.NewElement()
	if err := P.Decode(Y); err != nil {
		return ErrMessage
	}
	if P.Equal(ristretto255.NewElement().Zero()) == 1 {
		return ErrIdentity
	}
	return nil
}
