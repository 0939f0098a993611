package server

import (
	"context"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/datadir"
	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/insights"
	"github.com/vnetgw/vnetgw/internal/p2s"
	"github.com/vnetgw/vnetgw/internal/pkitest"
)

// TestStopSamplesTheTrafficSinceTheLastSample: what the tunnels carried
// between the last sample (on the interval's boundary) and a stop is in
// the metrics after the restart. serve sampled on the boundaries alone
// and saved what it had sampled as it stopped, so that the traffic of the
// minute it stopped in was lost to the metrics (a restart for an upgrade
// showed a dip in P2SBandwidth, TunnelIngressBytes and the rest). Here
// the interval is an hour: no boundary sample comes between the client's
// packets and the stop (unless the test runs over the hour, when one
// does).
func TestStopSamplesTheTrafficSinceTheLastSample(t *testing.T) {
	dir := t.TempDir()
	r := &churnRegion{dir: dir, sstpPort: churnPort(t, "tcp")}
	cfg := Config{DataDir: dir, Listen: "127.222.0.1:0", PublicIPPool: "127.222.1.0/24",
		IKEPort: churnPort(t, "udp"), NATTPort: churnPort(t, "udp"), SSTPPort: r.sstpPort, Logger: slog.New(slog.DiscardHandler),
		MetricsInterval: time.Hour}
	srv, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, srv)
	r.c, r.srv = dirClient(t, dir), srv
	r.root = pkitest.Issue(t, "metrics root", true, nil)
	r.alice = pkitest.Issue(t, "alice", false, r.root)
	if _, err := r.c.Put(context.Background(), arm.ResourceGroupID(churnSub, "churn"), arm.ResourceGroup{Location: "westeurope"}, nil); err != nil {
		t.Fatal(err)
	}
	r.hubGW, r.hubAddr = r.gateway(t, "hub", "10.1", 0)
	r.pointToSite(t, r.hubGW, "172.16.201.0/24", "SSTP")

	caPEM, err := os.ReadFile(filepath.Join(dir, datadir.CA))
	if err != nil {
		t.Fatal(err)
	}
	trust := x509.NewCertPool()
	trust.AppendCertsFromPEM(caPEM)
	var cl *p2s.Client
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cl, err = p2s.Dial(ctx, p2s.ClientConfig{Server: netip.AddrPortFrom(r.hubAddr, r.sstpPort), ServerName: r.hubAddr.String(),
			RootCAs: trust, Cert: r.alice.TLS(), OnIP: func([]byte) {}})
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	defer cl.Close()
	// Datagrams of 1,000 bytes to a host of the VNet.
	pkt := make([]byte, 1000)
	pkt[0], pkt[8], pkt[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	src, dst := cl.Addr().As4(), netip.MustParseAddr("10.1.0.4").As4()
	copy(pkt[12:], src[:])
	copy(pkt[16:], dst[:])
	for range 10 {
		if err := cl.Send(pkt); err != nil {
			t.Fatal(err)
		}
	}
	var sent uint64
	r.waitEngine(t, "the client's packets counted", func(st dataplane.Status) bool {
		sent = st.P2S[r.hubGW.Key()][dataplane.ProtocolSSTP].Ingress
		return sent >= 10*1000
	})
	stop()

	srv, err = New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	run(t, srv)
	c := dirClient(t, dir)
	var out insights.Response
	if _, err := c.Do(context.Background(), "GET", r.hubGW.String()+"/providers/Microsoft.Insights/metrics?metricnames=P2SBandwidth&interval=PT1H&timespan=PT3H", nil, &out); err != nil {
		t.Fatal(err)
	}
	var seen []string
	has := false
	for _, p := range out.Value[0].Timeseries[0].Data {
		if p.Average != nil {
			seen = append(seen, fmt.Sprintf("%s %v", p.TimeStamp, *p.Average))
			has = has || *p.Average > 0
		}
	}
	if !has {
		t.Errorf("P2SBandwidth after the restart has none of the %d bytes the client sent before the stop: %v", sent, seen)
	}
}
