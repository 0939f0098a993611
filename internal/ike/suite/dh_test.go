package suite

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// dhVectors are published test vectors: private a, public a, private b,
// public b, shared secret. ECP public values are x | y (RFC 5903 §7).
var dhVectors = []struct {
	name   string
	group  ikev2.DHGroup
	privA  string
	pubA   string
	privB  string // empty when the vector gives only one private value
	pubB   string
	shared string
}{
	{"RFC 5903 §8.1", ikev2.DHECP256,
		"C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433",
		"DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C37725811805271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3",
		"",
		"D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF6356FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB",
		"D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE"},
	{"RFC 5903 §8.2", ikev2.DHECP384,
		"099F3C7034D4A2C699884D73A375A67F7624EF7C6B3C0F160647B67414DCE655E35B538041E649EE3FAEF896783AB194",
		"667842D7D180AC2CDE6F74F37551F55755C7645C20EF73E31634FE72B4C55EE6DE3AC808ACB4BDB4C88732AEE95F41AA9482ED1FC0EEB9CAFC4984625CCFC23F65032149E0E144ADA024181535A0F38EEB9FCFF3C2C947DAE69B4C634573A81C",
		"",
		"E558DBEF53EECDE3D3FCCFC1AEA08A89A987475D12FD950D83CFA41732BC509D0D1AC43A0336DEF96FDA41D0774A3571DCFBEC7AACF3196472169E838430367F66EEBE3C6E70C416DD5F0C68759DD1FFF83FA40142209DFF5EAAD96DB9E6386C",
		"11187331C279962D93D604243FD592CB9D0A926F422E47187521287E7156C5C4D603135569B9E9D09CF5D4A270F59746"},
	{"RFC 7748 §6.1", ikev2.DHCurve25519,
		"77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
		"8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
		"5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
		"de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
		"4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"},
	{"RFC 8031 Appendix A", ikev2.DHCurve25519,
		"751fb4308655b476b6789b7325f9ea8cddd16a58533ff6d9e60009464a5f9d94",
		"48d5ddd4061257ba166fa3f9bbdb74f1a4e81c089384fa77f790709f0dfbc766",
		"0a54645253290d60ddadd0e030bacd9e5501efdc220755a1e978f1b839a05688",
		"0be7c1f5aad87d7e448662673298a443478b859745179eaf564c79c0ef6eee25",
		"c74950607a12327f3204d94b6825bfb068b7f8319a9e3708ed3d43ce8130c950"},
	{"RFC 5114 Appendix A.3", ikev2.DHInsecureMODP2048S256,
		"0881382cdb87660c6dc13e614938d5b9c8b2f248581cc5e31b35454397fce50e",
		"2e9380c8323af97545bc4941deb0ec3742c62fe0ece824a6abdbe66c59bee0242911bfb967235ceba35ae13e4ec752be630b92dc4bde2847a9c62cb8152745421fb7eb60a63c0fe9159fcce726ce7cd8523d7450667ef840e4919121eb5f01c8c9b0d3d648a93bfb75689e8244ac134af544711ce79a02dcc34226684780dddcb498594106c37f5bc79856487af5ab022a2e5e42f09897c1a85a11ea0212af04d9b4cebc937c3c1a3e15a8a0342e337615c84e7fe3b8b9b87fb1e73a15af12a30d746e06dfc34f290d797ce51aa13aa785bf6658aff5e4b093003cbeaf665b3c2e113a3a4e905269341dc0711426685f4ef37e868a8126ff3f2279b57ca67e29",
		"7d62a7e3ef36de617b13d1afb82c780d83a23bd4ee6705645121f371f546a53d",
		"575f0351bd2b1b817448bdf87a6c362c1e289d3903a30b9832c5741fa250363e7acbc7f77f3dacbc1f131add8e03367eff8fbbb3e1c5784424809b25afe4d2262a1a6fd2fab64105ca30a674e07f7809852088632fc049233791ad4edd083a978b883ee618bc5e0dd047415f2d95e683cf14826b5fbe10d3ce41c6c120c78ab20008c698bf7f0bcab9d7f407bed0f43afb2970f57f8d12043963e66ddd320d599ad9936c8f44137c08b180ec5e985cebe186f3d549677e80607331ee17af3380a725b0782317d7dd43f59d7af9568a9bb63a84d365f92244ed120988219302f42924c7ca90b89d24f71b0ab697823d7deb1aff5b0e8e4a45d49f7f53757e1913",
		"86c70bf8d0bb81bb01078a17219cb7d27203db2a19c877f1d1f19fd7d77ef22546a68f005ad52dc84553b78fc60330be51ea7c0672cac1515e4b35c047b9a551b88f39dc26da14a09ef74774d47c762dd177f9ed5bc2f11e52c879bd95098504cd9eecd8a8f9b3efbd1f008ac5853097d9d1837f2b18f77cd7be01af80a7c7b5ea3ca54cc02d0c116fee3f95bb87399385875d7e86747e676e728938acbff7098e05be4dcfb24052b83aeffb14783f029adbde7f53fae92084224090e007cee94d4bf2bace9ffd4b57d2af7c724d0caa19bf0501f6f17b4aa10f425e3ea76080b4b9d6b3cefea115b2ceb8789bb8a3b0ea87febe63b6c8f846ec6db0c26c5d7c"},
}

func TestDHVectors(t *testing.T) {
	for _, v := range dhVectors {
		t.Run(v.name, func(t *testing.T) {
			check := func(priv, pub, peer string) {
				k, err := newPrivateKey(v.group, unhex(t, priv))
				if err != nil {
					t.Fatal(err)
				}
				if got := k.PublicKey(); !bytes.Equal(got, unhex(t, pub)) {
					t.Errorf("public value = %x, want %s", got, pub)
				}
				s, err := k.SharedSecret(unhex(t, peer))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(s, unhex(t, v.shared)) {
					t.Errorf("shared secret = %x, want %s", []byte(s), v.shared)
				}
			}
			check(v.privA, v.pubA, v.pubB)
			if v.privB != "" {
				check(v.privB, v.pubB, v.pubA)
			}
		})
	}
}

// piBits returns floor(pi * 2^n), by Machin's formula
// pi = 16 arctan(1/5) - 4 arctan(1/239).
func piBits(n uint) *big.Int {
	const guard = 64
	one := new(big.Int).Lsh(big.NewInt(1), n+guard)
	arctanInv := func(x int64) *big.Int {
		x2 := big.NewInt(x * x)
		term := new(big.Int).Quo(one, big.NewInt(x))
		sum := new(big.Int).Set(term)
		for k := int64(3); term.Sign() != 0; k += 2 {
			term.Quo(term, x2)
			t := new(big.Int).Quo(term, big.NewInt(k))
			if k%4 == 3 {
				sum.Sub(sum, t)
			} else {
				sum.Add(sum, t)
			}
		}
		return sum
	}
	pi := new(big.Int).Mul(arctanInv(5), big.NewInt(16))
	pi.Sub(pi, new(big.Int).Mul(arctanInv(239), big.NewInt(4)))
	return pi.Rsh(pi, guard)
}

// TestMODPPrimes checks the MODP constants against their definitions: the
// primes of RFC 2409 §6.2 and RFC 3526 §3 are
// 2^n - 2^(n-64) - 1 + 2^64 * ([2^(n-130) pi] + k) with generator 2; the
// RFC 5114 §2.3 generator has prime order q dividing p-1.
func TestMODPPrimes(t *testing.T) {
	for _, tt := range []struct {
		group ikev2.DHGroup
		n     uint
		k     int64
	}{{ikev2.DHInsecureMODP1024, 1024, 129093}, {ikev2.DHMODP2048, 2048, 124476}} {
		p := new(big.Int).Lsh(big.NewInt(1), tt.n)
		p.Sub(p, new(big.Int).Lsh(big.NewInt(1), tt.n-64))
		p.Sub(p, big.NewInt(1))
		mid := piBits(tt.n - 130)
		mid.Add(mid, big.NewInt(tt.k))
		p.Add(p, mid.Lsh(mid, 64))
		if m := modpOf(tt.group); m.p.Cmp(p) != 0 || m.g.Cmp(big.NewInt(2)) != 0 {
			t.Errorf("%v: prime or generator differs from its definition", tt.group)
		}
	}
	for _, g := range []ikev2.DHGroup{ikev2.DHInsecureMODP1024, ikev2.DHMODP2048, ikev2.DHInsecureMODP2048S256} {
		m := modpOf(g)
		if !m.p.ProbablyPrime(20) || !m.q.ProbablyPrime(20) {
			t.Errorf("%v: p or q not prime", g)
		}
		if new(big.Int).Exp(m.g, m.q, m.p).Cmp(big.NewInt(1)) != 0 {
			t.Errorf("%v: g^q != 1", g)
		}
		if new(big.Int).Mod(new(big.Int).Sub(m.p, big.NewInt(1)), m.q).Sign() != 0 {
			t.Errorf("%v: q does not divide p-1", g)
		}
		if m.p.BitLen() != 8*g.KeyExchangeLen() {
			t.Errorf("%v: prime of %d bits, public value of %d octets", g, m.p.BitLen(), g.KeyExchangeLen())
		}
	}
	if modp2048s256.q.BitLen() != 256 {
		t.Errorf("RFC 5114 subgroup of %d bits", modp2048s256.q.BitLen())
	}
}

func allGroups() []ikev2.DHGroup {
	return []ikev2.DHGroup{ikev2.DHInsecureMODP1024, ikev2.DHMODP2048, ikev2.DHECP256, ikev2.DHECP384, ikev2.DHInsecureMODP2048S256, ikev2.DHCurve25519}
}

// TestDHRoundTrip runs both sides of an exchange in every group.
func TestDHRoundTrip(t *testing.T) {
	for _, g := range allGroups() {
		t.Run(g.String(), func(t *testing.T) {
			a, err := GenerateKey(g)
			if err != nil {
				t.Fatal(err)
			}
			b, err := GenerateKey(g)
			if err != nil {
				t.Fatal(err)
			}
			if a.Group() != g || len(a.PublicKey()) != g.KeyExchangeLen() {
				t.Fatalf("key of %v with %d-octet public value", a.Group(), len(a.PublicKey()))
			}
			if bytes.Equal(a.PublicKey(), b.PublicKey()) {
				t.Fatal("two keys with the same public value")
			}
			sa, err := a.SharedSecret(b.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			sb, err := b.SharedSecret(a.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sa, sb) {
				t.Error("shared secrets differ")
			}
			// RFC 7296 §2.14: g^ir has the length of the modulus (MODP) or of
			// the x coordinate (ECP, RFC 5903 §7).
			want := g.KeyExchangeLen()
			if g == ikev2.DHECP256 || g == ikev2.DHECP384 {
				want /= 2
			}
			if len(sa) != want {
				t.Errorf("shared secret of %d octets, want %d", len(sa), want)
			}
		})
	}
	if _, err := GenerateKey(ikev2.DHGroup(21)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("GenerateKey(21) error = %v", err)
	}
	if _, err := GenerateKey(ikev2.DHNone); !errors.Is(err, ErrUnsupported) {
		t.Errorf("GenerateKey(NONE) error = %v", err)
	}
}

// TestPeerValidation covers RFC 6989 (and RFC 8031 §2.3 for X25519): bad
// peer public values are rejected before use.
func TestPeerValidation(t *testing.T) {
	pad := func(g ikev2.DHGroup, n *big.Int) []byte { return n.FillBytes(make([]byte, g.KeyExchangeLen())) }
	pMinus := func(g ikev2.DHGroup, d int64) []byte {
		return pad(g, new(big.Int).Sub(modpOf(g).p, big.NewInt(d)))
	}
	good := func(g ikev2.DHGroup) []byte {
		k, err := GenerateKey(g)
		if err != nil {
			t.Fatal(err)
		}
		return k.PublicKey()
	}
	offCurve := func(g ikev2.DHGroup) []byte {
		b := bytes.Clone(good(g))
		b[len(b)-1] ^= 1 // y changed: no longer on the curve
		return b
	}
	tests := []struct {
		name  string
		group ikev2.DHGroup
		peer  []byte
	}{
		{"MODP zero", ikev2.DHMODP2048, pad(ikev2.DHMODP2048, big.NewInt(0))},
		{"MODP one", ikev2.DHMODP2048, pad(ikev2.DHMODP2048, big.NewInt(1))},
		{"MODP p-1", ikev2.DHMODP2048, pMinus(ikev2.DHMODP2048, 1)},
		{"MODP p", ikev2.DHMODP2048, pMinus(ikev2.DHMODP2048, 0)},
		{"MODP above p", ikev2.DHMODP2048, bytes.Repeat([]byte{0xff}, 256)},
		{"MODP short", ikev2.DHMODP2048, good(ikev2.DHMODP2048)[1:]},
		{"MODP long", ikev2.DHMODP2048, append([]byte{0}, good(ikev2.DHMODP2048)...)},
		{"MODP1024 one", ikev2.DHInsecureMODP1024, pad(ikev2.DHInsecureMODP1024, big.NewInt(1))},
		{"MODP1024 with MODP2048 length", ikev2.DHInsecureMODP1024, good(ikev2.DHMODP2048)},
		{"subgroup p-1", ikev2.DHInsecureMODP2048S256, pMinus(ikev2.DHInsecureMODP2048S256, 1)},
		{"not in subgroup", ikev2.DHInsecureMODP2048S256, pad(ikev2.DHInsecureMODP2048S256, big.NewInt(2))},
		{"subgroup zero", ikev2.DHInsecureMODP2048S256, pad(ikev2.DHInsecureMODP2048S256, big.NewInt(0))},
		{"ECP-256 off curve", ikev2.DHECP256, offCurve(ikev2.DHECP256)},
		{"ECP-256 zero", ikev2.DHECP256, make([]byte, 64)},
		{"ECP-256 short", ikev2.DHECP256, good(ikev2.DHECP256)[:63]},
		{"ECP-256 SEC 1 prefix", ikev2.DHECP256, append([]byte{4}, good(ikev2.DHECP256)[:63]...)},
		{"ECP-384 off curve", ikev2.DHECP384, offCurve(ikev2.DHECP384)},
		{"ECP-384 with ECP-256 length", ikev2.DHECP384, good(ikev2.DHECP256)},
		{"X25519 zero", ikev2.DHCurve25519, make([]byte, 32)},
		{"X25519 one", ikev2.DHCurve25519, append([]byte{1}, make([]byte, 31)...)},
		{"X25519 short", ikev2.DHCurve25519, good(ikev2.DHCurve25519)[:31]},
		{"empty", ikev2.DHECP256, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := GenerateKey(tt.group)
			if err != nil {
				t.Fatal(err)
			}
			if s, err := k.SharedSecret(tt.peer); !errors.Is(err, ErrPeerValue) {
				t.Errorf("SharedSecret = %d octets, %v; want ErrPeerValue", len(s), err)
			}
		})
	}
}

func TestNewPrivateKeyErrors(t *testing.T) {
	tests := []struct {
		name  string
		group ikev2.DHGroup
		priv  []byte
	}{
		{"MODP zero", ikev2.DHMODP2048, []byte{0}},
		{"subgroup above q", ikev2.DHInsecureMODP2048S256, bytes.Repeat([]byte{0xff}, 32)},
		{"ECP-256 zero", ikev2.DHECP256, make([]byte, 32)},
		{"unsupported", ikev2.DHGroup(21), []byte{1}},
	}
	for _, tt := range tests {
		if _, err := newPrivateKey(tt.group, tt.priv); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

// TestRedaction checks that key material never prints or logs.
func TestRedaction(t *testing.T) {
	secret := Key(bytes.Repeat([]byte{0xab}, 20))
	priv, err := GenerateKey(ikev2.DHMODP2048)
	if err != nil {
		t.Fatal(err)
	}
	keys := IKEKeys{D: secret, EI: secret, PR: secret}
	child := ChildKeys{EI: secret, AR: secret}
	var out strings.Builder
	for _, v := range []any{secret, priv, keys, child, &keys} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
		fmt.Fprintln(&out, v)
	}
	fmt.Fprint(&out, secret.String(), priv.String())
	for _, h := range []slog.Handler{slog.NewTextHandler(&out, nil), slog.NewJSONHandler(&out, nil)} {
		slog.New(h).Info("keys", "key", secret, "priv", priv, "ike", keys, "child", child)
	}
	s := out.String()
	for _, leak := range []string{"abab", "ABAB", "[171", priv.x.Text(16), priv.x.String()} {
		if strings.Contains(s, leak) {
			t.Errorf("output contains %q:\n%s", leak, s)
		}
	}
	if !strings.Contains(s, "redacted 20 bytes") || !strings.Contains(s, "redacted MODP_2048 private key") {
		t.Errorf("output lacks the redacted descriptions:\n%s", s)
	}
}

// FuzzSharedSecret feeds arbitrary peer public values to every group: they
// must be rejected with ErrPeerValue or give a secret of the right length.
func FuzzSharedSecret(f *testing.F) {
	keys := map[ikev2.DHGroup]*PrivateKey{}
	for _, g := range allGroups() {
		k, err := GenerateKey(g)
		if err != nil {
			f.Fatal(err)
		}
		keys[g] = k
		peer, err := GenerateKey(g)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint16(g), peer.PublicKey())
	}
	f.Fuzz(func(t *testing.T, group uint16, peer []byte) {
		k, ok := keys[ikev2.DHGroup(group)]
		if !ok {
			return
		}
		s, err := k.SharedSecret(peer)
		if err != nil {
			if !errors.Is(err, ErrPeerValue) {
				t.Fatalf("error %v is not ErrPeerValue", err)
			}
			return
		}
		if len(s) == 0 || len(s) > len(peer) {
			t.Fatalf("shared secret of %d octets from %d", len(s), len(peer))
		}
	})
}

// newPrivateKey returns the private key of g with the given private value,
// for test vectors: a scalar for the curves, a big-endian exponent for MODP.
func newPrivateKey(g ikev2.DHGroup, priv []byte) (*PrivateKey, error) {
	if c := curveOf(g); c != nil {
		k, err := c.NewPrivateKey(priv)
		if err != nil {
			return nil, err
		}
		return newECPrivateKey(g, k), nil
	}
	m := modpOf(g)
	if m == nil {
		return nil, fmt.Errorf("%v: %w", g, ErrUnsupported)
	}
	x := new(big.Int).SetBytes(priv)
	if x.Sign() <= 0 || x.Cmp(m.q) >= 0 {
		return nil, errors.New("private exponent out of range")
	}
	return newMODPPrivateKey(g, m, x), nil
}
