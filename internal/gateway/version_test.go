package gateway_test

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/gateway"
	"github.com/vnetgw/vnetgw/internal/tun/tuntest"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// TestInvalidMajorVersionUDP: a UDP datagram to the gateway's IKE port
// holding an IKE_SA_INIT request of major version 3 is answered, through
// the socket and the demultiplexer that tells IKEv1 from IKEv2, with an
// unauthenticated INVALID_MAJOR_VERSION of version 2.0 (RFC 7296 §2.5,
// §1.5), to where it came from. Loopback only: 127.89.0.1 and .2.
func TestInvalidMajorVersionUDP(t *testing.T) {
	gwAddr := netip.MustParseAddrPort("127.89.0.1:50500")
	gw, err := gateway.Start(gateway.Options{Local: gwAddr.Addr(), IKEPort: gwAddr.Port(), NATTPort: 54500,
		Inner: tuntest.NewSink(64), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.89.0.2:0")), net.UDPAddrFromAddrPort(gwAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	const spiI = 0x0102030405060708
	req := binary.BigEndian.AppendUint64(nil, spiI)
	req = binary.BigEndian.AppendUint64(req, 0)
	req = append(req, 33, 3<<4, byte(wire.IKESAInit), byte(wire.FlagInitiator))
	req = binary.BigEndian.AppendUint32(req, 0)
	req = binary.BigEndian.AppendUint32(req, wire.HeaderLen+200)
	req = append(req, make([]byte, 200)...)
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	k, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	resp, err := wire.ParseMessage(buf[:k])
	if err != nil {
		t.Fatal(err)
	}
	h := resp.Header
	if h.MajorVersion != 2 || h.Flags != wire.FlagResponse || h.SPIi != spiI || h.SPIr != 0 || h.Exchange != wire.IKESAInit || h.MessageID != 0 {
		t.Errorf("answer header %+v", h)
	}
	if len(resp.Payloads) != 1 {
		t.Fatalf("answer payloads %v, want INVALID_MAJOR_VERSION alone", resp.Payloads)
	}
	if n, ok := resp.Payloads[0].(*wire.Notify); !ok || n.NotifyType != wire.InvalidMajorVersion {
		t.Errorf("answer payload %v, want INVALID_MAJOR_VERSION", resp.Payloads[0])
	}
}
