package region

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/sparselog"
)

// downPeer is a peer region with gateways far0, far1, ... whose answers
// fail while down is set: at once (refused), or after the lookup's
// deadline (silent); while gone is set, it has none of them.
type downPeer struct {
	mu                    sync.Mutex // guards the fields below
	down, silent, gone    bool
	prefixes              []string // of the gateways' VNet
	asked                 int      // lookups while down
	answered              int      // lookups while up
	inFlight, maxInFlight int      // lookups under way while down
}

func (p *downPeer) Gateway(ctx context.Context, id string) (*RemoteGateway, error) {
	p.mu.Lock()
	if p.down {
		p.asked++
		p.inFlight++
		p.maxInFlight = max(p.maxInFlight, p.inFlight)
		silent := p.silent
		p.mu.Unlock()
		if silent {
			<-ctx.Done()
		}
		p.mu.Lock()
		p.inFlight--
		p.mu.Unlock()
		return nil, &PeerError{Peer: "far", Err: errors.New("connection refused")}
	}
	defer p.mu.Unlock()
	p.answered++
	if p.gone {
		return nil, fmt.Errorf("%s: %w", id, ErrNoRemote)
	}
	g := arm.VirtualNetworkGateway{Resource: arm.Resource{ID: id, Name: "gw", Location: "northeurope"}}
	g.Properties.GatewayType, g.Properties.VPNType = arm.GatewayTypeVpn, arm.RouteBased
	// Each gateway at an address of its own, as a region gives them: a
	// gateway has one tunnel to an address (R34).
	var n int
	fmt.Sscanf(id[strings.LastIndex(id, "/far")+len("/far"):], "%d", &n)
	return &RemoteGateway{Gateway: g, PublicAddr: netip.AddrFrom4([4]byte{127, 119, byte((n + 9) >> 8), byte(n + 9)}),
		VNetID: "/subscriptions/far/resourceGroups/far/providers/Microsoft.Network/virtualNetworks/far", VNetPrefixes: p.prefixes}, nil
}

func (*downPeer) ConnectionsTo(context.Context, string) ([]ConnectionTo, error) { return nil, nil }

func (p *downPeer) set(f func(p *downPeer)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

// remoteRegion opens a region whose gateway has n VNet-to-VNet
// connections to the gateways far0... of peer, which answers meanwhile.
func remoteRegion(t *testing.T, peer *downPeer, n int, log *slog.Logger) (*Region, []string) {
	t.Helper()
	peer.set(func(p *downPeer) { p.prefixes = []string{"10.2.0.0/16"} })
	reg, _ := openRegion(t, Config{Remotes: peer, Logger: log})
	ctx := context.Background()
	const sub, rg, loc = "dddddddd-0000-0000-0000-00000000fed2", "rg", "westeurope"
	must := mustPut(t)
	gw := putGateway(t, reg, sub, func(p *arm.VirtualNetworkGatewayProperties) {
		p.GatewayType, p.VPNType = arm.GatewayTypeVpn, arm.RouteBased
		p.SKU = &arm.VirtualNetworkGatewaySKU{Name: "VpnGw1"}
	})
	var remotes []string
	for i := range n {
		far := arm.NetworkID("ffffffff-0000-0000-0000-00000000fed2", "far", "virtualNetworkGateways", fmt.Sprintf("far%d", i)).String()
		c := &arm.Connection{Resource: arm.Resource{Location: loc}}
		c.Properties.ConnectionType, c.Properties.SharedKey = arm.ConnectionVnet2Vnet, "abc123"
		c.Properties.VirtualNetworkGateway1, c.Properties.VirtualNetworkGateway2 = arm.Ref(gw.String()), arm.Ref(far)
		must(reg.PutConnection(ctx, arm.NetworkID(sub, rg, "connections", fmt.Sprintf("c%d", i)), c))
		remotes = append(remotes, far)
	}
	return reg, remotes
}

// TestRefreshAsksRemotesAtOnce: while a peer region is silent, the
// remote gateways no answering peer has are asked for together, each
// waiting RemoteRefresh for it once, not one after another (4 gateways
// took 20 s a refresh, 100 took more than 8 minutes).
func TestRefreshAsksRemotesAtOnce(t *testing.T) {
	t.Parallel()
	peer := &downPeer{}
	remoteRegion(t, peer, 4, nil)
	peer.set(func(p *downPeer) { p.down, p.silent = true, true })
	deadline := time.Now().Add(3*RemoteRefresh + 2*time.Minute)
	for {
		var asked, most int
		peer.set(func(p *downPeer) { asked, most = p.asked, p.maxInFlight })
		if most == 4 {
			return
		}
		if asked >= 8 || time.Now().After(deadline) {
			t.Fatalf("%d lookups of the 4 remote gateways while the peer is silent, at most %d at once; want 4 at once", asked, most)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRefreshBacksOffUnansweringPeer: while the peer region that has a
// remote gateway refuses every lookup, the gateway is asked for again
// after 10 s, 20 s, 40 s..., not every RemoteRefresh; that the peer does
// not answer is logged once (the next line a minute later, with the
// failures since), not at every lookup; once the peer answers again,
// what it says is taken.
func TestRefreshBacksOffUnansweringPeer(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex // guards buf
		buf bytes.Buffer
	)
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil))
	peer := &downPeer{}
	reg, remotes := remoteRegion(t, peer, 1, log)
	peer.set(func(p *downPeer) { p.down = true })
	time.Sleep(6*RemoteRefresh + RemoteRefresh/2) // 32.5 s: lookups at 5, 15 and 35 s at most
	var asked int
	peer.set(func(p *downPeer) { asked = p.asked })
	if asked == 0 || asked > 3 { // a slow machine makes them rarer, never more
		t.Errorf("%d lookups in 32.5 s while the peer refuses them, want 1 to 3", asked)
	}
	mu.Lock()
	lines := strings.Count(buf.String(), "peer region unreachable")
	logged := buf.String()
	mu.Unlock()
	if lines != 1 || !strings.Contains(logged, "peer=far failures=1") {
		t.Errorf("%d lines about the peer after %d lookups, want 1 naming it:\n%s", lines, asked, logged)
	}
	peer.set(func(p *downPeer) { p.down, p.prefixes = false, []string{"10.2.0.0/16", "10.3.0.0/16"} })
	deadline := time.Now().Add(remoteBackoffMax + 2*time.Minute)
	for {
		rg := reg.remoteView()[strings.ToLower(remotes[0])]
		if rg != nil && slices.Equal(rg.VNetPrefixes, []string{"10.2.0.0/16", "10.3.0.0/16"}) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the peer answers again: its gateway not looked up again (%+v)", rg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRefreshLogsMisfitOnce: while a peer region's answer for a remote
// gateway is one its connections here cannot take (its VNet's address
// space holds 0.0.0.0/0), that is logged once (the next line a minute
// later, with the answers refused since), not at every refresh; once an
// answer is taken, the next that is not is logged at once.
func TestRefreshLogsMisfitOnce(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex // guards buf
		buf bytes.Buffer
	)
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil))
	lines := func() (int, string) {
		mu.Lock()
		defer mu.Unlock()
		return strings.Count(buf.String(), "cannot take"), buf.String()
	}
	peer := &downPeer{}
	reg, remotes := remoteRegion(t, peer, 1, log)
	// waitAnswers waits for n more lookups of the gateway.
	waitAnswers := func(n int) {
		t.Helper()
		var from int
		peer.set(func(p *downPeer) { from = p.answered })
		deadline := time.Now().Add(time.Duration(n)*RemoteRefresh + 2*time.Minute)
		for {
			var answered int
			peer.set(func(p *downPeer) { answered = p.answered })
			if answered >= from+n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d lookups of the remote gateway, want %d more", answered-from, n)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	start := time.Now()
	peer.set(func(p *downPeer) { p.prefixes = []string{"0.0.0.0/0"} })
	waitAnswers(4) // the lines of the first 3 are logged before the 4th lookup
	n, logged := lines()
	if most := 1 + int(time.Since(start)/sparselog.Every); n == 0 || n > most {
		t.Fatalf("%d lines about the answer not taken after 4 lookups in %v, want 1 to %d:\n%s", n, time.Since(start), most, logged)
	}
	if !strings.Contains(logged, "refused=1") {
		t.Errorf("the line does not count the answer refused:\n%s", logged)
	}
	peer.set(func(p *downPeer) { p.prefixes = []string{"10.3.0.0/16"} })
	deadline := time.Now().Add(2*RemoteRefresh + 2*time.Minute)
	for {
		rg := reg.remoteView()[strings.ToLower(remotes[0])]
		if rg != nil && slices.Equal(rg.VNetPrefixes, []string{"10.3.0.0/16"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the peer's answer fits again: not taken (%+v)", rg)
		}
		time.Sleep(100 * time.Millisecond)
	}
	before, _ := lines()
	peer.set(func(p *downPeer) { p.prefixes = []string{"0.0.0.0/0"} })
	waitAnswers(2) // the first is logged before the second lookup
	if after, logged := lines(); after != before+1 {
		t.Errorf("%d lines about an answer not taken again after one was taken, want 1:\n%s", after-before, logged)
	}
}

// lockedWriter is a log's writer that a test reads meanwhile.
type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(b)
}

// slowPeer is a peer region that has no gateway of its own and whose
// answers to ConnectionsTo wait until wait of them are asked at once (or
// their deadline ends): each is as slow as the peer, unless they are
// asked together. It refuses at once to be asked for gateway refuse.
type slowPeer struct {
	wait   int
	gate   chan struct{} // closed once wait are asked at once
	refuse string

	mu                    sync.Mutex // guards the fields below
	asked, cancelled      int
	inFlight, maxInFlight int
	opened                bool // gate is closed
}

func (*slowPeer) Gateway(context.Context, string) (*RemoteGateway, error) {
	return nil, ErrNoRemote
}

func (p *slowPeer) ConnectionsTo(ctx context.Context, id string) ([]ConnectionTo, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked++
	if p.refuse != "" && strings.HasSuffix(id, "/"+p.refuse) {
		return nil, &PeerError{Peer: "far", Err: errors.New("connection refused")}
	}
	p.inFlight++
	p.maxInFlight = max(p.maxInFlight, p.inFlight)
	if p.inFlight == p.wait && !p.opened {
		// Once: the asks after these find fewer in flight, then as many
		// again.
		p.opened = true
		close(p.gate)
	}
	p.mu.Unlock()
	var err error
	select {
	case <-p.gate:
	case <-ctx.Done():
		err = &PeerError{Peer: "far", Err: ctx.Err()}
	}
	p.mu.Lock()
	p.inFlight--
	if errors.Is(err, context.Canceled) {
		p.cancelled++
	}
	return nil, err
}

// TestInboundConnectionsAskedAtOnce: deleting a resource group with 10
// VPN gateways while the peer region is slow asks it for the connections
// that end at them 8 at once, so that the delete waits for the peer about
// twice, not 10 times: it is not refused for want of time (asked one
// after another, the first took the write's whole 10 s). When the peer
// refuses one, the delete is refused saying so, and the others' asks end.
func TestInboundConnectionsAskedAtOnce(t *testing.T) {
	t.Parallel()
	const n = 10
	for _, tc := range []struct {
		name      string
		refuse    string // the gateway the peer refuses to be asked for
		wantErr   string
		cancelled int // asks ended by the refusal
	}{
		{name: "slow peer"},
		{name: "one refused", refuse: "gw0", wantErr: "connection refused", cancelled: n - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			peer := &slowPeer{wait: remoteAsks, gate: make(chan struct{}), refuse: tc.refuse}
			if tc.refuse != "" {
				peer.wait = n + 1 // never: the others wait for their deadline
			}
			reg, _ := openRegion(t, Config{Remotes: peer})
			_, err := reg.Delete(context.Background(), vpnGroup(t, reg, "dddddddd-0000-0000-0000-00000000fed3", n))
			peer.mu.Lock()
			asked, most, cancelled := peer.asked, peer.maxInFlight, peer.cancelled
			peer.mu.Unlock()
			if tc.wantErr == "" && (err != nil || asked != n || most != remoteAsks) {
				t.Fatalf("delete of a group of %d gateways: %v; the peer asked %d times, at most %d at once; want it deleted, %d asked, %d at once",
					n, err, asked, most, n, remoteAsks)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || cancelled != tc.cancelled) {
				t.Fatalf("delete of a group of %d gateways: %v, %d asks ended by it; want refused saying %q, %d ended",
					n, err, cancelled, tc.wantErr, tc.cancelled)
			}
		})
	}
}

// vpnGroup puts, in a new resource group "rg" of subscription sub in
// westeurope, n VPN gateways, each in a VNet of its own, and returns the
// group's ID.
func vpnGroup(t *testing.T, reg *Region, sub string, n int) arm.ID {
	t.Helper()
	group := arm.ResourceGroupID(sub, "rg")
	mustPut(t)(reg.PutGroup(context.Background(), group, &arm.ResourceGroup{Location: "westeurope"}))
	for i := range n {
		vpnGateway(t, reg, sub, i)
	}
	return group
}

// vpnGateway puts, in resource group "rg" of subscription sub, VPN
// gateway gw<i> in VNet v<i> (10.<i>.0.0/16) with public address pip<i>.
func vpnGateway(t *testing.T, reg *Region, sub string, i int) {
	t.Helper()
	ctx, must := context.Background(), mustPut(t)
	const rg, loc = "rg", "westeurope"
	vnet := arm.NetworkID(sub, rg, "virtualNetworks", fmt.Sprintf("v%d", i))
	v := &arm.VirtualNetwork{Resource: arm.Resource{Location: loc}}
	v.Properties.AddressSpace = &arm.AddressSpace{AddressPrefixes: []string{fmt.Sprintf("10.%d.0.0/16", i)}}
	v.Properties.Subnets = []arm.Subnet{{Name: "GatewaySubnet", Properties: arm.SubnetProperties{AddressPrefix: fmt.Sprintf("10.%d.255.0/27", i)}}}
	must(reg.PutVirtualNetwork(ctx, vnet, v))
	pip := arm.NetworkID(sub, rg, "publicIPAddresses", fmt.Sprintf("pip%d", i))
	must(reg.PutPublicIP(ctx, pip, &arm.PublicIPAddress{Resource: arm.Resource{Location: loc}}))
	g := &arm.VirtualNetworkGateway{Resource: arm.Resource{Location: loc}}
	g.Properties.GatewayType, g.Properties.VPNType = arm.GatewayTypeVpn, arm.RouteBased
	g.Properties.SKU = &arm.VirtualNetworkGatewaySKU{Name: "VpnGw1"}
	g.Properties.IPConfigurations = []arm.VirtualNetworkGatewayIPConfiguration{{Name: "ip", Properties: arm.VirtualNetworkGatewayIPConfigurationProperties{
		Subnet: arm.Ref(vnet.Child("subnets", "GatewaySubnet").String()), PublicIPAddress: arm.Ref(pip.String())}}}
	must(reg.PutGateway(ctx, arm.NetworkID(sub, rg, "virtualNetworkGateways", fmt.Sprintf("gw%d", i)), g))
}

// hookPeer is a peer region with no gateways and no connections, that
// calls hook (once) when first asked for connections.
type hookPeer struct {
	once sync.Once
	hook func()
}

func (*hookPeer) Gateway(context.Context, string) (*RemoteGateway, error) { return nil, ErrNoRemote }

func (p *hookPeer) ConnectionsTo(context.Context, string) ([]ConnectionTo, error) {
	p.once.Do(p.hook)
	return nil, nil
}

// TestDeleteGivenUpUnmarks: a delete of a resource group whose gateways
// changed while the peers were asked marks them again; when that is
// refused (a gateway that came in meanwhile is used by a connection of
// another group), the gateway it had marked Deleting is put back as
// Succeeded. It stayed Deleting, refused as the far end of new
// connections of other regions, until deleted or written again.
func TestDeleteGivenUpUnmarks(t *testing.T) {
	t.Parallel()
	const sub, loc = "dddddddd-0000-0000-0000-00000000fed4", "westeurope"
	ctx, must := context.Background(), mustPut(t)
	peer := &hookPeer{}
	reg, _ := openRegion(t, Config{Remotes: peer})
	group := vpnGroup(t, reg, sub, 1)
	peer.hook = func() {
		vpnGateway(t, reg, sub, 1)
		must(reg.PutGroup(ctx, arm.ResourceGroupID(sub, "other"), &arm.ResourceGroup{Location: loc}))
		site := arm.NetworkID(sub, "other", "localNetworkGateways", "site")
		l := &arm.LocalNetworkGateway{Resource: arm.Resource{Location: loc}}
		l.Properties.GatewayIPAddress = "127.0.0.50"
		l.Properties.LocalNetworkAddressSpace = &arm.AddressSpace{AddressPrefixes: []string{"192.168.0.0/16"}}
		must(reg.PutLocalGateway(ctx, site, l))
		c := &arm.Connection{Resource: arm.Resource{Location: loc}}
		c.Properties.ConnectionType, c.Properties.SharedKey = arm.ConnectionIPsec, "abc123"
		c.Properties.VirtualNetworkGateway1 = arm.Ref(arm.NetworkID(sub, "rg", "virtualNetworkGateways", "gw1").String())
		c.Properties.LocalNetworkGateway2 = arm.Ref(site.String())
		must(reg.PutConnection(ctx, arm.NetworkID(sub, "other", "connections", "c"), c))
	}
	if _, err := reg.Delete(ctx, group); err == nil || !strings.Contains(err.Error(), "used by connection") {
		t.Fatalf("delete of the group whose new gateway is in use: %v; want refused, saying so", err)
	}
	for i := range 2 {
		id := arm.NetworkID(sub, "rg", "virtualNetworkGateways", fmt.Sprintf("gw%d", i))
		v, err := reg.Get(id)
		if err != nil {
			t.Fatalf("gateway %s after the refused delete: %v", id.Name(), err)
		}
		if s := v.(*arm.VirtualNetworkGateway).Properties.ProvisioningState; s != arm.Succeeded {
			t.Errorf("gateway %s after the refused delete is %s, want Succeeded", id.Name(), s)
		}
	}
}

// TestRefusedWriteKeepsFittingRemote: a peer region's answer for a remote
// gateway that its connections here cannot take (its VNet's address
// space now overlaps that of the gateway connected to it, R35) is not
// taken when a write names the gateway either: the write is refused,
// saying why, and the connection made before goes on with the address
// space it was made with, as the refresh keeps it.
func TestRefusedWriteKeepsFittingRemote(t *testing.T) {
	t.Parallel()
	peer := &downPeer{}
	reg, remotes := remoteRegion(t, peer, 1, nil)
	ctx := context.Background()
	var c *arm.Connection
	reg.view(func(tx *txn) error {
		c = list[arm.Connection](tx, arm.TypeConnection)[0]
		return nil
	})
	peer.set(func(p *downPeer) { p.prefixes = []string{"10.1.0.0/16"} }) // the gateway's own VNet
	again := *c
	again.Properties.SharedKey = "def456"
	id, err := arm.ParseID(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = reg.PutConnection(ctx, id, &again)
	var ae *arm.Error
	if !errors.As(err, &ae) || ae.Code != arm.CodeAddressSpaceOverlap {
		t.Fatalf("a write naming the remote gateway whose VNet now overlaps: %v, want %s", err, arm.CodeAddressSpaceOverlap)
	}
	rg := reg.remoteView()[strings.ToLower(remotes[0])]
	if rg == nil {
		t.Fatal("after the refused write the remote gateway is not known")
	}
	if !slices.Equal(rg.VNetPrefixes, []string{"10.2.0.0/16"}) {
		t.Fatalf("after the refused write the remote gateway's VNet is known as %v, want 10.2.0.0/16", rg.VNetPrefixes)
	}
}

// TestMisfitSaysWhyNotKnown: a remote gateway that is not known (deleted
// in its region, or not asked yet since a start while its region did not
// answer) and that its region then has again, in a form its connections
// here cannot take (its VNet over ours), is not taken; the connection's
// status reason says so. It went on saying why it was not known before:
// that no peer region had the gateway (or that the peers could not be
// asked), while the peer answered for it at every refresh.
func TestMisfitSaysWhyNotKnown(t *testing.T) {
	t.Parallel()
	peer := &downPeer{}
	reg, remotes := remoteRegion(t, peer, 1, nil)
	reason := func(want string) {
		t.Helper()
		deadline := time.Now().Add(3*RemoteRefresh + time.Minute)
		for {
			why := reg.Snapshot().RemoteReason(remotes[0])
			if strings.Contains(why, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the connection's status reason is %q, want one that says %q", why, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	peer.set(func(p *downPeer) { p.gone = true })
	reason("no peer region has the remote gateway")
	peer.set(func(p *downPeer) { p.gone, p.prefixes = false, []string{"10.1.0.0/24"} })
	reason("does not fit the connections made to it here")
	if rg := reg.remoteView()[strings.ToLower(remotes[0])]; rg != nil {
		t.Fatalf("the answer that overlaps our VNet was taken: %+v", rg)
	}
}

// TestWriteFindsRemoteGone: a write that names a remote gateway its
// region no longer has (deleted there) is refused, and what was known of
// the gateway is dropped at once: the reconcile loop is woken, so that the
// tunnels of the connections made to it go now, and their status says
// that no peer region has it. The loop was not woken, the tunnels stayed
// up until its next pass, and the status said for up to a refresh that
// the remote end had no IP address yet.
func TestWriteFindsRemoteGone(t *testing.T) {
	t.Parallel()
	peer := &downPeer{}
	reg, remotes := remoteRegion(t, peer, 1, nil)
	var c *arm.Connection
	reg.view(func(tx *txn) error {
		c = list[arm.Connection](tx, arm.TypeConnection)[0]
		return nil
	})
	id, err := arm.ParseID(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	peer.set(func(p *downPeer) { p.gone = true })
	changed := reg.Changed()
	again := *c
	again.Properties.SharedKey = "def456"
	if _, _, err := reg.PutConnection(context.Background(), id, &again); err == nil {
		t.Fatal("a write naming a remote gateway its region no longer has was taken")
	}
	if rg := reg.remoteView()[strings.ToLower(remotes[0])]; rg != nil {
		t.Fatalf("after the write the gone remote gateway is still known: %+v", rg)
	}
	select {
	case <-changed:
	default:
		t.Error("the write dropped what was known of the remote gateway, and the reconcile loop was not woken")
	}
	if why := reg.Snapshot().RemoteReason(remotes[0]); !strings.Contains(why, "no peer region has the remote gateway") {
		t.Errorf("after the write the connection's status reason is %q, want that no peer region has the gateway", why)
	}
}

// TestStartLooksRemotesUpAtOnce: a region that starts (serve restarted)
// with VNet-to-VNet connections to gateways of another region looks
// those gateways up at once, so that their tunnels come back with the
// others. The first lookup waited for the first refresh, RemoteRefresh
// after the start: every restart kept those tunnels down 5 s longer
// (and the peer's retransmissions to the gateway, unanswered meanwhile,
// longer still), their status saying that the remote gateway had no
// public address yet.
func TestStartLooksRemotesUpAtOnce(t *testing.T) {
	t.Parallel()
	peer := &downPeer{}
	reg, remotes := remoteRegion(t, peer, 1, nil)
	reg.Close()
	pool, _ := ParsePool("127.10.0.0/24")
	start := time.Now()
	again, err := Open(context.Background(), Config{Store: reg.store, PublicIPPool: pool, Remotes: peer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { again.Close() })
	for {
		s := again.Snapshot()
		if r, ok := s.RemoteOf(s.Connections()[0]); ok {
			if r.Addr != netip.MustParseAddr("127.119.0.9") {
				t.Fatalf("remote gateway %s at %s, want 127.119.0.9", remotes[0], r.Addr)
			}
			return
		}
		if d := time.Since(start); d > RemoteRefresh/2 {
			t.Fatalf("%v after the start, remote gateway %s is not known: its connection has no tunnel", d, remotes[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestUnusedRemoteForgotten: what is known of a remote gateway goes once
// no connection names it (here after its connection is deleted), within
// a few refreshes, not kept for as long as the region runs; a gateway a
// connection still names stays known.
func TestUnusedRemoteForgotten(t *testing.T) {
	t.Parallel()
	reg, remotes := remoteRegion(t, &downPeer{}, 2, nil)
	known := func(id string) bool { return reg.remoteView()[strings.ToLower(id)] != nil }
	if !known(remotes[0]) || !known(remotes[1]) {
		t.Fatalf("the remote gateways the connections name are not known: %v", slices.Collect(maps.Keys(reg.remoteView())))
	}
	if _, err := reg.Delete(context.Background(), arm.NetworkID("dddddddd-0000-0000-0000-00000000fed2", "rg", "connections", "c1")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(4*RemoteRefresh + time.Minute); known(remotes[1]); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s is still known after its one connection was deleted", remotes[1])
		}
	}
	if !known(remotes[0]) {
		t.Errorf("%s, which a connection still names, was forgotten", remotes[0])
	}
}
