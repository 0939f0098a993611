// Package tun is the inner side of vnetgw's userspace IPsec data path on a
// host: a Linux TUN device with virtio-net headers, so that the kernel
// hands over TCP and UDP segments in batches (GSO, split here into
// packets) and takes coalesced ones (GRO), as wireguard-go's tun package
// does, which it uses. A Device can be made inside another network
// namespace; its addresses, MTU and routes are set with rtnetlink, and
// Close removes the interface with everything on it.
//
// The package is Linux only.
package tun

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"

	"golang.org/x/sys/unix"
	wgtun "golang.zx2c4.com/wireguard/tun"

	"github.com/vnetgw/vnetgw/internal/netns"
)

const (
	// DefaultMTU is the MTU a Device gets when its Config says 0: the inner
	// packet that fits a 1500-byte outer link with IPv4, UDP encapsulation
	// and ESP with AES-CBC and HMAC-SHA2-512 (the largest overhead).
	DefaultMTU = 1400
	// WriteOffset is the least offset Write takes: the room for the
	// virtio-net header in front of each packet.
	WriteOffset = 10
	// MaxSegments is the most packets one Read returns: the segments of one
	// GSO batch.
	MaxSegments = 128
)

// Config describes a TUN device.
type Config struct {
	// Name is the interface name; empty lets the kernel choose (tunN).
	Name string
	// NetNS is the path of the network namespace to make the device in
	// (/run/netns/NAME, /proc/PID/ns/net); empty means the caller's.
	NetNS string
	// MTU is the interface MTU; 0 means DefaultMTU.
	MTU int
	// Addrs are the interface's addresses with their prefix lengths.
	Addrs []netip.Prefix
	// Routes are destinations routed into the device (main table).
	Routes []netip.Prefix
}

// Device is a TUN device. Read and Write move batches of IP packets; each
// may run on its own goroutine, and Close stops both.
type Device struct {
	dev   wgtun.Device
	name  string
	index int
	mtu   int

	// mu guards nl, the rtnetlink socket in the device's namespace, and
	// closed.
	mu     sync.Mutex
	nl     *netlink
	closed bool
}

// Create makes a TUN device as cfg says. With cfg.NetNS it is made inside
// that namespace (not moved there), and stays there.
func Create(cfg Config) (*Device, error) {
	if cfg.MTU == 0 {
		cfg.MTU = DefaultMTU
	}
	if cfg.MTU < 576 || cfg.MTU > 65535 {
		return nil, fmt.Errorf("tun: mtu %d out of range", cfg.MTU)
	}
	if len(cfg.Name) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("tun: name %q longer than %d bytes", cfg.Name, unix.IFNAMSIZ-1)
	}
	var d *Device
	err := netns.Do(cfg.NetNS, func() error {
		var err error
		d, err = create(cfg)
		return err
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// create runs on a thread in the device's namespace: the TUN device, the
// netlink socket and the interface index all belong to the thread's
// namespace.
func create(cfg Config) (*Device, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("tun: open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(cfg.Name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tun: %w", err)
	}
	// IFF_VNET_HDR turns on the offloads wireguard's tun sets up.
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tun: create %q: %w", cfg.Name, err)
	}
	// Non-blocking first, the one step of CreateUnmonitoredTUNFromFD that
	// can fail before it wraps fd in an os.File: after that the file owns
	// fd and closes it when collected, so closing it here as well could
	// close another file that took its number meanwhile.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tun: %w", err)
	}
	dev, name, err := wgtun.CreateUnmonitoredTUNFromFD(fd)
	if err != nil {
		return nil, fmt.Errorf("tun: %w", err)
	}
	d := &Device{dev: dev, name: name, mtu: cfg.MTU}
	if err := d.setup(cfg); err != nil {
		d.Close()
		return nil, fmt.Errorf("tun: set up %s: %w", name, err)
	}
	return d, nil
}

func (d *Device) setup(cfg Config) error {
	ifc, err := net.InterfaceByName(d.name)
	if err != nil {
		return err
	}
	d.index = ifc.Index
	if d.nl, err = openNetlink(); err != nil {
		return err
	}
	if err := d.nl.setLink(d.index, cfg.MTU); err != nil {
		return fmt.Errorf("set mtu %d and up: %w", cfg.MTU, err)
	}
	// A segment batch of more segments than one Read returns would come
	// with an error, the segments past MaxSegments lost: a TCP
	// connection of a small MSS (64 KiB of 88-byte segments is 745)
	// would lose a quarter of what it sends. The kernel makes no larger
	// batch for the device (segmenting what would be larger itself). A
	// kernel that does not take the setting for a device made already
	// leaves it as it was: the device works, at that loss.
	_ = d.nl.setGSOMaxSegs(d.index, MaxSegments)
	for _, p := range cfg.Addrs {
		if err := d.nl.addAddr(d.index, p); err != nil {
			return fmt.Errorf("add address %v: %w", p, err)
		}
	}
	for _, p := range cfg.Routes {
		if err := d.nl.addRoute(d.index, p); err != nil {
			return fmt.Errorf("add route %v: %w", p, err)
		}
	}
	return nil
}

// Name returns the interface name.
func (d *Device) Name() string { return d.name }

// MTU returns the interface MTU.
func (d *Device) MTU() int { return d.mtu }

// BatchSize returns how many packets Read returns at most and Write should
// get at once.
func (d *Device) BatchSize() int { return d.dev.BatchSize() }

// ErrDeleted is what Read returns once the device's interface was deleted
// (ip link del) while the device was open: it takes and gives no packet
// any more, and every Read fails at once.
var ErrDeleted = errors.New("the interface was deleted")

// Read reads a batch of IP packets: packet i goes to bufs[i][offset:], its
// length to sizes[i]. One GSO batch from the kernel comes out as up to
// MaxSegments packets, so bufs should be that long; each buffer needs room
// for offset and an MTU-sized packet. After Close it returns os.ErrClosed;
// once the interface was deleted, ErrDeleted.
func (d *Device) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	n, err := d.dev.Read(bufs, sizes, offset)
	// A Read waiting when the interface goes gets EBADFD from the
	// kernel, which wireguard's tun makes os.ErrClosed; Deleted tells
	// it from a Close here (false once closed).
	if err != nil && n == 0 && d.Deleted() {
		return 0, fmt.Errorf("tun: %s: %w", d.name, ErrDeleted)
	}
	return n, err
}

// Deleted reports whether the device's interface was deleted (ip link del)
// while the device was open; false once it is closed.
func (d *Device) Deleted() bool {
	rc, err := d.dev.File().SyscallConn()
	if err != nil {
		return false
	}
	deleted := false
	rc.Control(func(fd uintptr) {
		ifr, err := unix.NewIfreq("")
		if err != nil {
			return
		}
		// The file of a deleted interface is detached from it: the
		// kernel answers EBADFD (drivers/net/tun.c, __tun_chr_ioctl).
		deleted = errors.Is(unix.IoctlIfreq(int(fd), unix.TUNGETIFF, ifr), unix.EBADFD)
	})
	return deleted
}

// Write writes the IP packets at bufs[i][offset:]. offset must be at least
// WriteOffset. TCP and UDP packets of one flow are coalesced (GRO) into
// bufs[i] past its length, up to its capacity: give buffers with room to
// spare and expect Write to change the slices in bufs. It returns the
// number of bytes written.
func (d *Device) Write(bufs [][]byte, offset int) (int, error) {
	return d.dev.Write(bufs, offset)
}

// AddRoute routes p into the device.
func (d *Device) AddRoute(p netip.Prefix) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("tun: route %v: %w", p, os.ErrClosed)
	}
	if err := d.nl.addRoute(d.index, p); err != nil {
		return fmt.Errorf("tun: route %v on %s: %w", p, d.name, err)
	}
	return nil
}

// Close closes the device, which removes the interface with its
// addresses and routes. Blocked Reads return os.ErrClosed.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	var errs []error
	if d.nl != nil {
		errs = append(errs, d.nl.close())
	}
	errs = append(errs, d.dev.Close())
	return errors.Join(errs...)
}
