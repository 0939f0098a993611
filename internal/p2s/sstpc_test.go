package p2s

import (
	"crypto/x509"
	"encoding/pem"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/fabric"
	"github.com/vnetgw/vnetgw/internal/netnstest"
	"github.com/vnetgw/vnetgw/internal/pkitest"
	"github.com/vnetgw/vnetgw/internal/radius"
	"github.com/vnetgw/vnetgw/internal/vpnclient"
)

// guestDir is where scripts/sstp-guest.sh builds the client VM.
func guestDir() string {
	if d := os.Getenv("VNETGW_SSTP_GUEST"); d != "" {
		return d
	}
	return "/var/cache/vnetgw/sstp-guest"
}

// guestScript runs in the VM: the VPN client packages' scripts for sstpc
// and pppd, first with the client certificate (EAP-TLS), then with alice's
// user name and password (MS-CHAPv2, the gateway asks RADIUS), each tried
// again while sstpc 1.0.18 fails its HTTPS start (it does so often,
// against any server), then a ping into the VNet through the route the
// script set.
const guestScript = `
for mode in cert password; do
  ok=
  for a in $(seq 15); do
    echo "== $mode: attempt $a"
    ifc=v$mode$a
    start=$(date +%s)
    if [ $mode = cert ]; then
      set -- /mnt/host/pkg-cert/linux/sstpc.sh /mnt/host/alice.pem /mnt/host/alice.key $ifc
    else
      set -- /mnt/host/pkg-radius/linux/sstpc.sh alice $ifc
    fi
    if VNETGW_PASSWORD='correct horse battery staple' timeout 75 "$@" > /tmp/out 2>&1; then
      cat /tmp/out
      ip -br addr show $ifc; ip route show dev $ifc
      ping -c 3 -W 3 10.1.0.4 && echo "PING-OK $mode"
      # The package's way to disconnect.
      kill "$(cat /run/$ifc.pid)" && sleep 3
      ip link show $ifc 2>/dev/null || echo "DISCONNECTED $mode"
      ok=1
      break
    fi
    echo "failed after $(( $(date +%s) - start )) s:"; tail -8 /tmp/out
    kill "$(cat /run/$ifc.pid 2>/dev/null)" 2>/dev/null
  done
  [ -n "$ok" ] || exit 1
done
exit 0
`

// TestSSTPCInterop: Linux's SSTP client, sstpc with pppd (Debian's), in a
// VM, connects to the server with its certificate in EAP-TLS (R10, R12),
// completes the crypto binding, gets an address of the pool and pings a
// host in the VNet. The server checks the binding in the form pppd's
// 128-bit MPPE keys give sstpc as well as in the specification's. Then it
// connects with a user name and password: pppd, which refuses EAP, names
// MS-CHAPv2, which the gateway relays to FreeRADIUS, and the binding
// keyed with the MPPE keys FreeRADIUS gave the gateway checks out.
func TestSSTPCInterop(t *testing.T) {
	netnstest.Require(t, "qemu-system-x86_64")
	netnstest.RequireFreeRADIUS(t)
	dir := guestDir()
	if _, err := os.Stat(filepath.Join(dir, "initrd.img")); err != nil {
		netnstest.Require(t, filepath.Join(dir, "initrd.img")) // skips or fails with the build hint
	}
	ns := netnstest.New(t, "sstp")
	ns.Run("ip", "tuntap", "add", "dev", "vtap0", "mode", "tap")
	ns.Run("ip", "addr", "add", "192.0.2.1/24", "dev", "vtap0")
	ns.Run("ip", "link", "set", "vtap0", "up")

	p := newPKI(t)
	share := t.TempDir()
	alice := pkitest.Issue(t, "alice", false, p.root)
	alice.WritePEM(t, share, "alice")
	if err := os.WriteFile(filepath.Join(share, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.root.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(share, "run.sh"), []byte(guestScript), 0o755); err != nil {
		t.Fatal(err)
	}
	// The VPN client packages of the gateway, as generatevpnclientpackage
	// makes them for certificates and for RADIUS alone: the guest
	// connects with their scripts.
	for dir, auth := range map[string]string{"pkg-cert": "Certificate", "pkg-radius": "Radius"} {
		zipped, err := vpnclient.Settings{Gateway: "gateway", Addr: netip.MustParseAddr("192.0.2.1"), Port: 443, Pool: netip.MustParsePrefix("172.16.201.0/24"),
			Protocols: []string{"SSTP"}, Authentication: []string{auth}, Routes: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")},
			CA: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.root.Raw})}.Zip()
		if err != nil {
			t.Fatal(err)
		}
		if err := vpnclient.Extract(zipped, filepath.Join(share, dir)); err != nil {
			t.Fatal(err)
		}
	}
	// FreeRADIUS, reached from the gateway's namespace.
	radNS := netnstest.New(t, "rad")
	netnstest.Link(t, radNS, "198.18.0.1/24", ns, "198.18.0.2/24")
	netnstest.StartFreeRADIUS(t, radNS, "gw-shared-s3cret", map[string]string{"alice": "correct horse battery staple"})

	router := fabric.NewRouter()
	web, err := fabric.NewNetstackHost("web", netip.MustParseAddr("10.1.0.4"), 0, router)
	if err != nil {
		t.Fatal(err)
	}
	defer web.Close()
	// The gateway's certificate names 192.0.2.1, where the VM reaches it,
	// in its common name too, as vnetgw's gateways' certificates do: pppd
	// checks it against the package's remotename.
	gwCert := pkitest.Issue(t, "192.0.2.1", false, p.root, netip.MustParseAddr("192.0.2.1")).TLS()
	var srv *Server
	if err := ns.Do(func() (err error) {
		srv, err = Start(Config{Listen: netip.MustParseAddrPort("192.0.2.1:443"), Cert: gwCert, Roots: []*x509.Certificate{p.root.Certificate},
			Pool: netip.MustParsePrefix("172.16.201.0/24"), Router: router, Logger: testLogger(t), SSTP: true,
			Radius: []radius.Server{{Addr: netip.MustParseAddrPort("198.18.0.1:1812"), Secret: []byte("gw-shared-s3cret")}}, NASIdentifier: "gateway",
			RadiusDial: dialIn(ns)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	router.SetRoutes([]fabric.Route{{Prefix: netip.MustParsePrefix("10.1.0.4/32"), Port: web}, {Prefix: srv.cfg.Pool, Port: srv}})
	var mu sync.Mutex
	var seen []ClientStatus // every client the server listed, the last view of each
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			for _, c := range srv.Clients() {
				mu.Lock()
				if i := slices.IndexFunc(seen, func(o ClientStatus) bool { return o.Since.Equal(c.Since) }); i >= 0 {
					seen[i] = c
				} else {
					seen = append(seen, c)
				}
				mu.Unlock()
			}
		}
	}()

	accel := []string{"-accel", "tcg", "-cpu", "qemu64"}
	if _, err := os.Stat("/sys/module/kvm_pvm"); err != nil {
		if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err == nil {
			f.Close()
			accel = []string{"-enable-kvm", "-cpu", "host"}
		}
	}
	args := append(accel, "-M", "q35", "-m", "512", "-smp", "1", "-nographic", "-no-reboot",
		"-kernel", filepath.Join(dir, "vmlinuz"), "-initrd", filepath.Join(dir, "initrd.img"), "-append", "console=ttyS0 panic=-1 quiet",
		"-virtfs", "local,path="+share+",mount_tag=host,security_model=none,id=host",
		"-netdev", "tap,id=n0,ifname=vtap0,script=no,downscript=no", "-device", "virtio-net-pci,netdev=n0,romfile=")
	vm := ns.Start("qemu-system-x86_64", args...)
	if !vm.Wait(360 * time.Second) {
		vm.Kill()
		t.Fatalf("the VM did not finish in 360 s:\n%s", tail(vm.Output(), 30))
	}
	close(stop)
	out, _ := os.ReadFile(filepath.Join(share, "output"))
	status, _ := os.ReadFile(filepath.Join(share, "status"))
	t.Logf("guest:\n%s", tail(string(out), 60))
	for _, mode := range []string{"cert", "password"} {
		if !strings.Contains(string(out), "PING-OK "+mode) {
			t.Fatalf("sstpc with %s did not reach the VNet host (status %q)", mode, status)
		}
		if !strings.Contains(string(out), "DISCONNECTED "+mode) {
			t.Errorf("the package's way to disconnect left the PPP interface (%s)", mode)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 {
		t.Fatalf("the server listed %d clients: %+v", len(seen), seen)
	}
	for _, c := range seen {
		if c.Identity != "alice" || !strings.Contains(string(out), "local  IP address "+c.Addr.String()) || c.BytesIn == 0 {
			t.Errorf("the server's view of a client: %+v", c)
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
