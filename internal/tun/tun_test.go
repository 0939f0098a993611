package tun

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/netnstest"
)

// TestCreateInNamespace makes a device inside a namespace with an address,
// MTU and a route, answers a ping that the route sends into it, and checks
// that Close removes it.
func TestCreateInNamespace(t *testing.T) {
	netnstest.Require(t, "ip", "ping")
	ns := netnstest.New(t, "tun")
	d, err := Create(Config{
		Name:   "vgtest0",
		NetNS:  filepath.Join("/run/netns", ns.Name),
		MTU:    1380,
		Addrs:  []netip.Prefix{netip.MustParsePrefix("10.77.0.1/24")},
		Routes: []netip.Prefix{netip.MustParsePrefix("10.78.0.0/24")},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Name() != "vgtest0" || d.MTU() != 1380 || d.BatchSize() < 1 {
		t.Fatalf("name %q mtu %d batch %d", d.Name(), d.MTU(), d.BatchSize())
	}
	link := ns.Run("ip", "-d", "link", "show", "vgtest0")
	if !strings.Contains(link, "mtu 1380") || !strings.Contains(link, "UP") {
		t.Fatalf("link not up with mtu 1380:\n%s", link)
	}
	// No segment batch of the kernel's holds more segments than a Read
	// returns: those past them would be lost.
	if want := fmt.Sprintf("gso_max_segs %d ", MaxSegments); !strings.Contains(link, want) {
		t.Fatalf("link without %q:\n%s", want, link)
	}
	if out := ns.Run("ip", "route", "get", "10.78.0.5"); !strings.Contains(out, "dev vgtest0") {
		t.Fatalf("route into the device missing:\n%s", out)
	}
	// The device is not in the test's own namespace.
	if _, err := netnstest.New(t, "other").Try("ip", "link", "show", "vgtest0"); err == nil {
		t.Fatal("device visible outside its namespace")
	}

	ping := ns.Start("ping", "-c1", "-W5", "10.78.0.5")
	bufs := make([][]byte, MaxSegments)
	for i := range bufs {
		bufs[i] = make([]byte, 64+65535)
	}
	sizes := make([]int, len(bufs))
	var req []byte
	for req == nil {
		n, err := d.Read(bufs, sizes, 64)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			p := bufs[i][64 : 64+sizes[i]]
			// ICMP echo request to 10.78.0.5; the kernel may send others
			// (IPv6 router solicitations).
			if len(p) >= 28 && p[0]>>4 == 4 && p[9] == 1 && p[20] == 8 && netip.AddrFrom4([4]byte(p[16:20])) == netip.MustParseAddr("10.78.0.5") {
				req = p
			}
		}
	}
	reply := echoReply(req)
	buf := make([]byte, 64+len(reply), 64+65535)
	copy(buf[64:], reply)
	if _, err := d.Write([][]byte{buf}, 64); err != nil {
		t.Fatal(err)
	}
	if !ping.Wait(5 * time.Second) {
		t.Fatal("ping did not finish")
	}
	if !strings.Contains(ping.Output(), "1 received") {
		t.Fatalf("ping through the device:\n%s", ping.Output())
	}

	// A route that is there already is taken as added.
	for range 2 {
		if err := d.AddRoute(netip.MustParsePrefix("10.79.0.0/16")); err != nil {
			t.Fatal(err)
		}
	}
	if out := ns.Run("ip", "route", "get", "10.79.1.1"); !strings.Contains(out, "dev vgtest0") {
		t.Fatalf("added route missing:\n%s", out)
	}

	readErr := make(chan error, 1)
	go func() {
		_, err := d.Read(bufs, sizes, 64)
		readErr <- err
	}()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-readErr:
		if err == nil {
			t.Fatal("Read after Close returned no error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read still blocked after Close")
	}
	if _, err := ns.Try("ip", "link", "show", "vgtest0"); err == nil {
		t.Fatal("device still there after Close")
	}
	if err := d.AddRoute(netip.MustParsePrefix("10.80.0.0/16")); err == nil {
		t.Fatal("AddRoute after Close succeeded")
	}
}

func TestCreateErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{name: "mtu too small", cfg: Config{MTU: 100}},
		{name: "name too long", cfg: Config{Name: "a-very-long-interface-name"}},
		{name: "no such namespace", cfg: Config{NetNS: "/run/netns/vnetgw-does-not-exist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d, err := Create(tt.cfg); err == nil {
				d.Close()
				t.Fatal("Create succeeded")
			}
		})
	}
}

// echoReply turns an IPv4 ICMP echo request into its reply.
func echoReply(req []byte) []byte {
	p := append([]byte(nil), req...)
	copy(p[12:16], req[16:20])
	copy(p[16:20], req[12:16])
	p[20] = 0 // echo reply
	p[10], p[11] = 0, 0
	binary.BigEndian.PutUint16(p[10:], checksum(p[:20]))
	p[22], p[23] = 0, 0
	binary.BigEndian.PutUint16(p[22:], checksum(p[20:]))
	return p
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// TestRoutesBesideTheNamespaces: a device's routes go beside the routes
// of its namespace, ahead of them, not in their place: while the device
// is there, what its routes hold goes into it, and once it is gone the
// namespace routes as before. A route replaced the namespace's own of the
// same prefix, which was gone for good when the device went (two TUN
// hosts in one namespace: the one left had no default route).
func TestRoutesBesideTheNamespaces(t *testing.T) {
	netnstest.Require(t, "ip")
	ns := netnstest.New(t, "tunbeside")
	ns.Run("ip", "route", "add", "blackhole", "default")
	ns.Run("ip", "-6", "route", "add", "blackhole", "default")
	d, err := Create(Config{
		Name:   "vgtest1",
		NetNS:  filepath.Join("/run/netns", ns.Name),
		Addrs:  []netip.Prefix{netip.MustParsePrefix("10.77.0.1/32"), netip.MustParsePrefix("fd00:77::1/128")},
		Routes: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, dst := range []string{"192.0.2.1", "2001:db8::1"} {
		if out := ns.Run("ip", "route", "get", dst); !strings.Contains(out, "dev vgtest1") {
			t.Fatalf("route to %s not into the device:\n%s", dst, out)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for _, family := range []string{"-4", "-6"} {
		if out := ns.Run("ip", family, "route", "show", "default"); !strings.Contains(out, "blackhole") {
			t.Fatalf("the namespace's own default route (%s) gone with the device:\n%s", family, out)
		}
	}
}

// TestReadAfterDeleted: once the device's interface is deleted (ip link
// del in its namespace), Read says so with ErrDeleted, at once and
// again, and Close still works. Read failed with the poller's error and
// returned at once every time, so that the read loop of a TUN host spun
// on a core for as long as the host was there.
func TestReadAfterDeleted(t *testing.T) {
	netnstest.Require(t, "ip")
	ns := netnstest.New(t, "tundel")
	d, err := Create(Config{Name: "vgtest2", NetNS: filepath.Join("/run/netns", ns.Name)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Deleted() {
		t.Fatal("a device just made taken for deleted")
	}
	ns.Run("ip", "link", "del", "vgtest2")
	bufs := [][]byte{make([]byte, WriteOffset+65535)}
	sizes := make([]int, 1)
	for range 2 {
		if _, err := d.Read(bufs, sizes, WriteOffset); !errors.Is(err, ErrDeleted) {
			t.Fatalf("Read after the interface was deleted: %v, want ErrDeleted", err)
		}
	}
	if !d.Deleted() {
		t.Fatal("Deleted false after the interface was deleted")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if d.Deleted() {
		t.Fatal("a device closed taken for deleted")
	}
}

// TestBlockedReadWhenDeleted: a Read waiting for a packet when the
// device's interface is deleted (ip link del in its namespace) returns
// ErrDeleted, as one made after does. It returned os.ErrClosed, the
// error of a device closed here, from the kernel's EBADFD (wireguard's
// tun takes it for a close): the read loop of a `vnetgw dev gateway`
// said the device was closed under it, naming none, and that of a TUN
// host took it for the host's own Close.
func TestBlockedReadWhenDeleted(t *testing.T) {
	netnstest.Require(t, "ip")
	ns := netnstest.New(t, "tunblk")
	// No IPv6: the device sends nothing of its own (router
	// solicitations, MLD reports), and the Read waits.
	ns.Run("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
	d, err := Create(Config{Name: "vgtest3", NetNS: filepath.Join("/run/netns", ns.Name)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	read := make(chan error, 1)
	go func() {
		bufs := [][]byte{make([]byte, WriteOffset+65535)}
		for {
			if _, err := d.Read(bufs, make([]int, 1), WriteOffset); err != nil {
				read <- err
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond) // in the poller
	ns.Run("ip", "link", "del", "vgtest3")
	select {
	case err := <-read:
		if !errors.Is(err, ErrDeleted) {
			t.Fatalf("a Read waiting when the interface was deleted: %v, want ErrDeleted", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a Read waiting when the interface was deleted did not return in 5 s")
	}
}
