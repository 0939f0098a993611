package server

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/client"
	"github.com/vnetgw/vnetgw/internal/datadir"
	"github.com/vnetgw/vnetgw/internal/dataplane"
	"github.com/vnetgw/vnetgw/internal/leaktest"
	"github.com/vnetgw/vnetgw/internal/p2s"
	"github.com/vnetgw/vnetgw/internal/pkitest"
)

// TestChurn: a region whose connections are made and deleted, whose
// shared keys change, whose gateways (with BGP, with point-to-site) come
// and go and whose point-to-site clients connect and leave comes back, for
// each of these, to the goroutines and open files it had after the first
// few rounds, and its /metrics names none of what was deleted: a serve
// that runs for weeks does not grow with what it has seen. Each kind runs
// 50 rounds (IKEv1 20, its tunnels take longer to come up; BGP 10, its
// gateways' stops wait a second for their peers);
// VNETGW_CHURN=N runs N of each, with the heap in use logged, to look for
// slower growth. Loopback only: 127.222.0.0/24 and 127.222.1.0/24.
func TestChurn(t *testing.T) {
	n, v1N, bgpN := 50, 20, 10
	if v, err := strconv.Atoi(os.Getenv("VNETGW_CHURN")); err == nil && v > 0 {
		n, v1N, bgpN = v, v, v
	}
	r := startChurnRegion(t)
	r.run(t, "VNet-to-VNet", n, func(t *testing.T, i int) {
		a := r.connection(t, fmt.Sprint("gone-a-", i), r.hubGW, r.spokeGW, "ChurnKey2026", false)
		b := r.connection(t, fmt.Sprint("gone-b-", i), r.spokeGW, r.hubGW, "ChurnKey2026", false)
		r.waitEngine(t, "connected", connected(a, b))
		if i == -1 {
			// What the metrics check after the rounds would miss.
			if m := r.metrics(t); !strings.Contains(m, a.Key()) {
				t.Fatalf("/metrics does not name the connection %s while it runs:\n%s", a.Key(), m)
			}
		}
		r.delete(t, a, b)
		r.waitEngine(t, "connections gone", noConnections)
	})
	r.run(t, "VNet-to-VNet over IKEv1", v1N, func(t *testing.T, i int) {
		a := r.connectionV(t, fmt.Sprint("gone-v1a-", i), r.hubGW, r.spokeGW, "ChurnKey2026", false, "IKEv1")
		b := r.connectionV(t, fmt.Sprint("gone-v1b-", i), r.spokeGW, r.hubGW, "ChurnKey2026", false, "IKEv1")
		r.waitEngine(t, "connected", connected(a, b))
		r.delete(t, a, b)
		r.waitEngine(t, "connections gone", noConnections)
	})
	a := r.connection(t, "hub-to-spoke", r.hubGW, r.spokeGW, "ChurnKey2026", false)
	b := r.connection(t, "spoke-to-hub", r.spokeGW, r.hubGW, "ChurnKey2026", false)
	r.waitEngine(t, "connected", connected(a, b))
	r.run(t, "shared key changed", n, func(t *testing.T, i int) {
		before := r.srv.Engine().Status().Connections[a.Key()].Established
		key := fmt.Sprintf("ChurnKey%d", i+100)
		r.connection(t, "hub-to-spoke", r.hubGW, r.spokeGW, key, false)
		r.connection(t, "spoke-to-hub", r.spokeGW, r.hubGW, key, false)
		r.waitEngine(t, "connected again", func(st dataplane.Status) bool {
			return connected(a, b)(st) && st.Connections[a.Key()].Established.After(before)
		})
	})
	r.delete(t, a, b)
	r.waitEngine(t, "connections gone", noConnections)
	r.run(t, "gateway", n, func(t *testing.T, i int) {
		name := fmt.Sprint("gone-gw-", i)
		gw, _ := r.gateway(t, name, "10.3", 0)
		c := r.connection(t, name+"-a", gw, r.hubGW, "ChurnKey2026", false)
		d := r.connection(t, name+"-b", r.hubGW, gw, "ChurnKey2026", false)
		r.waitEngine(t, "connected", connected(c, d))
		r.delete(t, c, d)
		r.deleteGateway(t, name)
		r.waitEngine(t, "connections gone", noConnections)
	})
	r.run(t, "BGP", bgpN, func(t *testing.T, i int) {
		na, nb := fmt.Sprint("gone-bgp-a-", i), fmt.Sprint("gone-bgp-b-", i)
		x, _ := r.gateway(t, na, "10.4", 65010)
		y, _ := r.gateway(t, nb, "10.5", 65020)
		c := r.connection(t, na, x, y, "ChurnKey2026", true)
		d := r.connection(t, nb, y, x, "ChurnKey2026", true)
		r.waitEngine(t, "connected", connected(c, d))
		for deadline := time.Now().Add(30 * time.Second); bgpUp(r.srv.Engine()) < 2; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("BGP sessions not established: %+v", r.srv.Engine().BGPSessions())
			}
		}
		r.delete(t, c, d)
		r.deleteGateway(t, na)
		r.deleteGateway(t, nb)
		r.waitEngine(t, "connections gone", noConnections)
	})
	r.run(t, "point-to-site gateway", n, func(t *testing.T, i int) {
		name := fmt.Sprint("gone-p2s-", i)
		gw, addr := r.gateway(t, name, "10.6", 0)
		r.pointToSite(t, gw, "172.16.202.0/24", "SSTP", "IkeV2", "OpenVPN")
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			c, err := net.Dial("tcp", netip.AddrPortFrom(addr, r.sstpPort).String())
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the gateway's point-to-site port: %v", err)
			}
		}
		r.deleteGateway(t, name)
	})
	r.pointToSite(t, r.hubGW, "172.16.201.0/24", "SSTP")
	r.run(t, "SSTP client", n, r.sstpClient)
	if m := r.metrics(t); strings.Contains(m, "gone-") {
		t.Errorf("/metrics still names deleted connections or gateways:\n%s", m)
	}
}

// churnRegion is a serve running in the test, on 127.222.0.0/24 (its API)
// and 127.222.1.0/24 (its public addresses), with two VNets and their
// gateways, hub and spoke, driven through its API.
type churnRegion struct {
	srv         *Server
	dir         string
	c           *client.Client
	sstpPort    uint16
	hubGW       arm.ID
	spokeGW     arm.ID
	hubAddr     netip.Addr
	root, alice *pkitest.Cert
	// log: VNETGW_CHURN is set, and run logs what it measured.
	log bool
}

const churnSub = "00000000-0000-0000-0000-0000000c4a21"

func startChurnRegion(t *testing.T) *churnRegion {
	t.Helper()
	dir := t.TempDir()
	r := &churnRegion{dir: dir, sstpPort: churnPort(t, "tcp"), log: os.Getenv("VNETGW_CHURN") != ""}
	srv, err := New(context.Background(), Config{DataDir: dir, Listen: "127.222.0.1:0", PublicIPPool: "127.222.1.0/24",
		IKEPort: churnPort(t, "udp"), NATTPort: churnPort(t, "udp"), SSTPPort: r.sstpPort, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	run(t, srv)
	r.c = dirClient(t, dir)
	r.srv = srv
	r.root = pkitest.Issue(t, "churn root", true, nil)
	r.alice = pkitest.Issue(t, "alice", false, r.root)
	if _, err := r.c.Put(context.Background(), arm.ResourceGroupID(churnSub, "churn"), arm.ResourceGroup{Location: "westeurope"}, nil); err != nil {
		t.Fatal(err)
	}
	r.hubGW, r.hubAddr = r.gateway(t, "hub", "10.1", 0)
	r.spokeGW, _ = r.gateway(t, "spoke", "10.2", 0)
	return r
}

// churnPort returns a port of network ("udp" or "tcp") free on
// 127.222.0.1 now.
func churnPort(t *testing.T, network string) uint16 {
	t.Helper()
	var addr string
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.222.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		addr = c.LocalAddr().String()
	} else {
		l, err := net.Listen("tcp", "127.222.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		addr = l.Addr().String()
	}
	return netip.MustParseAddrPort(addr).Port()
}

// run runs cycle twice to warm up (i -1 and -2), then n times, and fails
// the test unless the goroutines and open files come back to what they
// were after the warm-up, listing the goroutines that stayed.
func (r *churnRegion) run(t *testing.T, name string, n int, cycle func(t *testing.T, i int)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		cycle(t, -1)
		cycle(t, -2)
		base := r.settle(t, leaktest.Unbounded)
		leaktest.HeapProfile(t, name+".base")
		start := time.Now()
		for i := 1; i <= n; i++ {
			cycle(t, i)
		}
		took := time.Since(start)
		after := r.settle(t, base)
		leaktest.HeapProfile(t, name+".after")
		if r.log {
			t.Logf("baseline %s; after %d rounds (%s) %s", base, n, took.Round(time.Millisecond), after)
		}
		if !after.Within(base, churnSlack) {
			t.Errorf("after %d rounds: %s, after the warm-up %s; the goroutines that stayed:\n%s", n, after, base, leaktest.Grown(base, after))
		}
	})
}

// churnSlack is how many goroutines and files above the baseline a round
// of churn may leave: those of a connection the HTTP client or server
// keeps (one each side).
const churnSlack = 2

// settle waits until the region's stops in the background have ended and
// the goroutines and open files are at most base's and churnSlack, for 20
// s at most, and returns what the process then holds.
func (r *churnRegion) settle(t *testing.T, base leaktest.Usage) leaktest.Usage {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, ended := r.srv.Engine().Stopping()
		if ended == nil {
			break
		}
		select {
		case <-ended:
		case <-time.After(time.Until(deadline)):
			t.Fatal("the gateways' stops in the background did not end within 20 s")
		}
	}
	for {
		r.c.CloseIdleConnections()
		u := leaktest.Measure(t)
		if u.Within(base, churnSlack) || time.Now().After(deadline) {
			return u
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gateway makes a VNet with a gateway (with BGP when asn is not 0) and
// returns the gateway and its public address.
func (r *churnRegion) gateway(t *testing.T, name, net16 string, asn int64) (arm.ID, netip.Addr) {
	t.Helper()
	ctx := context.Background()
	vnet := arm.NetworkID(churnSub, "churn", "virtualNetworks", name)
	v := arm.VirtualNetwork{Resource: arm.Resource{Location: "westeurope"}}
	v.Properties.AddressSpace = &arm.AddressSpace{AddressPrefixes: []string{net16 + ".0.0/16"}}
	v.Properties.Subnets = []arm.Subnet{
		{Name: "default", Properties: arm.SubnetProperties{AddressPrefix: net16 + ".0.0/24"}},
		{Name: "GatewaySubnet", Properties: arm.SubnetProperties{AddressPrefix: net16 + ".255.0/27"}},
	}
	if _, err := r.c.Put(ctx, vnet, v, nil); err != nil {
		t.Fatal(err)
	}
	pip := arm.NetworkID(churnSub, "churn", "publicIPAddresses", name+"-ip")
	if _, err := r.c.Put(ctx, pip, arm.PublicIPAddress{Resource: arm.Resource{Location: "westeurope"}}, nil); err != nil {
		t.Fatal(err)
	}
	id := arm.NetworkID(churnSub, "churn", "virtualNetworkGateways", name+"-gw")
	gw := arm.VirtualNetworkGateway{Resource: arm.Resource{Location: "westeurope"}}
	gw.Properties.IPConfigurations = []arm.VirtualNetworkGatewayIPConfiguration{{Name: "ipconfig1", Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{
		Subnet: arm.Ref(vnet.Child("subnets", "GatewaySubnet").String()), PublicIPAddress: arm.Ref(pip.String())}}}
	if asn != 0 {
		gw.Properties.EnableBGP = true
		gw.Properties.BGPSettings = &arm.BGPSettings{ASN: asn}
	}
	if _, err := r.c.Put(ctx, id, gw, nil); err != nil {
		t.Fatal(err)
	}
	var got arm.PublicIPAddress
	if err := r.c.Get(ctx, pip, &got); err != nil {
		t.Fatal(err)
	}
	return id, netip.MustParseAddr(got.Properties.IPAddress)
}

// deleteGateway deletes what gateway made.
func (r *churnRegion) deleteGateway(t *testing.T, name string) {
	t.Helper()
	r.delete(t, arm.NetworkID(churnSub, "churn", "virtualNetworkGateways", name+"-gw"),
		arm.NetworkID(churnSub, "churn", "publicIPAddresses", name+"-ip"),
		arm.NetworkID(churnSub, "churn", "virtualNetworks", name))
}

func (r *churnRegion) delete(t *testing.T, ids ...arm.ID) {
	t.Helper()
	for _, id := range ids {
		if err := r.c.Delete(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
}

// connection makes or changes a VNet-to-VNet connection.
func (r *churnRegion) connection(t *testing.T, name string, from, to arm.ID, key string, bgp bool) arm.ID {
	t.Helper()
	return r.connectionV(t, name, from, to, key, bgp, "")
}

// connectionV is connection with IKE's version ("IKEv1", "IKEv2", or "":
// IKEv2).
func (r *churnRegion) connectionV(t *testing.T, name string, from, to arm.ID, key string, bgp bool, version string) arm.ID {
	t.Helper()
	conn := arm.Connection{Resource: arm.Resource{Location: "westeurope"}}
	p := &conn.Properties
	p.ConnectionProtocol = version
	p.ConnectionType, p.VirtualNetworkGateway1, p.VirtualNetworkGateway2, p.SharedKey, p.EnableBGP = arm.ConnectionVnet2Vnet, arm.Ref(from.String()), arm.Ref(to.String()), key, bgp
	id := arm.NetworkID(churnSub, "churn", "connections", name)
	if _, err := r.c.Put(context.Background(), id, conn, nil); err != nil {
		t.Fatal(err)
	}
	return id
}

// pointToSite gives the gateway a client pool, the protocols and the
// test's root certificate.
func (r *churnRegion) pointToSite(t *testing.T, gw arm.ID, pool string, protocols ...string) {
	t.Helper()
	var g arm.VirtualNetworkGateway
	if err := r.c.Get(context.Background(), gw, &g); err != nil {
		t.Fatal(err)
	}
	g.Properties.VPNClientConfiguration = &arm.VPNClientConfiguration{
		VPNClientAddressPool: &arm.AddressSpace{AddressPrefixes: []string{pool}}, VPNClientProtocols: protocols,
		VPNClientRootCertificates: []arm.VPNClientRootCertificate{{Name: "root", Properties: arm.VPNClientRootCertificateProperties{
			PublicCertData: base64.StdEncoding.EncodeToString(r.root.Raw)}}}}
	if _, err := r.c.Put(context.Background(), gw, g, nil); err != nil {
		t.Fatal(err)
	}
}

// sstpClient connects vnetgw's own client to the hub's gateway over SSTP,
// disconnects it, and waits until the gateway counts it no more.
func (r *churnRegion) sstpClient(t *testing.T, _ int) {
	t.Helper()
	caPEM, err := os.ReadFile(filepath.Join(r.dir, datadir.CA))
	if err != nil {
		t.Fatal(err)
	}
	trust := x509.NewCertPool()
	trust.AppendCertsFromPEM(caPEM)
	cfg := p2s.ClientConfig{Server: netip.AddrPortFrom(r.hubAddr, r.sstpPort), ServerName: r.hubAddr.String(), RootCAs: trust,
		Cert: r.alice.TLS(), OnIP: func([]byte) {}}
	var cl *p2s.Client
	// The gateway's server starts with the change that gave it
	// point-to-site.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cl, err = p2s.Dial(ctx, cfg)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	cl.Close()
	<-cl.Done()
	r.waitEngine(t, "the client gone", func(st dataplane.Status) bool {
		return st.P2S[r.hubGW.Key()][dataplane.ProtocolSSTP].Clients == 0
	})
}

// waitEngine waits until ok holds of the data plane's status.
func (r *churnRegion) waitEngine(t *testing.T, what string, ok func(dataplane.Status) bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		st := r.srv.Engine().Status()
		if ok(st) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30 s: %+v", what, st.Connections)
		}
	}
}

func connected(ids ...arm.ID) func(dataplane.Status) bool {
	return func(st dataplane.Status) bool {
		for _, id := range ids {
			if st.Connections[id.Key()].State != dataplane.Connected {
				return false
			}
		}
		return true
	}
}

func noConnections(st dataplane.Status) bool { return len(st.Connections) == 0 }

// bgpUp counts the established BGP sessions of the engine's gateways.
func bgpUp(e *dataplane.Engine) int {
	up := 0
	for _, ss := range e.BGPSessions() {
		for _, s := range ss {
			if s.Established {
				up++
			}
		}
	}
	return up
}

func (r *churnRegion) metrics(t *testing.T) string {
	t.Helper()
	m, err := r.c.Metrics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return m
}
