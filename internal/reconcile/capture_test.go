package reconcile

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/pcap"
)

// TestCaptureWaitsForNewGateway: a packet capture started right after its
// gateway was created (the loop has not given it to the data plane yet)
// waits for the gateway to run and starts; it was refused with
// GatewayNotProvisioned, so that a script that created a gateway and
// then started a capture failed whenever the machine was busy. One of a
// gateway that never runs is still refused, after the wait.
func TestCaptureWaitsForNewGateway(t *testing.T) {
	e := dataplane.New(dataplane.Options{IKEPort: 15796, NATTPort: 15797})
	defer e.Close()
	l := Live{Engine: e}
	go func() {
		time.Sleep(time.Second)
		cfg := dataplane.Config{VNets: []dataplane.VNet{{ID: "v", Prefixes: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}},
			Gateways: []dataplane.Gateway{{ID: "gw", VNet: "v", PublicAddr: netip.MustParseAddr("127.84.0.1")}}}
		if _, err := e.Reconfig(cfg); err != nil {
			t.Error(err)
		}
	}()
	if err := l.StartPacketCapture("GW", pcap.Config{}); err != nil {
		t.Fatalf("a capture of a gateway that runs a second later: %v", err)
	}
	var ae *arm.Error
	if err := l.StartPacketCapture("nope", pcap.Config{}); !errors.As(err, &ae) || ae.Code != arm.CodeGatewayNotReady {
		t.Fatalf("a capture of a gateway that never runs: %v, want %s", err, arm.CodeGatewayNotReady)
	}
}
