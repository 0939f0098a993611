package fabric

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/netnstest"
)

func TestInternetAddresses(t *testing.T) {
	for a, want := range map[string]bool{
		"198.51.100.7": true, "8.8.8.8": true, "2001:db8::1": true,
		"10.1.0.4": false, "172.20.0.1": false, "192.168.1.1": false, "100.64.0.1": false,
		"127.0.0.1": false, "169.254.169.254": false, "224.0.0.5": false, "255.255.255.255": false,
		"0.1.2.3": false, "0.0.0.0": false, "::1": false, "fe80::1": false, "fd00::1": false,
		"::ffff:127.0.0.1": false, "::ffff:8.8.8.8": false,
		"168.63.129.16": false, "64:ff9b::168.63.129.16": false,
	} {
		if got := Internet(netip.MustParseAddr(a)); got != want {
			t.Errorf("Internet(%s) = %v, want %v", a, got, want)
		}
	}
}

// TestInternetAddressesInIPv6: an IPv6 address that carries an IPv4 one
// to a translator or a relay of the node's network (NAT64's prefixes,
// 6to4) is the Internet's only when that IPv4 address is: with NAT64 on
// the node's network, 64:ff9b::a9fe:a9fe would be the metadata service
// and 64:ff9b::a00:5 a private host. The IPv4-compatible addresses
// (::a.b.c.d, deprecated) and NAT64's local-use prefix are nobody's on
// the Internet.
func TestInternetAddressesInIPv6(t *testing.T) {
	for a, want := range map[string]bool{
		"64:ff9b::8.8.8.8": true, "64:ff9b::169.254.169.254": false, "64:ff9b::10.0.0.5": false,
		"64:ff9b::127.0.0.1": false, "64:ff9b::192.168.1.1": false, "64:ff9b:1::8.8.8.8": false,
		"2002:808:808::1": true, "2002:a9fe:a9fe::1": false, "2002:7f00:1::1": false, "2002:a00:5::1": false,
		"::127.0.0.1": false, "::10.0.0.5": false, "::8.8.8.8": false,
	} {
		if got := Internet(netip.MustParseAddr(a)); got != want {
			t.Errorf("Internet(%s) = %v, want %v", a, got, want)
		}
	}
	// The gateways' public IP pool, by way of NAT64, is not either.
	eg, err := NewEgress(NewRouter(), EgressOptions{Blocked: netip.MustParsePrefix("198.51.100.0/24").Contains})
	if err != nil {
		t.Fatal(err)
	}
	defer eg.Close()
	eg.SetSources([]netip.Prefix{netip.MustParsePrefix("fd00:1::/64")})
	from := netip.MustParseAddr("fd00:1::4")
	for a, want := range map[string]bool{"64:ff9b::198.51.100.7": false, "2002:c633:6407::1": false, "64:ff9b::8.8.8.8": true} {
		if got := eg.admits(from, netip.MustParseAddr(a)); got != want {
			t.Errorf("to %s through the egress: %v, want %v", a, got, want)
		}
	}
}

// internet is a namespace with Internet addresses the egress test reaches
// from a "node" namespace, as a gateway node reaches the Internet.
type internet struct {
	node, far     *netnstest.NS
	nodeIf, farIf string // their link's ends
	nodeAddr      netip.Addr
	farAddr       netip.Addr
}

func newInternet(t testing.TB) *internet {
	netnstest.Require(t, "ip")
	in := &internet{node: netnstest.New(t, "eg"), far: netnstest.New(t, "in"),
		nodeAddr: netip.MustParseAddr("198.51.100.1"), farAddr: netip.MustParseAddr("198.51.100.2")}
	in.nodeIf, in.farIf = netnstest.Link(t, in.node, in.nodeAddr.String()+"/24", in.far, in.farAddr.String()+"/24")
	return in
}

// listen listens for TCP connections to the far end's address on port.
func (in *internet) listen(t testing.TB, port uint16) net.Listener {
	t.Helper()
	l, _ := listenIn(t, in.far, in.farAddr, port, 0)
	return l
}

// listenIn listens in ns on a for TCP connections to tcpPort and, unless
// udpPort is 0, for UDP datagrams to udpPort; both close when t ends.
func listenIn(t testing.TB, ns *netnstest.NS, a netip.Addr, tcpPort, udpPort uint16) (net.Listener, net.PacketConn) {
	t.Helper()
	var tl net.Listener
	var ul net.PacketConn
	if err := ns.Do(func() (err error) {
		if tl, err = net.Listen("tcp", netip.AddrPortFrom(a, tcpPort).String()); err != nil || udpPort == 0 {
			return err
		}
		if ul, err = net.ListenPacket("udp", netip.AddrPortFrom(a, udpPort).String()); err != nil {
			tl.Close()
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.Close() })
	if ul != nil {
		t.Cleanup(func() { ul.Close() })
	}
	return tl, ul
}

// vnet makes a VNet router with a built-in host, 10.1.0.4, and a way to
// the Internet that dials from the node namespace (opts.Dial unset).
func (in *internet) vnet(t testing.TB, opts EgressOptions) (*Router, *Egress, *NetstackHost) {
	t.Helper()
	if opts.Dial == nil {
		opts.Dial = in.dial
	}
	r := NewRouter()
	eg, err := NewEgress(r, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(eg.Close)
	eg.SetSources([]netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")})
	host := newHost(t, "web", "10.1.0.4", r)
	r.SetRoutes([]Route{{netip.MustParsePrefix("10.1.0.4/32"), host}, {netip.MustParsePrefix("0.0.0.0/0"), eg}})
	return r, eg, host
}

// dial opens a connection from the node namespace.
func (in *internet) dial(ctx context.Context, network, addr string) (c net.Conn, err error) {
	err = in.node.Do(func() error {
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// TestEgressToTheInternet covers R43's last words: a VNet host reaches an
// Internet address over TCP and UDP, and the far end sees the node's
// address; the private ranges, loopback and a source that is not the
// VNet's go nowhere and are counted; a port nobody listens on is refused
// at once, as the Internet refused it.
func TestEgressToTheInternet(t *testing.T) {
	in := newInternet(t)
	tl, ul := listenIn(t, in.far, in.farAddr, 8080, 5353)
	peers := make(chan string, 1)
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			peers <- c.RemoteAddr().String()
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := ul.ReadFrom(buf)
			if err != nil {
				return
			}
			ul.WriteTo(append([]byte("echo: "), buf[:n]...), from)
		}
	}()

	r := NewRouter()
	eg, err := NewEgress(r, EgressOptions{Dial: in.dial, Blocked: netip.MustParsePrefix("198.51.100.128/25").Contains})
	if err != nil {
		t.Fatal(err)
	}
	defer eg.Close()
	eg.SetSources([]netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")})
	host := newHost(t, "web", "10.1.0.4", r)
	stranger := newHost(t, "client", "172.16.0.9", r) // as a point-to-site client
	r.SetRoutes([]Route{
		{netip.MustParsePrefix("10.1.0.4/32"), host},
		{netip.MustParsePrefix("172.16.0.9/32"), stranger},
		{netip.MustParsePrefix("0.0.0.0/0"), eg},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	c, err := host.Dial(ctx, netip.AddrPortFrom(in.farAddr, 8080))
	if err != nil {
		t.Fatalf("TCP from a VNet host to the Internet: %v", err)
	}
	defer c.Close()
	msg := strings.Repeat("out to the Internet ", 5000)
	go c.Write([]byte(msg))
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("TCP echo through the egress: %v", err)
	}
	if p := <-peers; !strings.HasPrefix(p, in.nodeAddr.String()+":") {
		t.Errorf("the Internet saw the connection from %s, want the node's address %s", p, in.nodeAddr)
	}

	u, err := host.DialUDPFrom(host.Addr(), netip.AddrPortFrom(in.farAddr, 5353))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 100)
	var n int
	for n == 0 {
		u.Write([]byte("query"))
		if n, err = u.Read(buf); err != nil && !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) {
			t.Fatal(err)
		}
	}
	if string(buf[:n]) != "echo: query" {
		t.Fatalf("UDP through the egress: %q", buf[:n])
	}

	// Refused at once: nobody listens on the port.
	_, err = host.Dial(ctx, netip.AddrPortFrom(in.farAddr, 8081))
	if err == nil || !errors.Is(err, syscall.ECONNREFUSED) && !strings.Contains(err.Error(), "refused") {
		t.Fatalf("TCP to a closed port on the Internet: %v, want connection refused", err)
	}
	before := eg.Stats()
	if before.Failed != 1 || before.Refused != 0 || before.Flows != 3 || before.Opened != 2 {
		t.Errorf("stats after two flows and a refused one: %+v", before)
	}

	// Nowhere: not the Internet's, the node's own, or not from the VNet.
	for _, try := range []struct {
		from *NetstackHost
		to   string
	}{{host, "127.0.0.1"}, {host, "192.168.1.1"}, {host, "198.51.100.200"}, {stranger, in.farAddr.String()}} {
		short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		if c, err := try.from.Dial(short, netip.AddrPortFrom(netip.MustParseAddr(try.to), 8080)); err == nil {
			c.Close()
			t.Errorf("%s reached %s through the egress", try.from.Addr(), try.to)
		}
		cancel()
	}
	// 127.0.0.1 stops at the router (RFC 1812 §5.3.7), before the egress.
	if s := eg.Stats(); s.Refused < 3 || s.Flows != before.Flows {
		t.Errorf("stats after three refused tries: %+v", s)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// FuzzEgress: what a host sends to the Internet never panics the egress,
// whatever its headers say. The fuzzer's flows go nowhere: no dial
// succeeds.
func FuzzEgress(f *testing.F) {
	f.Add(ipv4Packet("198.51.100.2", 64))
	f.Add([]byte{0x60, 0, 0, 0, 0, 8, 17, 64})
	frag := make([]byte, 40+8+8) // IPv6, a Fragment header (offset 8 octets), UDP's second part
	frag[0], frag[5], frag[6], frag[40], frag[43] = 0x60, 16, 44, 17, 8
	f.Add(frag)
	eg, err := NewEgress(NewRouter(), EgressOptions{Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no Internet while fuzzing")
	}})
	if err != nil {
		f.Fatal(err)
	}
	defer eg.Close()
	eg.SetSources([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		eg.Deliver(pkt)
	})
}

// TestEgressNotToTheNode: the node's own addresses are not the Internet's.
// A VNet host does not reach, from the node's address, what listens on
// the node's public address (the API with --listen on it, say), over TCP
// or UDP, and the listener sees no connection at all.
func TestEgressNotToTheNode(t *testing.T) {
	in := newInternet(t)
	tl, ul := listenIn(t, in.node, in.nodeAddr, 7443, 5353)
	accepted := make(chan string, 1)
	go func() {
		if c, err := tl.Accept(); err == nil {
			accepted <- c.RemoteAddr().String()
			c.Close()
		}
	}()
	received := make(chan string, 1)
	go func() {
		buf := make([]byte, 100)
		if n, from, err := ul.ReadFrom(buf); err == nil {
			received <- string(buf[:n]) + " from " + from.String()
		}
	}()

	_, eg, host := in.vnet(t, EgressOptions{})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if c, err := host.Dial(ctx, netip.AddrPortFrom(in.nodeAddr, 7443)); err == nil {
		c.Close()
		t.Error("a VNet host reached a TCP port of the node's own address through the egress")
	}
	u, err := host.DialUDPFrom(host.Addr(), netip.AddrPortFrom(in.nodeAddr, 5353))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.Write([]byte("to the node"))
	select {
	case a := <-accepted:
		t.Errorf("the node's listener accepted a connection from %s", a)
	case m := <-received:
		t.Errorf("the node's UDP socket received %q", m)
	case <-time.After(500 * time.Millisecond):
	}
	if s := eg.Stats(); s.Refused == 0 || s.Open != 0 {
		t.Errorf("stats after a TCP and a UDP flow to the node: %+v", s)
	}
}

// TestEgressNotToTheNodeByNAT64: the node's own addresses are not the
// Internet's as NAT64 or 6to4 addresses either (64:ff9b::a.b.c.d,
// 2002:aabb:ccdd::): a translator or relay on the node's network would
// take a VNet host's TCP connection or UDP flow there back to the node,
// what listens on its public address. Here the node routes both
// prefixes to the far namespace, as to a translator; the egress opens
// nothing towards them and counts them refused, while a NAT64 address
// of another's is still the Internet's.
func TestEgressNotToTheNodeByNAT64(t *testing.T) {
	in := newInternet(t)
	in.node.Run("ip", "-6", "addr", "add", "2001:db8:ff::1/64", "dev", in.nodeIf, "nodad")
	in.far.Run("ip", "-6", "addr", "add", "2001:db8:ff::2/64", "dev", in.farIf, "nodad")
	for _, p := range []string{"64:ff9b::/96", "2002::/16"} {
		in.node.Run("ip", "-6", "route", "add", p, "via", "2001:db8:ff::2")
	}
	dials := make(chan string, 10)
	eg, host := vnetOf(t, "2001:db8:1::4", EgressOptions{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if network == "tcp" {
			dials <- addr
		}
		return in.dial(ctx, network, addr)
	}})
	viaNAT64 := netip.MustParseAddr("64:ff9b::" + in.nodeAddr.String())
	via6to4 := netip.MustParseAddr("2002:c633:6401::1") // 198.51.100.1
	for _, a := range []netip.Addr{viaNAT64, via6to4} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if c, err := host.Dial(ctx, netip.AddrPortFrom(a, 7443)); err == nil {
			c.Close()
		}
		cancel()
	}
	u, err := host.DialUDPFrom(host.Addr(), netip.AddrPortFrom(viaNAT64, 5353))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.Write([]byte("to the node"))
	for deadline := time.Now().Add(10 * time.Second); eg.Stats().Refused < 3; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			break
		}
	}
	if s := eg.Stats(); s.Refused < 3 || s.Opened != 0 || s.Failed != 0 {
		t.Errorf("stats after TCP and UDP to the node's NAT64 and 6to4 addresses: %+v, want 3 refused", s)
	}
	select {
	case d := <-dials:
		t.Errorf("the node opened a TCP connection to %s, its own address", d)
	default:
	}
	// Another's NAT64 address is the Internet's: the node tries it.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	go host.Dial(ctx, netip.MustParseAddrPort("[64:ff9b::203.0.113.9]:443"))
	select {
	case <-dials:
	case <-time.After(10 * time.Second):
		t.Error("the node did not open a connection to another's NAT64 address")
	}
}

// TestEgressCloseWithHalfClosedFlow: Close ends a TCP flow one side of
// which ended its sending (a host that sent its request and shut its
// writing, a server that has not answered yet): it does not wait forever.
func TestEgressCloseWithHalfClosedFlow(t *testing.T) {
	in := newInternet(t)
	tl := in.listen(t, 8080)
	eof := make(chan net.Conn, 1)
	go func() {
		c, err := tl.Accept()
		if err != nil {
			return
		}
		io.Copy(io.Discard, c) // the request, up to the host's FIN
		eof <- c               // and no answer yet
	}()
	_, eg, host := in.vnet(t, EgressOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := host.Dial(ctx, netip.AddrPortFrom(in.farAddr, 8080))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	c.(interface{ CloseWrite() error }).CloseWrite()
	select {
	case fc := <-eof:
		defer fc.Close()
	case <-ctx.Done():
		t.Fatal("the far end never saw the host's FIN")
	}
	time.Sleep(100 * time.Millisecond) // the egress's copy to the far end returns
	closed := make(chan struct{})
	go func() {
		eg.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return with a half-closed flow open")
	}
}

// TestEgressResetIsNoEnd: a TCP flow that one end resets is reset at the
// other, not ended with a FIN, which says all was sent: a host that the
// Internet's server reset mid-answer sees an error, not a whole answer
// cut short; and a flow the host resets ends at once, also while the
// server keeps its side open and silent.
func TestEgressResetIsNoEnd(t *testing.T) {
	in := newInternet(t)
	tl := in.listen(t, 8080)
	conns := make(chan *net.TCPConn, 2)
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			conns <- c.(*net.TCPConn)
		}
	}()
	_, eg, host := in.vnet(t, EgressOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The server resets.
	c, err := host.Dial(ctx, netip.AddrPortFrom(in.farAddr, 8080))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fc := <-conns
	fc.Write([]byte("the first part of the answer"))
	fc.SetLinger(0)
	fc.Close() // RST
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if got, err := io.ReadAll(c); err == nil {
		t.Errorf("the host read %q and a clean end of a connection the server reset", got)
	} else if isTimeout(err) {
		t.Errorf("the host was told nothing of the reset: %v", err)
	}

	// The host resets (it closes with data unread); the server holds on.
	c, err = host.Dial(ctx, netip.AddrPortFrom(in.farAddr, 8080))
	if err != nil {
		t.Fatal(err)
	}
	fc = <-conns
	defer fc.Close()
	fc.Write([]byte("unread"))
	time.Sleep(100 * time.Millisecond) // it reaches the host
	c.Close()
	fc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(fc); err == nil || isTimeout(err) {
		t.Errorf("the server saw %v where the host reset the connection, want a reset", err)
	}
	waitNoFlow(t, eg, "a flow the host reset")
}

// waitNoFlow waits up to 5 s until eg has no flow open, which what names.
func waitNoFlow(t *testing.T, eg *Egress, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); eg.Stats().Open != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s still counts as open: %+v", what, eg.Stats())
		}
	}
}

// TestEgressForgetsVanishedHost: a host that goes without a word (here:
// the VNet no longer routes to it) while its TCP flow is quiet gives the
// flow back: keepalives find it gone, the far end's connection is closed
// and the flow no longer counts against MaxFlows.
func TestEgressForgetsVanishedHost(t *testing.T) {
	in := newInternet(t)
	tl := in.listen(t, 8080)
	ended := make(chan error, 1)
	go func() {
		c, err := tl.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, err = io.Copy(io.Discard, c) // nothing comes; then the end
		ended <- err
	}()
	r, eg, host := in.vnet(t, EgressOptions{TCPKeepAlive: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := host.Dial(ctx, netip.AddrPortFrom(in.farAddr, 8080))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if s := eg.Stats(); s.Open != 1 {
		t.Fatalf("stats with a flow open: %+v", s)
	}
	r.SetRoutes([]Route{{netip.MustParsePrefix("0.0.0.0/0"), eg}}) // the host is gone
	select {
	case err := <-ended:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the far end's connection stayed open 20 s after the host vanished")
		}
	case <-time.After(25 * time.Second):
		t.Fatal("the far end's connection stayed open")
	}
	waitNoFlow(t, eg, "the vanished host's flow")
}

// BenchmarkEgressTCP: one TCP stream from a built-in host to the Internet
// (a namespace of the test's) through the egress, beside the same stream
// opened by the node itself ("direct"): the egress's cost is the ratio.
func BenchmarkEgressTCP(b *testing.B) {
	in := newInternet(b)
	tl := in.listen(b, 8080)
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(io.Discard, c)
				c.Write([]byte{1}) // all read
			}()
		}
	}()
	_, _, h := in.vnet(b, EgressOptions{})
	far := netip.AddrPortFrom(in.farAddr, 8080)
	for _, way := range []struct {
		name string
		dial func(ctx context.Context) (net.Conn, error)
	}{
		{"egress", func(ctx context.Context) (net.Conn, error) { return h.Dial(ctx, far) }},
		{"direct", func(ctx context.Context) (net.Conn, error) { return in.dial(ctx, "tcp", far.String()) }},
	} {
		b.Run(way.name, func(b *testing.B) {
			chunk := make([]byte, 64<<10)
			b.SetBytes(int64(len(chunk)))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			c, err := way.dial(ctx)
			cancel()
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			for b.Loop() {
				if _, err := c.Write(chunk); err != nil {
					b.Fatal(err)
				}
			}
			c.(interface{ CloseWrite() error }).CloseWrite()
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
				b.Fatalf("the far end did not read it all: %v", err)
			}
		})
	}
}

// udpEcho listens for UDP on loopback and answers each datagram with
// itself after "echo: "; the dial it returns opens every flow to it,
// whatever the Internet address asked (the VNet's hosts reach loopback
// through the egress no other way).
func udpEcho(t testing.TB) func(ctx context.Context, network, addr string) (net.Conn, error) {
	t.Helper()
	l, err := net.ListenPacket("udp", "127.83.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		buf := make([]byte, 1<<16)
		for {
			n, from, err := l.ReadFrom(buf)
			if err != nil {
				return
			}
			l.WriteTo(append([]byte("echo: "), buf[:n]...), from)
		}
	}()
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, l.LocalAddr().String())
	}
}

// vnetOf makes a VNet router with a built-in host at addr, in the
// VNet's range of its /16 (IPv4) or /64 (IPv6), and a way to the
// Internet whose flows opts.Dial opens.
func vnetOf(t testing.TB, addr string, opts EgressOptions) (*Egress, *NetstackHost) {
	t.Helper()
	r := NewRouter()
	eg, err := NewEgress(r, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(eg.Close)
	a := netip.MustParseAddr(addr)
	bits, all := 16, netip.MustParsePrefix("0.0.0.0/0")
	if a.Is6() {
		bits, all = 64, netip.MustParsePrefix("::/0")
	}
	vnet, _ := a.Prefix(bits)
	eg.SetSources([]netip.Prefix{vnet})
	host := newHost(t, "web", addr, r)
	r.SetRoutes([]Route{{netip.PrefixFrom(a, a.BitLen()), host}, {all, eg}})
	return eg, host
}

// exchange sends msg on u until an answer comes (the first datagrams of
// a flow may be lost while it opens) and returns the answer.
func exchange(t testing.TB, u net.Conn, msg []byte) []byte {
	t.Helper()
	buf := make([]byte, 1<<16)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		u.Write(msg)
		u.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := u.Read(buf)
		if err == nil {
			return buf[:n]
		}
		if !isTimeout(err) {
			t.Fatal(err)
		}
	}
	t.Fatalf("no answer to %d bytes in 10 s", len(msg))
	return nil
}

// TestEgressIdleUDPFlowIsSmall: a UDP flow that carries nothing holds
// no buffer (R43's flows, MaxFlows of them per VNet). Each flow used to
// keep two of 64 KiB for its whole life: a VNet host that opened the
// 4,096 flows allowed pinned 512 MiB of the node's memory.
func TestEgressIdleUDPFlowIsSmall(t *testing.T) {
	eg, host := vnetOf(t, "10.1.0.4", EgressOptions{Dial: udpEcho(t)})
	far := netip.MustParseAddrPort("198.51.100.2:53")
	var ms runtime.MemStats
	inUse := func() int64 {
		for range 4 { // stacks shrink by half at most per cycle
			runtime.GC()
		}
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapInuse + ms.StackInuse)
	}
	const flows = 256
	before := inUse()
	for range flows {
		u, err := host.DialUDPFrom(host.Addr(), far)
		if err != nil {
			t.Fatal(err)
		}
		defer u.Close()
		if got := exchange(t, u, []byte("query")); string(got) != "echo: query" {
			t.Fatalf("UDP through the egress: %q", got)
		}
	}
	perFlow := (inUse() - before) / flows
	t.Logf("%d bytes per idle UDP flow, the host's own socket included", perFlow)
	if s := eg.Stats(); s.Open != flows {
		t.Fatalf("stats with %d flows open: %+v", flows, s)
	}
	if perFlow > 48<<10 {
		t.Errorf("an idle UDP flow takes %d bytes, want at most 48 KiB", perFlow)
	}
}

// TestEgressUDPDatagramsOfAnySize: a datagram longer than the VNet's MTU,
// which the host sends in fragments and the egress's stack reassembles,
// goes out whole, and so does an answer as long (the node's socket
// receives up to 64 KiB; the egress sends it to the host in fragments).
// IPv6's fragments carry their transport in a Fragment header (RFC 8200
// §4.5), not in the IPv6 header's Next Header, which the egress read
// alone: from an IPv6 host, only what fit in one packet went out.
func TestEgressUDPDatagramsOfAnySize(t *testing.T) {
	for _, c := range []struct{ host, far string }{{"10.1.0.4", "198.51.100.2:53"}, {"2001:db8:1::4", "[2001:db8:ffff::2]:53"}} {
		t.Run(c.host, func(t *testing.T) {
			datagramsOfAnySize(t, c.host, netip.MustParseAddrPort(c.far))
		})
	}
}

func datagramsOfAnySize(t *testing.T, addr string, far netip.AddrPort) {
	eg, host := vnetOf(t, addr, EgressOptions{Dial: udpEcho(t)})
	for _, size := range []int{0, 1, DefaultMTU, 8000, 65000} {
		u, err := host.DialUDPFrom(host.Addr(), far)
		if err != nil {
			t.Fatal(err)
		}
		msg := make([]byte, size)
		for i := range msg {
			msg[i] = byte(i)
		}
		if got := exchange(t, u, msg); string(got) != "echo: "+string(msg) {
			t.Errorf("%d bytes through the egress: %d came back", size, len(got))
		}
		u.Close()
	}
	if s := eg.Stats(); s.Refused != 0 {
		t.Errorf("stats: %+v, want nothing refused", s)
	}
}

// TestEgressUDPFlowIdleEitherWay: a UDP flow lasts while either way
// carries datagrams (a host that only sends, logs say; one that only
// receives, a stream) and ends once neither has for UDPIdleTimeout, when
// it no longer counts as open.
func TestEgressUDPFlowIdleEitherWay(t *testing.T) {
	const idle, busy, every = 2 * time.Second, 5 * time.Second, 50 * time.Millisecond
	sink, err := net.ListenPacket("udp", "127.83.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	var received atomic.Int64
	go func() { // counts what the host sends, answers nothing
		buf := make([]byte, 100)
		for {
			if _, _, err := sink.ReadFrom(buf); err != nil {
				return
			}
			received.Add(1)
		}
	}()
	talker, err := net.ListenPacket("udp", "127.83.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer talker.Close()
	go func() { // sends to whoever asked, for busy
		_, from, err := talker.ReadFrom(make([]byte, 100))
		if err != nil {
			return
		}
		for end := time.Now().Add(busy); time.Now().Before(end); time.Sleep(every) {
			talker.WriteTo([]byte("tick"), from)
		}
		talker.WriteTo([]byte("last"), from)
	}()
	eg, host := vnetOf(t, "10.1.0.4", EgressOptions{UDPIdleTimeout: idle, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		to := sink.LocalAddr().String()
		if strings.HasSuffix(addr, ":7") {
			to = talker.LocalAddr().String()
		}
		return (&net.Dialer{}).DialContext(ctx, network, to)
	}})
	toSink, err := host.DialUDPFrom(host.Addr(), netip.MustParseAddrPort("198.51.100.2:9"))
	if err != nil {
		t.Fatal(err)
	}
	defer toSink.Close()
	fromTalker, err := host.DialUDPFrom(host.Addr(), netip.MustParseAddrPort("198.51.100.2:7"))
	if err != nil {
		t.Fatal(err)
	}
	defer fromTalker.Close()
	fromTalker.Write([]byte("start"))
	sent := 0
	for end := time.Now().Add(busy); time.Now().Before(end); time.Sleep(every) {
		toSink.Write([]byte("log"))
		sent++
	}
	fromTalker.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 100)
	for string(buf[:4]) != "last" {
		if _, err := fromTalker.Read(buf); err != nil {
			t.Fatalf("the host stopped receiving its stream: %v", err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); received.Load() != int64(sent); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("the Internet received %d of the host's %d datagrams", received.Load(), sent)
			break
		}
	}
	if s := eg.Stats(); s.Flows != 2 {
		t.Errorf("stats after two flows busy one way for %v, idle %v: %+v, want 2 flows", busy, idle, s)
	}
	waitNoFlow(t, eg, "two idle UDP flows")
}
