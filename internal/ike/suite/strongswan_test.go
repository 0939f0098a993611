package suite

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// IKEv2 numbers the known-answer test reads by hand (RFC 7296 §3.1, §3.2).
const (
	exchIKESAInit     = 34
	exchIKEAuth       = 35
	exchCreateChildSA = 36

	payloadSA    = 33
	payloadKE    = 34
	payloadIDi   = 35
	payloadIDr   = 36
	payloadAuth  = 39
	payloadNonce = 40
	payloadSK    = 46

	flagInitiator = 0x08
	flagResponse  = 0x20
)

// kat is one strongSwan known-answer fixture (see testdata/README.md).
type kat struct {
	ike, esp string
	psk      []byte
	msgs     [][]byte            // every IKE message on the wire, in order
	logs     map[string][][]byte // values charon logged, by label, in order
}

func loadKAT(t *testing.T, path string) *kat {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	k := &kat{logs: map[string][][]byte{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch {
		case fields[0] == "ike_proposal" && len(fields) == 2:
			k.ike = fields[1]
		case fields[0] == "esp_proposal" && len(fields) == 2:
			k.esp = fields[1]
		case fields[0] == "psk" && len(fields) == 2:
			k.psk = unhex(t, fields[1])
		case fields[0] == "msg" && len(fields) == 3:
			k.msgs = append(k.msgs, unhex(t, fields[2]))
		case fields[0] == "log" && len(fields) == 3:
			k.logs[fields[1]] = append(k.logs[fields[1]], unhex(t, fields[2]))
		default:
			t.Fatalf("%s: bad line %q", path, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return k
}

// log returns the i-th value logged under label.
func (k *kat) log(t *testing.T, label string, i int) []byte {
	t.Helper()
	if i >= len(k.logs[label]) {
		t.Fatalf("fixture has no %s #%d", label, i)
	}
	return k.logs[label][i]
}

type payload struct {
	typ  byte
	body []byte
}

// payloads walks a chain of generic payload headers (RFC 7296 §3.2) that
// starts with type first and stops after an SK payload.
func payloads(t *testing.T, first byte, b []byte) []payload {
	t.Helper()
	var ps []payload
	for typ := first; typ != 0; {
		if len(b) < 4 {
			t.Fatalf("payload %d: %d octets left", typ, len(b))
		}
		n := int(binary.BigEndian.Uint16(b[2:4]))
		if n < 4 || n > len(b) {
			t.Fatalf("payload %d: length %d of %d", typ, n, len(b))
		}
		ps = append(ps, payload{typ, b[4:n]})
		if typ == payloadSK {
			break
		}
		typ, b = b[0], b[n:]
	}
	return ps
}

func find(t *testing.T, ps []payload, typ byte) []byte {
	t.Helper()
	for _, p := range ps {
		if p.typ == typ {
			return p.body
		}
	}
	t.Fatalf("no payload of type %d", typ)
	return nil
}

// proposal reads the first proposal of an SA payload body (RFC 7296 §3.3).
func proposal(t *testing.T, sa []byte) (proto ikev2.ProtocolID, spi []byte, ts []Transform) {
	t.Helper()
	if len(sa) < 8 {
		t.Fatalf("SA payload of %d octets", len(sa))
	}
	n, spiLen, count := int(binary.BigEndian.Uint16(sa[2:4])), int(sa[6]), int(sa[7])
	if n > len(sa) || 8+spiLen > n {
		t.Fatalf("proposal length %d, SPI %d, in %d", n, spiLen, len(sa))
	}
	proto, spi, b := ikev2.ProtocolID(sa[5]), sa[8:8+spiLen], sa[8+spiLen:n]
	for range count {
		if len(b) < 8 {
			t.Fatalf("transform: %d octets left", len(b))
		}
		tl := int(binary.BigEndian.Uint16(b[2:4]))
		if tl < 8 || tl > len(b) {
			t.Fatalf("transform length %d of %d", tl, len(b))
		}
		tr := Transform{Type: ikev2.TransformType(b[4]), ID: binary.BigEndian.Uint16(b[6:8])}
		// The only attribute is the Key Length, TV format (RFC 7296 §3.3.5).
		if tl == 12 && binary.BigEndian.Uint16(b[8:10]) == 0x800e {
			tr.KeyLen = binary.BigEndian.Uint16(b[10:12])
		}
		ts = append(ts, tr)
		b = b[tl:]
	}
	return proto, spi, ts
}

// sameTransforms compares transform lists as sets: strongSwan orders the
// types ENCR, INTEG, PRF, D-H, ESN.
func sameTransforms(a, b []Transform) bool {
	key := func(x Transform) string { return x.String() }
	as, bs := make([]string, len(a)), make([]string, len(b))
	for i := range a {
		as[i] = key(a[i])
	}
	for i := range b {
		bs[i] = key(b[i])
	}
	slices.Sort(as)
	slices.Sort(bs)
	return slices.Equal(as, bs)
}

// ikeSA is an IKE SA of the fixture with its ciphers.
type ikeSA struct {
	spiI, spiR uint64
	suite      Suite
	keys       IKEKeys
	fromI      Cipher // keyed with SK_ei/SK_ai
	fromR      Cipher // keyed with SK_er/SK_ar
}

func newIKESA(t *testing.T, s Suite, keys IKEKeys, spiI, spiR uint64) *ikeSA {
	t.Helper()
	fromI, fromR, err := keys.Ciphers(s, true)
	if err != nil {
		t.Fatal(err)
	}
	return &ikeSA{spiI: spiI, spiR: spiR, suite: s, keys: keys, fromI: fromI, fromR: fromR}
}

// message is a decrypted IKE message.
type message struct {
	exch, flags byte
	id          uint32
	inner       []payload
}

// open checks the header and SK payload of m (RFC 7296 §3.1, §3.14) and
// decrypts it: the AAD is the header and the SK generic header.
func (sa *ikeSA) open(t *testing.T, m []byte) message {
	t.Helper()
	if len(m) < 32 || m[16] != payloadSK {
		t.Fatalf("message of %d octets does not start with SK", len(m))
	}
	if binary.BigEndian.Uint32(m[24:28]) != uint32(len(m)) || 28+int(binary.BigEndian.Uint16(m[30:32])) != len(m) {
		t.Fatal("bad message or SK length")
	}
	c := sa.fromR
	if m[19]&flagInitiator != 0 {
		c = sa.fromI
	}
	pt, err := c.Open(nil, m[:32], m[32:])
	if err != nil {
		t.Fatalf("Open of a message of exchange %d: %v", m[18], err)
	}
	return message{exch: m[18], flags: m[19], id: binary.BigEndian.Uint32(m[20:24]), inner: payloads(t, m[28], pt)}
}

func spis(m []byte) (uint64, uint64) {
	return binary.BigEndian.Uint64(m[0:8]), binary.BigEndian.Uint64(m[8:16])
}

func checkKeys(t *testing.T, k *kat, i int, got IKEKeys) {
	t.Helper()
	for _, f := range []struct {
		label string
		key   Key
	}{{"sk_d", got.D}, {"sk_ei", got.EI}, {"sk_er", got.ER}, {"sk_pi", got.PI}, {"sk_pr", got.PR}} {
		if want := k.log(t, f.label, i); !bytes.Equal(f.key, want) {
			t.Errorf("%s #%d = %x, strongSwan %x", f.label, i, []byte(f.key), want)
		}
	}
	if len(k.logs["sk_ai"]) > i || len(got.AI) > 0 {
		if !bytes.Equal(got.AI, k.log(t, "sk_ai", i)) || !bytes.Equal(got.AR, k.log(t, "sk_ar", i)) {
			t.Errorf("SK_a* #%d differ from strongSwan's", i)
		}
	}
}

func checkChildKeys(t *testing.T, k *kat, i int, got ChildKeys) {
	t.Helper()
	if !bytes.Equal(got.EI, k.log(t, "child_encr_i", i)) || !bytes.Equal(got.ER, k.log(t, "child_encr_r", i)) {
		t.Errorf("child encryption keys #%d differ from strongSwan's", i)
	}
	if len(k.logs["child_integ_i"]) > i || len(got.AI) > 0 {
		if !bytes.Equal(got.AI, k.log(t, "child_integ_i", i)) || !bytes.Equal(got.AR, k.log(t, "child_integ_r", i)) {
			t.Errorf("child integrity keys #%d differ from strongSwan's", i)
		}
	}
}

// checkAuth recomputes one side's AUTH payload (RFC 7296 §2.15).
func checkAuth(t *testing.T, k *kat, i int, prf ikev2.PRFID, initMsg, nonce []byte, skp Key, inner []payload, idType byte) {
	t.Helper()
	id := find(t, inner, idType)
	if want := k.log(t, "auth_id_body", i); !bytes.Equal(id, want) {
		t.Errorf("ID body #%d = %x, strongSwan %x", i, id, want)
	}
	signed, err := SignedOctets(prf, initMsg, nonce, skp, id)
	if err != nil {
		t.Fatal(err)
	}
	if want := k.log(t, "auth_octets", i); !bytes.Equal(signed, want) {
		t.Errorf("signed octets #%d differ from strongSwan's", i)
	}
	auth := find(t, inner, payloadAuth)
	if len(auth) < 4 || auth[0] != 2 {
		t.Fatalf("AUTH payload %x is not a shared key MIC", auth)
	}
	if !bytes.Equal(auth[4:], k.log(t, "auth", i)) {
		t.Errorf("AUTH #%d on the wire differs from the one strongSwan logged", i)
	}
	if !VerifyPSKAuth(prf, k.psk, signed, auth[4:]) {
		t.Errorf("AUTH #%d does not verify", i)
	}
}

// TestStrongSwanKAT derives the keys of real IKEv2 exchanges with strongSwan
// 5.9.8 and compares them with the values charon logged: SKEYSEED and SK_*
// (RFC 7296 §2.14), AUTH (§2.15), child SA keys with and without PFS
// (§2.17) and a rekeyed IKE SA (§2.18). It opens every captured IKE_AUTH,
// CREATE_CHILD_SA and INFORMATIONAL message with the derived keys (§3.14,
// RFC 5282).
func TestStrongSwanKAT(t *testing.T) {
	files, err := filepath.Glob("testdata/strongswan-*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(file), "strongswan-"), ".txt")
		t.Run(name, func(t *testing.T) { loadKAT(t, file).run(t) })
	}
}

func (k *kat) run(t *testing.T) {
	ikeProposal, err := ParseProposal(ikev2.ProtocolIKE, k.ike)
	if err != nil {
		t.Fatal(err)
	}
	espProposal, err := ParseProposal(ikev2.ProtocolESP, k.esp)
	if err != nil {
		t.Fatal(err)
	}

	// IKE_SA_INIT.
	req, resp := k.msgs[0], k.msgs[1]
	if req[18] != exchIKESAInit || resp[18] != exchIKESAInit {
		t.Fatal("fixture does not start with IKE_SA_INIT")
	}
	spiI, _ := spis(req)
	_, spiR := spis(resp)
	reqP, respP := payloads(t, req[16], req[28:]), payloads(t, resp[16], resp[28:])
	ni, nr := find(t, reqP, payloadNonce), find(t, respP, payloadNonce)
	_, _, offered := proposal(t, find(t, reqP, payloadSA))
	if !sameTransforms(offered, ikeProposal.Transforms) {
		t.Errorf("strongSwan offered %v for %q, ParseProposal gives %v", offered, k.ike, ikeProposal.Transforms)
	}
	_, _, chosen := proposal(t, find(t, respP, payloadSA))
	s, err := NewSuite(ikev2.ProtocolIKE, chosen)
	if err != nil {
		t.Fatal(err)
	}
	if sel, ok := ikeProposal.Select(offered); !ok || sel != s {
		t.Errorf("Select = %v, %v; strongSwan chose %v", sel, ok, s)
	}
	// RFC 6989: strongSwan's public values pass our validation.
	for _, ke := range [][]byte{find(t, reqP, payloadKE), find(t, respP, payloadKE)} {
		if ikev2.DHGroup(binary.BigEndian.Uint16(ke[:2])) != s.DH {
			t.Fatalf("KE of group %d in a %v exchange", binary.BigEndian.Uint16(ke[:2]), s.DH)
		}
		priv, err := GenerateKey(s.DH)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := priv.SharedSecret(ke[4:]); err != nil {
			t.Errorf("strongSwan's public value rejected: %v", err)
		}
	}

	// The IKE SA's keys from g^ir, the nonces and the SPIs.
	gir := Key(k.log(t, "gir", 0))
	skeyseed, err := SKEYSEED(s.PRF, ni, nr, gir)
	if err != nil {
		t.Fatal(err)
	}
	if want := k.log(t, "skeyseed", 0); !bytes.Equal(skeyseed, want) {
		t.Fatalf("SKEYSEED = %x, strongSwan %x", []byte(skeyseed), want)
	}
	keys, err := s.IKEKeys(skeyseed, ni, nr, spiI, spiR)
	if err != nil {
		t.Fatal(err)
	}
	checkKeys(t, k, 0, keys)
	sas := []*ikeSA{newIKESA(t, s, keys, spiI, spiR)}

	// Every later message, under the IKE SA its SPIs name.
	opened := 0
	var requests []message
	var rekeyReq message
	for _, m := range k.msgs[2:] {
		i, r := spis(m)
		idx := slices.IndexFunc(sas, func(sa *ikeSA) bool { return sa.spiI == i && sa.spiR == r })
		if idx < 0 {
			t.Fatalf("message for unknown IKE SA %x/%x", i, r)
		}
		sa := sas[idx]
		msg := sa.open(t, m)
		opened++
		switch {
		case msg.exch == exchIKEAuth && msg.flags&flagResponse == 0:
			checkAuth(t, k, 0, s.PRF, req, nr, keys.PI, msg.inner, payloadIDi)
		case msg.exch == exchIKEAuth:
			checkAuth(t, k, 1, s.PRF, resp, ni, keys.PR, msg.inner, payloadIDr)
			_, _, ts := proposal(t, find(t, msg.inner, payloadSA))
			cs, err := NewSuite(ikev2.ProtocolESP, ts)
			if err != nil {
				t.Fatal(err)
			}
			if want := append(bytes.Clone(ni), nr...); !bytes.Equal(want, k.log(t, "child_seed", 0)) {
				t.Error("child seed differs from strongSwan's")
			}
			ck, err := cs.ChildKeys(s.PRF, keys.D, nil, ni, nr)
			if err != nil {
				t.Fatal(err)
			}
			checkChildKeys(t, k, 0, ck)
		case msg.exch == exchCreateChildSA && msg.flags&flagResponse == 0:
			requests = append(requests, msg)
		case msg.exch == exchCreateChildSA:
			j := slices.IndexFunc(requests, func(q message) bool { return q.id == msg.id })
			if j < 0 {
				t.Fatal("CREATE_CHILD_SA response without request")
			}
			q := requests[j]
			ni2, nr2 := find(t, q.inner, payloadNonce), find(t, msg.inner, payloadNonce)
			_, _, offered := proposal(t, find(t, q.inner, payloadSA))
			proto, spiIBytes, _ := proposal(t, find(t, q.inner, payloadSA))
			_, spiRBytes, ts := proposal(t, find(t, msg.inner, payloadSA))
			if proto == ikev2.ProtocolESP {
				// Child SA rekeyed with PFS (RFC 7296 §2.17).
				if !sameTransforms(offered, espProposal.Transforms) {
					t.Errorf("strongSwan offered %v for %q, ParseProposal gives %v", offered, k.esp, espProposal.Transforms)
				}
				cs, err := NewSuite(ikev2.ProtocolESP, ts)
				if err != nil {
					t.Fatal(err)
				}
				if sel, ok := espProposal.Select(offered); !ok || sel != cs {
					t.Errorf("Select = %v, %v; strongSwan chose %v", sel, ok, cs)
				}
				gir2 := Key(k.log(t, "child_gir", 0))
				if want := append(append(bytes.Clone(gir2), ni2...), nr2...); !bytes.Equal(want, k.log(t, "child_seed", 1)) {
					t.Error("PFS child seed differs from strongSwan's")
				}
				ck, err := cs.ChildKeys(s.PRF, keys.D, gir2, ni2, nr2)
				if err != nil {
					t.Fatal(err)
				}
				checkChildKeys(t, k, 1, ck)
				continue
			}
			// IKE SA rekeyed (RFC 7296 §2.18): the old SA's PRF and SK_d,
			// the new SA's nonces, SPIs and suite.
			rekeyReq = q
			s2, err := NewSuite(ikev2.ProtocolIKE, ts)
			if err != nil {
				t.Fatal(err)
			}
			seed2, err := RekeySKEYSEED(sa.suite.PRF, sa.keys.D, Key(k.log(t, "gir", 1)), ni2, nr2)
			if err != nil {
				t.Fatal(err)
			}
			if want := k.log(t, "skeyseed", 1); !bytes.Equal(seed2, want) {
				t.Fatalf("rekey SKEYSEED = %x, strongSwan %x", []byte(seed2), want)
			}
			keys2, err := s2.IKEKeys(seed2, ni2, nr2, binary.BigEndian.Uint64(spiIBytes), binary.BigEndian.Uint64(spiRBytes))
			if err != nil {
				t.Fatal(err)
			}
			checkKeys(t, k, 1, keys2)
			sas = append(sas, newIKESA(t, s2, keys2, binary.BigEndian.Uint64(spiIBytes), binary.BigEndian.Uint64(spiRBytes)))
		}
	}
	if rekeyReq.inner == nil || len(sas) != 2 {
		t.Error("fixture has no IKE SA rekeying")
	}
	if opened != len(k.msgs)-2 {
		t.Errorf("opened %d of %d encrypted messages", opened, len(k.msgs)-2)
	}
}
