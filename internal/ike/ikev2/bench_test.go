package ikev2

import (
	"testing"
	"time"
)

// BenchmarkHandshake measures complete IKE SA setups (IKE_SA_INIT and
// IKE_AUTH with one child SA, RFC 7296 §1.2) between two Managers in memory,
// per Diffie-Hellman group. The bytes are those of the IKE messages of one
// handshake; every iteration also tears the SAs down (without messages).
func BenchmarkHandshake(b *testing.B) {
	for _, tc := range []struct{ name, ike, esp string }{
		{"modp2048", "aes256-sha256-modp2048", "aes256-sha256"},
		{"ecp256", "aes256gcm16-prfsha256-ecp256", "aes256gcm16"},
		{"ecp384", "aes128gcm16-prfsha384-ecp384", "aes128gcm16"},
		{"modp2048s256", "aes256-sha256-modp2048s256", "aes256-sha256"},
		{"x25519", "aes256gcm16-prfsha256-x25519", "aes256gcm16"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			n := newFakeNet(b)
			n.noRecord = true
			pa, pb := basePeer("to-b", addrA, addrB), basePeer("to-a", addrB, addrA)
			pa.Mode, pb.Mode = ModeResponderOnly, ModeResponderOnly // a initiates when told
			withSuite(b, tc.ike, tc.esp)(&pa)
			withSuite(b, tc.ike, tc.esp)(&pb)
			pa.RetransmitTimeout, pb.RetransmitTimeout = time.Minute, time.Minute
			bn := newNode(b, n, "b", addrB, Config{}, pb)
			a := newNode(b, n, "a", addrA, Config{}, pa)
			a.dp.signal = make(chan struct{}, 1)
			handshake := func() {
				a.onLoop(func(c *conn) { c.initiate() })
				<-a.dp.signal
				for _, nd := range []*node{a, bn} {
					nd.onLoop(func(c *conn) {
						for _, sa := range c.sas {
							sa.kill("benchmark")
						}
						c.reap()
					})
				}
			}
			handshake()
			n.mu.Lock()
			b.SetBytes(int64(n.sentBytes))
			n.mu.Unlock()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				handshake()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
		})
	}
}
