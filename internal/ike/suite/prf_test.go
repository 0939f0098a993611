package suite

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// hashOf is the hash of each HMAC PRF (RFC 7296 §3.3.2, RFC 4868 §2.1.2),
// written out apart from prfHash so that the tests check it.
var hashOf = map[ikev2.PRFID]func() hash.Hash{
	ikev2.PRFHMACSHA1:   sha1.New,
	ikev2.PRFHMACSHA256: sha256.New,
	ikev2.PRFHMACSHA384: sha512.New384,
	ikev2.PRFHMACSHA512: sha512.New,
}

// TestPRFVectors checks the PRFs against RFC 2202 (HMAC-SHA1) and RFC 4231
// (HMAC-SHA2, used as PRF by RFC 4868 §2.1.2).
func TestPRFVectors(t *testing.T) {
	tests := []struct {
		name           string
		prf            ikev2.PRFID
		key, data, out string
	}{
		{"RFC 2202 §3 case 1 PRF_HMAC_SHA1", ikev2.PRFHMACSHA1, strings.Repeat("0b", 20), "4869205468657265", "b617318655057264e28bc0b6fb378c8ef146be00"},
		{"RFC 2202 §3 case 2 PRF_HMAC_SHA1", ikev2.PRFHMACSHA1, "4a656665", hex.EncodeToString([]byte("what do ya want for nothing?")), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
		{"RFC 2202 §3 case 3 PRF_HMAC_SHA1", ikev2.PRFHMACSHA1, strings.Repeat("aa", 20), strings.Repeat("dd", 50), "125d7342b9ac11cd91a39af48aa17b4f63f175d3"},
		{"RFC 2202 §3 case 4 PRF_HMAC_SHA1", ikev2.PRFHMACSHA1, "0102030405060708090a0b0c0d0e0f10111213141516171819", strings.Repeat("cd", 50), "4c9007f4026250c6bc8414f9bf50c86c2d7235da"},
		{"RFC 2202 §3 case 6 PRF_HMAC_SHA1", ikev2.PRFHMACSHA1, strings.Repeat("aa", 80), hex.EncodeToString([]byte("Test Using Larger Than Block-Size Key - Hash Key First")), "aa4ae5e15272d00e95705637ce8a3b55ed402112"},
		{"RFC 2202 §3 case 7 PRF_HMAC_SHA1", ikev2.PRFHMACSHA1, strings.Repeat("aa", 80), hex.EncodeToString([]byte("Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data")), "e8e99d0f45237d786d6bbaa7965c7808bbff1a91"},
		{"RFC 4231 §4.2 PRF_HMAC_SHA2_256", ikev2.PRFHMACSHA256, strings.Repeat("0b", 20), "4869205468657265", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
		{"RFC 4231 §4.2 PRF_HMAC_SHA2_384", ikev2.PRFHMACSHA384, strings.Repeat("0b", 20), "4869205468657265", "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6"},
		{"RFC 4231 §4.2 PRF_HMAC_SHA2_512", ikev2.PRFHMACSHA512, strings.Repeat("0b", 20), "4869205468657265", "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
		{"RFC 4231 §4.3 PRF_HMAC_SHA2_256", ikev2.PRFHMACSHA256, "4a656665", hex.EncodeToString([]byte("what do ya want for nothing?")), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{"RFC 4231 §4.3 PRF_HMAC_SHA2_384", ikev2.PRFHMACSHA384, "4a656665", hex.EncodeToString([]byte("what do ya want for nothing?")), "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649"},
		{"RFC 4231 §4.3 PRF_HMAC_SHA2_512", ikev2.PRFHMACSHA512, "4a656665", hex.EncodeToString([]byte("what do ya want for nothing?")), "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
		{"RFC 4231 §4.4 PRF_HMAC_SHA2_256", ikev2.PRFHMACSHA256, strings.Repeat("aa", 20), strings.Repeat("dd", 50), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
		{"RFC 4231 §4.4 PRF_HMAC_SHA2_384", ikev2.PRFHMACSHA384, strings.Repeat("aa", 20), strings.Repeat("dd", 50), "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b2a5ab39dc13814b94e3ab6e101a34f27"},
		{"RFC 4231 §4.4 PRF_HMAC_SHA2_512", ikev2.PRFHMACSHA512, strings.Repeat("aa", 20), strings.Repeat("dd", 50), "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb"},
		{"RFC 4231 §4.5 PRF_HMAC_SHA2_256", ikev2.PRFHMACSHA256, "0102030405060708090a0b0c0d0e0f10111213141516171819", strings.Repeat("cd", 50), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
		{"RFC 4231 §4.5 PRF_HMAC_SHA2_384", ikev2.PRFHMACSHA384, "0102030405060708090a0b0c0d0e0f10111213141516171819", strings.Repeat("cd", 50), "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e6801dd23c4a7d679ccf8a386c674cffb"},
		{"RFC 4231 §4.5 PRF_HMAC_SHA2_512", ikev2.PRFHMACSHA512, "0102030405060708090a0b0c0d0e0f10111213141516171819", strings.Repeat("cd", 50), "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd"},
		{"RFC 4231 §4.7 PRF_HMAC_SHA2_256", ikev2.PRFHMACSHA256, strings.Repeat("aa", 131), hex.EncodeToString([]byte("Test Using Larger Than Block-Size Key - Hash Key First")), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
		{"RFC 4231 §4.7 PRF_HMAC_SHA2_384", ikev2.PRFHMACSHA384, strings.Repeat("aa", 131), hex.EncodeToString([]byte("Test Using Larger Than Block-Size Key - Hash Key First")), "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952"},
		{"RFC 4231 §4.7 PRF_HMAC_SHA2_512", ikev2.PRFHMACSHA512, strings.Repeat("aa", 131), hex.EncodeToString([]byte("Test Using Larger Than Block-Size Key - Hash Key First")), "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"},
		{"RFC 4231 §4.8 PRF_HMAC_SHA2_256", ikev2.PRFHMACSHA256, strings.Repeat("aa", 131), hex.EncodeToString([]byte("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.")), "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
		{"RFC 4231 §4.8 PRF_HMAC_SHA2_384", ikev2.PRFHMACSHA384, strings.Repeat("aa", 131), hex.EncodeToString([]byte("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.")), "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c46523e"},
		{"RFC 4231 §4.8 PRF_HMAC_SHA2_512", ikev2.PRFHMACSHA512, strings.Repeat("aa", 131), hex.EncodeToString([]byte("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.")), "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := prfSum(tt.prf, nil, unhex(t, tt.key), unhex(t, tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, tt.out); !bytes.Equal(got, want) {
				t.Errorf("prf = %x, want %x", got, want)
			}
			if len(got) != prfSize(tt.prf) {
				t.Errorf("size() = %d, output %d", prfSize(tt.prf), len(got))
			}
		})
	}
}

// TestIntegVectors checks the truncated HMACs used as integrity algorithms
// against RFC 2202 (HMAC-SHA1-96, RFC 2404) and RFC 4868 §2.7.2.
func TestIntegVectors(t *testing.T) {
	tests := []struct {
		name           string
		integ          ikev2.IntegID
		key, data, mac string
	}{
		{"RFC 2202 §3 case 1 AUTH_HMAC_SHA1_96", ikev2.IntegHMACSHA1_96, strings.Repeat("0b", 20), "4869205468657265", "b617318655057264e28bc0b6"},
		{"RFC 2202 §3 case 3 AUTH_HMAC_SHA1_96", ikev2.IntegHMACSHA1_96, strings.Repeat("aa", 20), strings.Repeat("dd", 50), "125d7342b9ac11cd91a39af4"},
		{"RFC 4868 §2.7.2 case 1 AUTH_HMAC_SHA2_256_128", ikev2.IntegHMACSHA256_128, strings.Repeat("0b", 32), "4869205468657265", "198a607eb44bfbc69903a0f1cf2bbdc5"},
		{"RFC 4868 §2.7.2 case 1 AUTH_HMAC_SHA2_384_192", ikev2.IntegHMACSHA384_192, strings.Repeat("0b", 48), "4869205468657265", "b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee973"},
		{"RFC 4868 §2.7.2 case 1 AUTH_HMAC_SHA2_512_256", ikev2.IntegHMACSHA512_256, strings.Repeat("0b", 64), "4869205468657265", "637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8"},
		{"RFC 4868 §2.7.2 case 2 AUTH_HMAC_SHA2_256_128", ikev2.IntegHMACSHA256_128, hex.EncodeToString([]byte("JefeJefeJefeJefeJefeJefeJefeJefe")), hex.EncodeToString([]byte("what do ya want for nothing?")), "167f928588c5cc2eef8e3093caa0e87c"},
		{"RFC 4868 §2.7.2 case 2 AUTH_HMAC_SHA2_384_192", ikev2.IntegHMACSHA384_192, hex.EncodeToString([]byte("JefeJefeJefeJefeJefeJefeJefeJefeJefeJefeJefeJefe")), hex.EncodeToString([]byte("what do ya want for nothing?")), "2c7353974f1842fd66d53c452ca42122b28c0b594cfb184d"},
		{"RFC 4868 §2.7.2 case 2 AUTH_HMAC_SHA2_512_256", ikev2.IntegHMACSHA512_256, hex.EncodeToString([]byte("JefeJefeJefeJefeJefeJefeJefeJefeJefeJefeJefeJefeJefeJefeJefeJefe")), hex.EncodeToString([]byte("what do ya want for nothing?")), "cb370917ae8a7ce28cfd1d8f4705d6141c173b2a9362c15df235dfb251b15454"},
		{"RFC 4868 §2.7.2 case 3 AUTH_HMAC_SHA2_256_128", ikev2.IntegHMACSHA256_128, strings.Repeat("aa", 32), strings.Repeat("dd", 50), "cdcb1220d1ecccea91e53aba3092f962"},
		{"RFC 4868 §2.7.2 case 3 AUTH_HMAC_SHA2_384_192", ikev2.IntegHMACSHA384_192, strings.Repeat("aa", 48), strings.Repeat("dd", 50), "809f439be00274321d4a538652164b53554a508184a0c316"},
		{"RFC 4868 §2.7.2 case 3 AUTH_HMAC_SHA2_512_256", ikev2.IntegHMACSHA512_256, strings.Repeat("aa", 64), strings.Repeat("dd", 50), "2ee7acd783624ca9398710f3ee05ae41b9f9b0510c87e49e586cc9bf961733d8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := unhex(t, tt.key)
			if len(key) != integKeyLen(tt.integ) {
				t.Errorf("keyLen() = %d, vector key %d", integKeyLen(tt.integ), len(key))
			}
			h, _ := integHash(tt.integ)
			m := hmac.New(h, key)
			m.Write(unhex(t, tt.data))
			if got, want := m.Sum(nil)[:integICVLen(tt.integ)], unhex(t, tt.mac); !bytes.Equal(got, want) {
				t.Errorf("ICV = %x, want %x", got, want)
			}
		})
	}
}

// TestPlusVectors checks prf+ (RFC 7296 §2.13) against the IKEv2 KDF vectors
// of NIST SP 800-135 (CAVP) and one derived from RFC 4868, as strongSwan's
// test suite carries them.
func TestPlusVectors(t *testing.T) {
	tests := []struct {
		name           string
		prf            ikev2.PRFID
		key, seed, out string
	}{
		{"RFC 4868 derived PRF_HMAC_SHA2_256", ikev2.PRFHMACSHA256,
			"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
			"4869205468657265",
			"b9bdc08988b4c2b75aa93e596ac84205fa2ddde1bf7a2572067b00e14b237732830509981ad2f94a8c32a47daa2255b660c436347ae756a6edc023477d809590e682f61d9c04b06b4ad971a34c8147fa66792ff1434b93c722b32e12f48832ebc15ce2369ce71fe9b7b81e5704c14d0f5280a6ec626e992d7a9f"},
		{"SP 800-135 IKEv2 PRF_HMAC_SHA2_256", ikev2.PRFHMACSHA256,
			"37fde90b81d63692620f67367b62092e3efdc6a03509137d731004767ff35010",
			"ed80dc79912c32a935fb6d1a3feac07847c1858efc932ea4606fd05609624002",
			"63d018a08f7a29daa7d1f92cb63f45fa39bbaf5e5f1a78139613bb891e3e6bf9d0448f7c74e05b4c1a25c0b61e62c875e852f287e192d4ae536112db5197216400bd5e123470efc15f53161865fe8b19a1416518a157d651ecd2caddab6a9eae6a27a55af088218d5156edaa9789f934d9836ed43edffda553822202ff9f7d4860ca72e0"},
		{"SP 800-135 IKEv2 PRF_HMAC_SHA2_384", ikev2.PRFHMACSHA384,
			"54436a9ea95d6ff79b967f4b07f6de976a376e8ea26aa9574709afc60243c9c141da4ca0e158e627a75ea87f6feb07ef",
			"d672b0bc852829b93509f3b7247063640f9a016d7b22223c85f710daf8b982d8",
			"10b00a654643b3b985764f86e23ef62431122fcc96de16e338a372bee49391db1f83a7358c080380abbf4af47cdb83b9530343168f7dbc9221260e1546c6b383e2235d2705a727f0b41aebf6a1b4c61cb460660152a17ba74c20d5191ba6841794945270d829587b7f3294639ea7b77149e1d07230ac16e0cd5ab236fa3212bd569ee70f"},
		{"SP 800-135 IKEv2 PRF_HMAC_SHA2_512", ikev2.PRFHMACSHA512,
			"daf9bd6f2f912da553867966af386e67909a8df0ca7e84b83b355cb7d7f1026f17d8ea34b5d57fd0d1ba389528fca1e81d1c8ce511b28a2458241143fee30ccc",
			"df7931db9b429e10b8aa8e4d460423939ba40af9157f47925383c7cd3d1046e6",
			"919a75deaeccbd393bebc89615f8a215edb7073b2319d86740221eee7a2deb92509044d7e61fcb1bf9676b3881c7ced49e6bba1549da3113601677a2445d91ac13a597335782dd3a9cf496d9e19b932f27dd35e36f8070d232d0a3b3f4c4a0b4ba4470778dc090f31f52ab1b6d81e4c7dfb35063ad96c327adcdbde714cc9a6b5ef049b8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := unhex(t, tt.out)
			got, err := PRFPlus(tt.prf, unhex(t, tt.key), unhex(t, tt.seed), len(want))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("prf+ = %x, want %x", []byte(got), want)
			}
		})
	}
}

// TestPlusConstruction checks prf+ block by block against RFC 7296 §2.13:
// T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n), for every PRF and for
// lengths that end inside, at and after block boundaries.
func TestPlusConstruction(t *testing.T) {
	key, seed := []byte("key material"), []byte("seed octets: Ni | Nr | SPIi | SPIr")
	for _, prf := range []ikev2.PRFID{ikev2.PRFHMACSHA1, ikev2.PRFHMACSHA256, ikev2.PRFHMACSHA384, ikev2.PRFHMACSHA512} {
		t.Run(prf.String(), func(t *testing.T) {
			var want, prev []byte
			for i := 1; i <= 255; i++ {
				m := hmac.New(hashOf[prf], key)
				m.Write(prev)
				m.Write(seed)
				m.Write([]byte{byte(i)})
				prev = m.Sum(nil)
				want = append(want, prev...)
			}
			size := prfSize(prf)
			for _, n := range []int{0, 1, size - 1, size, size + 1, 3*size + 7, 255*size - 1, 255 * size} {
				got, err := PRFPlus(prf, key, seed, n)
				if err != nil {
					t.Fatalf("Plus(%d): %v", n, err)
				}
				if !bytes.Equal(got, want[:n]) {
					t.Errorf("Plus(%d) = %x, want %x", n, []byte(got), want[:n])
				}
				if cap(got) != n {
					t.Errorf("Plus(%d) has capacity %d", n, cap(got))
				}
			}
			// RFC 7296 §2.13: the counter is one octet, so 255 blocks at most.
			for _, n := range []int{255*size + 1, -1} {
				if _, err := PRFPlus(prf, key, seed, n); err == nil {
					t.Errorf("Plus(%d) succeeded", n)
				}
			}
		})
	}
	if _, err := PRFPlus(ikev2.PRFID(4), key, seed, 16); err == nil {
		t.Error("Plus with an unsupported PRF succeeded")
	}
}

func TestNewNonce(t *testing.T) {
	a, err := NewNonce()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewNonce()
	if err != nil {
		t.Fatal(err)
	}
	// RFC 7296 §2.10: at least 128 bits and half the largest PRF key.
	if len(a) != NonceLen || NonceLen < minNonceLen || NonceLen < prfSize(ikev2.PRFHMACSHA512)/2 {
		t.Errorf("nonce of %d octets", len(a))
	}
	if bytes.Equal(a, b) {
		t.Error("two nonces are equal")
	}
}
