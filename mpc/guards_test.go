package mpc

import (
	"crypto/rand"
	"errors"
	"math/big"
	"testing"

	"github.com/duetwallet/duet/mpc/arith"
	"github.com/duetwallet/duet/mpc/codec"
	"github.com/duetwallet/duet/mpc/curve"
	"github.com/duetwallet/duet/mpc/hash"
	"github.com/duetwallet/duet/mpc/paillier"
	"github.com/duetwallet/duet/mpc/zk/affg"
	"github.com/duetwallet/duet/mpc/zk/enc"
	"github.com/duetwallet/duet/mpc/zk/fac"
	"github.com/duetwallet/duet/mpc/zk/logstar"
	"github.com/duetwallet/duet/mpc/zk/mod"
	"github.com/duetwallet/duet/mpc/zk/sch"
)

// One test per check on a peer's message: the peer changes exactly one
// value, re-encodes its message consistently (and, where a commitment covers
// the value, commits to the changed one), and the honest party's abort must
// name that check, in that round, and blame the peer. A few checks can only
// fail for a peer that knows the honest party's secrets; their tests play
// such a peer by reading the honest party's round, which no real peer can.

// expectCheck is expectAbort with the exact check and round: some check
// names are prefixes of others ("ciphertext D" and "ciphertext D̂").
func expectCheck(t *testing.T, err error, culprit PartyID, round int, check string) {
	t.Helper()
	expectAbort(t, err, culprit, check)
	var abort *AbortError
	errors.As(err, &abort)
	if abort.Round != round || abort.Check != check {
		t.Fatalf("abort in round %d on %q, want round %d on %q: %v", abort.Round, abort.Check, round, check, err)
	}
}

// trailing appends a byte to a payload, which every strict decoder refuses
// although the values before it decode.
func trailing(p []byte) []byte { return append(p, 0) }

// encryptConst returns a fresh encryption of v under pk.
func encryptConst(t *testing.T, pk *paillier.PublicKey, v *big.Int) *big.Int {
	t.Helper()
	c, _, err := pk.Encrypt(rand.Reader, arith.IntFromBig(v))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pointWithX returns the curve point with x coordinate x and even y.
func pointWithX(t *testing.T, x *big.Int) *curve.Point {
	t.Helper()
	b := make([]byte, curve.PointSize)
	b[0] = 0x02
	x.FillBytes(b[1:])
	P, err := curve.ParsePoint(b)
	if err != nil {
		t.Fatalf("no point with x = %x: %v", x, err)
	}
	return P
}

// keygenWith starts keygen with the secret share x, for a peer that chose x.
func keygenWith(cfg Config, x *curve.Scalar) (Round, *Message, error) {
	h := &header{cfg: &cfg, protocol: ProtocolKeygen}
	com, err := sch.NewCommitment(cfg.Rand)
	if err != nil {
		return nil, nil, err
	}
	rid, u := make([]byte, 32), make([]byte, 32)
	if err := readRandom(cfg.Rand, rid, u); err != nil {
		return nil, nil, err
	}
	r := &keygenRound1{h: h, x: x, X: curve.BaseMul(x), com: com, rid: rid, u: u}
	r.V = keygenCommit(cfg.SessionID, cfg.Self, rid, r.X, com.A, u)
	return r, h.message(1, r.V), nil
}

// keygenAgainst runs keygen against a server whose share is f(x_D): a server
// that knows the device's share x_D before it commits. It returns the
// device's error.
func keygenAgainst(t *testing.T, f func(xD *curve.Scalar) *curve.Scalar) error {
	t.Helper()
	a, b := pairConfigs(t, ProtocolKeygen)
	xD := make(chan *curve.Scalar, 1)
	_, _, errD, _ := runPair(
		func() (Round, *Message, error) {
			r, m, err := Keygen(a)
			if err != nil {
				close(xD)
				return nil, nil, err
			}
			xD <- new(curve.Scalar).Set(r.(*keygenRound1).x)
			return r, m, nil
		},
		func() (Round, *Message, error) {
			x, ok := <-xD
			if !ok {
				return nil, nil, errors.New("device did not start")
			}
			return keygenWith(b, f(x))
		}, nil)
	return errD
}

func TestKeygenGuards(t *testing.T) {
	tampered := func(t *testing.T, tamper tamperFn) error {
		a, b := pairConfigs(t, ProtocolKeygen)
		_, _, errD, _ := runPair(func() (Round, *Message, error) { return Keygen(a) },
			func() (Round, *Message, error) { return Keygen(b) }, tamper)
		return errD
	}
	t.Run("opening encoding", func(t *testing.T) {
		// The commitment is over the decoded values, so it still opens.
		expectCheck(t, tampered(t, fromServer(2, trailing)), Server, 2, "opening encoding")
	})
	t.Run("Schnorr response encoding", func(t *testing.T) {
		expectCheck(t, tampered(t, fromServer(3, trailing)), Server, 3, "Schnorr response encoding")
	})
	t.Run("public share reflection", func(t *testing.T) {
		err := keygenAgainst(t, func(xD *curve.Scalar) *curve.Scalar { return xD })
		expectCheck(t, err, Server, 2, "public share reflection")
	})
	t.Run("public key", func(t *testing.T) {
		// X_S = −X_D, with a valid Schnorr proof: X would be the identity.
		err := keygenAgainst(t, func(xD *curve.Scalar) *curve.Scalar { return xD.Negate() })
		expectCheck(t, err, Server, 3, "public key")
	})
}

// refreshAgainst runs a refresh between d and s in which the server's
// round 1 is rewritten by server (nil: honest) before it is sent, and every
// message goes through tamper. It returns the device's error.
func refreshAgainst(t *testing.T, d, s *KeyShare, pd, ps *Primes, server func(dev, srv *refreshRound1), tamper tamperFn) error {
	t.Helper()
	a, b := pairConfigs(t, ProtocolRefresh)
	dev := make(chan *refreshRound1, 1)
	_, _, errD, _ := runPair(
		func() (Round, *Message, error) {
			r, m, err := Refresh(RefreshConfig{Config: a, Share: d, Primes: pd})
			if err != nil {
				close(dev)
				return nil, nil, err
			}
			dev <- r.(*refreshRound1)
			return r, m, nil
		},
		func() (Round, *Message, error) {
			r, m, err := Refresh(RefreshConfig{Config: b, Share: s, Primes: ps})
			devR1, ok := <-dev
			if err != nil || server == nil {
				return r, m, err
			}
			if !ok {
				return nil, nil, errors.New("device did not start")
			}
			srv := r.(*refreshRound1)
			server(devR1, srv)
			srv.V = refreshCommit(b.SessionID, b.Self, srv.opening)
			return srv, srv.h.message(1, srv.V), nil
		}, tamper)
	return errD
}

// auxOpening is the round-2 opening of r1 with the aux values n, s, t in
// place of its own; its Πprm is left as it is.
func auxOpening(r1 *refreshRound1, n, s, t *big.Int) []byte {
	e := codec.NewEncoder(48 << 10)
	e.Point(r1.toPeer).Point(r1.com.A).Fixed(r1.rho).Fixed(r1.u).Bool(true).Nat(n).Nat(s).Nat(t)
	r1.prm.Encode(e)
	return e.Bytes()
}

// refresh3Payload is the decoded round-3 message of a refresh.
type refresh3Payload struct {
	hasAux bool
	pm     *mod.Proof
	pf     *fac.Proof
	C      *big.Int
	pLog   *logstar.Proof
	resp   *sch.Response
}

func decodeRefresh3(t *testing.T, b []byte) *refresh3Payload {
	t.Helper()
	d := codec.NewDecoder(b)
	p := &refresh3Payload{hasAux: d.Bool()}
	if p.hasAux {
		p.pm, p.pf = mod.Decode(d), fac.Decode(d)
	}
	p.C = d.Nat(ciphertextBits)
	p.pLog = logstar.Decode(d)
	p.resp = sch.DecodeResponse(d)
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *refresh3Payload) encode() []byte {
	e := codec.NewEncoder(48 << 10).Bool(p.hasAux)
	if p.hasAux {
		p.pm.Encode(e)
		p.pf.Encode(e)
	}
	e.Nat(p.C)
	p.pLog.Encode(e)
	p.resp.Encode(e)
	return e.Bytes()
}

// refresh3 rewrites the server's round-3 message of a refresh with f.
func refresh3(t *testing.T, f func(p *refresh3Payload)) tamperFn {
	return fromServer(3, func(b []byte) []byte {
		p := decodeRefresh3(t, b)
		f(p)
		return p.encode()
	})
}

// Refresh and Presign start only from the party's own share.
func TestProtocolsNeedOwnShare(t *testing.T) {
	d, s := signingPair(t)
	a, _ := pairConfigs(t, ProtocolRefresh)
	for name, share := range map[string]*KeyShare{"nil": nil, "peer's share": s} {
		if r, m, err := Refresh(RefreshConfig{Config: a, Share: share}); err == nil || r != nil || m != nil {
			t.Errorf("refresh from the %s started: %v", name, err)
		}
		if r, m, err := Presign(PresignConfig{Config: a, Share: share}); err == nil || r != nil || m != nil {
			t.Errorf("presigning from the %s started: %v", name, err)
		}
	}
	noAux := *d
	noAux.Aux = nil
	if _, _, err := Presign(PresignConfig{Config: a, Share: &noAux}); err == nil {
		t.Error("presigning from a share without aux started")
	}
	if _, _, err := Refresh(RefreshConfig{Config: a, Share: &noAux}); err == nil {
		t.Error("refresh without new aux from a share without aux started")
	}
	// The device's own share starts both.
	if _, _, err := Refresh(RefreshConfig{Config: a, Share: d}); err != nil {
		t.Error(err)
	}
	if _, _, err := Presign(PresignConfig{Config: a, Share: d}); err != nil {
		t.Error(err)
	}
}

func TestRefreshGuards(t *testing.T) {
	t.Run("opening encoding", func(t *testing.T) {
		d0, s0 := keygenPair(t)
		err := refreshAgainst(t, d0, s0, fixturePrimes(0), fixturePrimes(1),
			func(_, srv *refreshRound1) { srv.opening = trailing(srv.opening) }, nil)
		expectCheck(t, err, Server, 2, "opening encoding")
	})
	t.Run("aux info presence in the opening", func(t *testing.T) {
		// The device makes new aux info; the server does not.
		d, s := signingPair(t)
		err := refreshAgainst(t, d, s, fixturePrimes(2), nil, nil, nil)
		expectCheck(t, err, Server, 2, "aux info presence")
	})
	t.Run("Paillier modulus", func(t *testing.T) {
		d0, s0 := keygenPair(t)
		err := refreshAgainst(t, d0, s0, fixturePrimes(0), fixturePrimes(1), func(_, srv *refreshRound1) {
			even := new(big.Int).Add(srv.sk.N(), big.NewInt(1))
			srv.opening = auxOpening(srv, even, srv.ped.S(), srv.ped.T())
		}, nil)
		expectCheck(t, err, Server, 2, "Paillier modulus")
	})
	t.Run("ring-Pedersen parameters", func(t *testing.T) {
		d0, s0 := keygenPair(t)
		err := refreshAgainst(t, d0, s0, fixturePrimes(0), fixturePrimes(1), func(_, srv *refreshRound1) {
			srv.opening = auxOpening(srv, srv.sk.N(), srv.ped.T(), srv.ped.T())
		}, nil)
		expectCheck(t, err, Server, 2, "ring-Pedersen parameters")
	})
	t.Run("zero-sharing reflection", func(t *testing.T) {
		// A server that knows the device's d sends U = d·G back, with a
		// valid Schnorr proof and Πlog*: the device's share would not move.
		d, s := signingPair(t)
		err := refreshAgainst(t, d, s, nil, nil, func(dev, srv *refreshRound1) {
			srv.d.Zero()
			srv.d = new(curve.Scalar).Set(dev.d)
			srv.toPeer = curve.BaseMul(srv.d)
			srv.opening = srv.encodeOpening()
		}, nil)
		expectCheck(t, err, Server, 2, "zero-sharing reflection")
	})
	t.Run("round 3 encoding", func(t *testing.T) {
		d, s := signingPair(t)
		err := refreshAgainst(t, d, s, nil, nil, nil, fromServer(3, trailing))
		expectCheck(t, err, Server, 3, "round 3 encoding")
	})
	t.Run("aux info presence in round 3", func(t *testing.T) {
		// Round 3 is not committed to: the server leaves out Πmod and Πfac.
		d0, s0 := keygenPair(t)
		err := refreshAgainst(t, d0, s0, fixturePrimes(0), fixturePrimes(1), nil,
			refresh3(t, func(p *refresh3Payload) { p.hasAux, p.pm, p.pf = false, nil, nil }))
		expectCheck(t, err, Server, 3, "aux info presence")
	})
	t.Run("Schnorr proof", func(t *testing.T) {
		d, s := signingPair(t)
		err := refreshAgainst(t, d, s, nil, nil, nil,
			refresh3(t, func(p *refresh3Payload) { p.resp.Z = p.resp.Z.Add(curve.ScalarFromUint64(1)) }))
		expectCheck(t, err, Server, 3, "Schnorr proof (Πsch) of the zero sharing")
	})
	t.Run("Πlog* of C", func(t *testing.T) {
		// C·enc(q) decrypts to d + q, which still matches U mod q: only
		// Πlog* stops a C whose plaintext is not the d behind U.
		d, s := signingPair(t)
		err := refreshAgainst(t, d, s, nil, nil, nil, refresh3(t, func(p *refresh3Payload) {
			pk := d.Aux.Paillier.PublicKey
			p.C = pk.Add(p.C, encryptConst(t, pk, curve.Order()))
		}))
		expectCheck(t, err, Server, 3, "log proof of the zero-sharing ciphertext (Πlog*)")
	})
}

// presignAgainst runs presigning between d and s in which the server's
// round 1 is rewritten by server (which sees the device's round 1 and the
// decoded server message, and returns the message to send), and every
// message goes through tamper. It returns the device's error.
func presignAgainst(t *testing.T, d, s *KeyShare, server func(dev, srv *presignRound1, m *presignRound1Payload), tamper tamperFn) error {
	t.Helper()
	a, b := pairConfigs(t, ProtocolPresign)
	dev := make(chan *presignRound1, 1)
	_, _, errD, _ := runPair(
		func() (Round, *Message, error) {
			r, m, err := Presign(PresignConfig{Config: a, Share: d})
			if err != nil {
				close(dev)
				return nil, nil, err
			}
			dev <- r.(*presignRound1)
			return r, m, nil
		},
		func() (Round, *Message, error) {
			r, m, err := Presign(PresignConfig{Config: b, Share: s})
			devR1, ok := <-dev
			if err != nil || server == nil {
				return r, m, err
			}
			if !ok {
				return nil, nil, errors.New("device did not start")
			}
			srv := r.(*presignRound1)
			p := decodePresign1(t, m.Payload)
			server(devR1, srv, p)
			return srv, srv.h.message(1, p.encode()), nil
		}, tamper)
	return errD
}

// presign2Payload is the decoded round-2 message of presigning.
type presign2Payload struct {
	Gamma            *curve.Point
	D, F, DHat, FHat *big.Int
	pDelta, pChi     *affg.Proof
	pLog             *logstar.Proof
}

func decodePresign2(t *testing.T, b []byte) *presign2Payload {
	t.Helper()
	d := codec.NewDecoder(b)
	p := &presign2Payload{Gamma: d.Point()}
	p.D, p.F, p.DHat, p.FHat = d.Nat(ciphertextBits), d.Nat(ciphertextBits), d.Nat(ciphertextBits), d.Nat(ciphertextBits)
	p.pDelta, p.pChi, p.pLog = affg.Decode(d), affg.Decode(d), logstar.Decode(d)
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *presign2Payload) encode() []byte {
	e := codec.NewEncoder(12 << 10).Point(p.Gamma).Nat(p.D).Nat(p.F).Nat(p.DHat).Nat(p.FHat)
	p.pDelta.Encode(e)
	p.pChi.Encode(e)
	p.pLog.Encode(e)
	return e.Bytes()
}

// presign3Payload is the decoded round-3 message of presigning.
type presign3Payload struct {
	delta *curve.Scalar
	Delta *curve.Point
	pLog  *logstar.Proof
}

func decodePresign3(t *testing.T, b []byte) *presign3Payload {
	t.Helper()
	d := codec.NewDecoder(b)
	p := &presign3Payload{delta: d.Scalar(), Delta: d.Point(), pLog: logstar.Decode(d)}
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *presign3Payload) encode() []byte {
	e := codec.NewEncoder(2 << 10).Scalar(p.delta).Point(p.Delta)
	p.pLog.Encode(e)
	return e.Bytes()
}

// presignRound rewrites the server's message of one presigning round.
func presignRound(round uint8, f func(t *testing.T, b []byte) []byte) func(t *testing.T) tamperFn {
	return func(t *testing.T) tamperFn {
		return fromServer(round, func(b []byte) []byte { return f(t, b) })
	}
}

// presignTrailing appends a byte to the server's message of one round.
func presignTrailing(round uint8) func(t *testing.T) tamperFn {
	return func(*testing.T) tamperFn { return fromServer(round, trailing) }
}

func TestPresignGuards(t *testing.T) {
	d0, s0 := signingPair(t)
	devPK, srvPK := d0.Aux.Paillier.PublicKey, s0.Aux.Paillier.PublicKey
	one := big.NewInt(1)
	cases := []struct {
		name   string
		server func(t *testing.T, dev, srv *presignRound1, m *presignRound1Payload)
		tamper func(t *testing.T) tamperFn
		round  int
		check  string
	}{
		{name: "round 1 encoding", tamper: presignTrailing(1), round: 1, check: "round 1 encoding"},
		{name: "ciphertext K", tamper: presignRound(1, func(t *testing.T, b []byte) []byte {
			p := decodePresign1(t, b)
			p.K = srvPK.N() // not a unit mod N
			return p.encode()
		}), round: 1, check: "ciphertext K"},
		{name: "round 2 encoding", tamper: presignTrailing(2), round: 2, check: "round 2 encoding"},
		{name: "ciphertext D", tamper: presignRound(2, func(t *testing.T, b []byte) []byte {
			p := decodePresign2(t, b)
			p.D = devPK.N()
			return p.encode()
		}), round: 2, check: "ciphertext D"},
		{name: "ciphertext D̂", tamper: presignRound(2, func(t *testing.T, b []byte) []byte {
			p := decodePresign2(t, b)
			p.DHat = devPK.N()
			return p.encode()
		}), round: 2, check: "ciphertext D̂"},
		{name: "ciphertext F", tamper: presignRound(2, func(t *testing.T, b []byte) []byte {
			p := decodePresign2(t, b)
			p.F = srvPK.N()
			return p.encode()
		}), round: 2, check: "ciphertext F"},
		{name: "ciphertext F̂", tamper: presignRound(2, func(t *testing.T, b []byte) []byte {
			p := decodePresign2(t, b)
			p.FHat = srvPK.N()
			return p.encode()
		}), round: 2, check: "ciphertext F̂"},
		{name: "δ MtA shifted", tamper: presignRound(2, func(t *testing.T, b []byte) []byte {
			// D·enc(1): the device's α, hence δ, off by one.
			p := decodePresign2(t, b)
			p.D = devPK.Add(p.D, encryptConst(t, devPK, one))
			return p.encode()
		}), round: 2, check: "affine-operation proof of the δ MtA (Πaff-g)"},
		{name: "χ MtA shifted", tamper: presignRound(2, func(t *testing.T, b []byte) []byte {
			// D̂·enc(1): the device's χ off by one, which nothing else in
			// presigning would notice.
			p := decodePresign2(t, b)
			p.DHat = devPK.Add(p.DHat, encryptConst(t, devPK, one))
			return p.encode()
		}), round: 2, check: "affine-operation proof of the χ MtA (Πaff-g)"},
		{name: "G not an encryption of γ", tamper: presignRound(1, func(t *testing.T, b []byte) []byte {
			// G is used only by Πlog* of Γ in round 2.
			p := decodePresign1(t, b)
			p.G = srvPK.Add(p.G, encryptConst(t, srvPK, one))
			return p.encode()
		}), round: 2, check: "log proof of Γ (Πlog*)"},
		{name: "Γ is the identity", server: func(t *testing.T, dev, srv *presignRound1, m *presignRound1Payload) {
			// γ_S = −γ_D with G and Πlog* honest for it: Γ_S = −Γ_D.
			srv.gamma.Zero()
			srv.gamma = dev.gamma.Negate()
			arith.WipeNat(srv.nu)
			var err error
			if srv.G, srv.nu, err = srv.pc.Share.Aux.Paillier.Encrypt(rand.Reader, srv.gamma.Int()); err != nil {
				t.Error(err)
			}
			m.G = srv.G
		}, round: 2, check: "Γ"},
		{name: "round 3 encoding", tamper: presignTrailing(3), round: 3, check: "round 3 encoding"},
		{name: "δ and Δ shifted together", tamper: presignRound(3, func(t *testing.T, b []byte) []byte {
			// δ_S + 1 and Δ_S + G still satisfy δ·G = Δ; only Πlog* ties
			// Δ_S to k_S·Γ.
			p := decodePresign3(t, b)
			p.delta = p.delta.Add(curve.ScalarFromUint64(1))
			p.Delta = p.Delta.Add(curve.Generator())
			return p.encode()
		}), round: 3, check: "log proof of Δ (Πlog*)"},
		{name: "δ is zero", server: func(t *testing.T, dev, srv *presignRound1, m *presignRound1Payload) {
			// k_S = −k_D with K and Πenc honest for it: k = 0, so δ = k·γ = 0
			// and every proof holds.
			share := srv.pc.Share
			sk := share.Aux.Paillier
			srv.k.Zero()
			srv.k = dev.k.Negate()
			arith.WipeNat(srv.rho)
			kInt := srv.k.Int()
			defer arith.WipeInt(kInt)
			var err error
			if srv.K, srv.rho, err = sk.Encrypt(rand.Reader, kInt); err != nil {
				t.Error(err)
			}
			m.K = srv.K
			if m.proof, err = enc.Prove(rand.Reader, srv.ctx(Server, Device),
				enc.Public{N0: sk.PublicKey, K: srv.K, Aux: share.Aux.PeerPedersen},
				enc.Private{SecretKey: sk, K: kInt, Rho: srv.rho}); err != nil {
				t.Error(err)
			}
		}, round: 3, check: "δ"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, s := signingPair(t)
			var server func(dev, srv *presignRound1, m *presignRound1Payload)
			if c.server != nil {
				server = func(dev, srv *presignRound1, m *presignRound1Payload) { c.server(t, dev, srv, m) }
			}
			var tamper tamperFn
			if c.tamper != nil {
				tamper = c.tamper(t)
			}
			err := presignAgainst(t, d, s, server, tamper)
			expectCheck(t, err, Server, c.round, c.check)
		})
	}
}

// presignRound3With builds the device's last presigning round with Γ and
// δ = δ_D + δ_S chosen by the test, and the server's message for it with a
// valid Πlog* of Δ_S = k_S·Γ; it returns what the round makes of it. R is
// δ⁻¹·Γ, so the test picks R: no run reaches a chosen R, since nobody knows
// the discrete logarithm of such a Γ.
func presignRound3With(t *testing.T, Gamma *curve.Point, delta *curve.Scalar) (Round, error) {
	t.Helper()
	d, s := signingPair(t)
	a, _ := pairConfigs(t, ProtocolPresign)
	psid := hash.New("presign").Bytes(d.SSID).Bytes(a.SessionID).Digest()
	srvSK := s.Aux.Paillier
	kS, err := curve.RandomScalar(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kSInt := kS.Int()
	KS, rhoS, err := srvSK.Encrypt(rand.Reader, kSInt)
	if err != nil {
		t.Fatal(err)
	}
	DeltaS := Gamma.Mul(kS)
	pLog, err := logstar.Prove(rand.Reader, presignCtx(psid, Server, Device),
		logstar.Public{N0: srvSK.PublicKey, C: KS, X: DeltaS, B: Gamma, Aux: s.Aux.PeerPedersen},
		logstar.Private{SecretKey: srvSK, X: kSInt, Rho: rhoS})
	if err != nil {
		t.Fatal(err)
	}
	deltaS, err := curve.RandomScalar(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kD, _ := curve.RandomScalar(rand.Reader)
	chiD, _ := curve.RandomScalar(rand.Reader)
	h := &header{cfg: &a, protocol: ProtocolPresign}
	r := &presignRound3{h: h, pc: &PresignConfig{Config: a, Share: d}, psid: psid, Kj: KS, BigGamma: Gamma,
		// Δ_D is set so that δ·G = Δ_D + Δ_S holds.
		Delta: curve.BaseMul(delta).Sub(DeltaS)}
	r.k, r.chi, r.delta = kD, chiD, delta.Sub(deltaS)
	p := &presign3Payload{delta: deltaS, Delta: DeltaS, pLog: pLog}
	msg := &Message{SessionID: a.SessionID, Protocol: ProtocolPresign, Round: 3, From: Server, Payload: p.encode()}
	next, _, err := r.Receive(msg)
	return next, err
}

func TestPresignRoundThreeOnR(t *testing.T) {
	q := curve.Order()
	t.Run("honest state", func(t *testing.T) {
		// The construction itself gives a presignature for an ordinary R.
		next, err := presignRound3With(t, curve.Generator().Mul(curve.ScalarFromUint64(7)), curve.ScalarFromUint64(7))
		if err != nil {
			t.Fatal(err)
		}
		if p := next.(*Done).Output.(*Presignature); !p.R.Equal(curve.Generator()) {
			t.Fatal("R is not δ⁻¹·Γ")
		}
	})
	t.Run("r is zero", func(t *testing.T) {
		// R = (q, y): r = R.x mod q = 0. No point of secp256k1 has x = 0.
		_, err := presignRound3With(t, pointWithX(t, q), curve.ScalarFromUint64(1))
		expectCheck(t, err, Server, 3, "r")
	})
	t.Run("R.x past q", func(t *testing.T) {
		// R = (q+2, y): r would not give R back through a recovery id.
		next, err := presignRound3With(t, pointWithX(t, new(big.Int).Add(q, big.NewInt(2))), curve.ScalarFromUint64(1))
		if !errors.Is(err, ErrPresignRetry) || next != nil {
			t.Fatalf("R.x ≥ q gave (%v, %v), want ErrPresignRetry", next, err)
		}
	})
}

func TestReconstructGuards(t *testing.T) {
	d, s := keygenPair(t)
	if _, err := Reconstruct(d, nil); err == nil {
		t.Error("reconstructed from one share")
	}
	// s claims another key, although x_D + x_S matches d's key.
	other := *s
	other.PublicKey = s.PublicKey.Add(curve.Generator())
	if _, err := Reconstruct(d, &other); err == nil {
		t.Error("shares of different keys reconstructed")
	}
	if x, err := Reconstruct(d, s); err != nil || !curve.BaseMul(x).Equal(d.PublicKey) {
		t.Errorf("the pair does not reconstruct: %v", err)
	}
}

func TestVerifySignatureRefusesDegenerateValues(t *testing.T) {
	x, _ := curve.RandomScalar(rand.Reader)
	X := curve.BaseMul(x)
	k, _ := curve.RandomScalar(rand.Reader)
	digest := [32]byte{1, 2, 3}
	m := curve.ScalarFromBytesReduce(&digest)
	r, _ := curve.BaseMul(k.Inverse()).XScalar()
	s := k.Mul(m.Add(r.Mul(x)))
	if !VerifySignature(X, digest, r, s) {
		t.Fatal("a valid signature does not verify")
	}
	zero := curve.ScalarFromUint64(0)
	if VerifySignature(X, digest, zero, s) || VerifySignature(X, digest, r, zero) || VerifySignature(X, digest, zero, zero) {
		t.Error("a signature with r = 0 or s = 0 verifies")
	}
	// m = −r·x makes m·s⁻¹·G + r·s⁻¹·X the identity.
	var mBad [32]byte
	copy(mBad[:], r.Mul(x).Negate().Bytes())
	if VerifySignature(X, mBad, r, s) {
		t.Error("a signature whose R is the identity verifies")
	}
}

func TestCombineGuards(t *testing.T) {
	d, s := signingPair(t)
	pd, ps, errD, errS := presignPair(t, d, s, nil)
	if errD != nil || errS != nil {
		t.Fatal(errD, errS)
	}
	digest := [32]byte{7}
	own, err := pd.PartialSign(digest)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ps.PartialSign(digest)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("presignature id", func(t *testing.T) {
		// A valid σ_S, sent under another presignature's id.
		other := *peer
		other.PresignatureID = make([]byte, 32)
		_, err := pd.Combine(digest, own, &other)
		expectCheck(t, err, Server, 1, "presignature id")
		_, err = pd.Combine(digest, own, nil)
		expectCheck(t, err, Server, 1, "presignature id")
	})
	t.Run("s is zero", func(t *testing.T) {
		other := *peer
		other.Sigma = own.Sigma.Negate()
		_, err := pd.Combine(digest, own, &other)
		expectCheck(t, err, Server, 1, "signature values")
	})
	for name, R := range map[string]*curve.Point{
		"R is the identity": curve.Identity(),
		"R.x is q":          pointWithX(t, curve.Order()),
		"R.x past q":        pointWithX(t, new(big.Int).Add(curve.Order(), big.NewInt(2))),
	} {
		t.Run(name, func(t *testing.T) {
			// Presignatures are not built with such an R; Combine refuses
			// it anyway.
			p := *pd
			p.R = R
			_, err := p.Combine(digest, own, peer)
			expectCheck(t, err, Server, 1, "signature values")
		})
	}
	t.Run("honest", func(t *testing.T) {
		sig, err := pd.Combine(digest, own, peer)
		if err != nil {
			t.Fatal(err)
		}
		recoversTo(t, sig, digest, d.PublicKey)
	})
}
