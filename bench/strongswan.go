package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/vnetgw/vnetgw/internal/strongswan"
)

// The IPsec settings of every system that runs IKEv2 and ESP, in
// strongSwan's proposal syntax: AES-256-GCM with a 16-byte ICV for IKE
// (RFC 5282) and ESP (RFC 4106), PRF HMAC-SHA-256, X25519.
const (
	ikeProposal = "aes256gcm16-prfsha256-x25519"
	espProposal = "aes256gcm16"
	benchPSK    = "vnetgw-bench-psk-0123456789abcdef"
)

// CharonPath is where Debian installs strongSwan's IKE daemon.
const CharonPath = strongswan.CharonPath

// strongSwan is strongSwan's charon on both gateways with userspace ESP
// (kernel-libipsec), gateway A initiating.
type strongSwan struct {
	charons []*charon
}

var _ System = (*strongSwan)(nil)

func (*strongSwan) Name() string { return swanSystem }

func (*strongSwan) Detail() string {
	return "strongSwan ↔ strongSwan: charon with userspace ESP (kernel-libipsec on a TUN device, ESP always in UDP 4500), " +
		"IKEv2 " + ikeProposal + ", ESP " + espProposal + " (AES-256-GCM, 16-byte ICV), PSK"
}

func (s *strongSwan) Setup(ctx context.Context, dir string, a, b Gateway) error {
	for _, side := range []struct {
		name     string
		gw, peer Gateway
	}{{"a", a, b}, {"b", b, a}} {
		c, err := startCharon(ctx, filepath.Join(dir, "charon-"+side.name), side.gw, side.peer)
		if c != nil {
			s.charons = append(s.charons, c)
		}
		if err != nil {
			return err
		}
	}
	return s.charons[0].initiate(ctx)
}

func (s *strongSwan) Pids() []int {
	var pids []int
	for _, c := range s.charons {
		pids = append(pids, c.proc.Pid())
	}
	return pids
}

func (s *strongSwan) Teardown() error {
	for _, c := range s.charons {
		c.proc.Stop()
	}
	return nil
}

// charon is one strongSwan IKE daemon in a gateway's namespace, with its
// own configuration, log and control (VICI) socket under dir.
type charon struct {
	dir  string
	proc *Process
}

// startCharon writes charon's configuration for gw, starts it and loads the
// connection to peer. The returned charon, also on error, must be stopped.
func startCharon(ctx context.Context, dir string, gw, peer Gateway) (*charon, error) {
	c, err := launchCharon(ctx, dir, gw.NS)
	if err != nil {
		return c, err
	}
	conf := filepath.Join(dir, "swanctl.conf")
	local, remote := gw.WAN.Addr().String(), peer.WAN.Addr().String()
	if err := strongswan.WriteSwanctl(conf, []strongswan.Conn{{Name: "bench", Local: local, Remote: remote,
		LocalTS: gw.LAN.Masked().String(), RemoteTS: peer.LAN.Masked().String(), IKE: ikeProposal, ESP: espProposal,
	}}, []strongswan.Secret{{IDs: []string{local, remote}, PSK: benchPSK}}); err != nil {
		return c, err
	}
	if _, err := c.swanctl(ctx, "--load-all", "--file", conf); err != nil {
		return c, err
	}
	return c, nil
}

// launchCharon writes strongswan.conf for a charon in ns, starts it with no
// connections and waits for its control socket. The returned charon, also
// on error, must be stopped.
//
// kernel-libipsec routes each child SA's remote selector into its TUN
// device, from an address of the local selector: the local selector must
// hold an address of the namespace, and the remote one must not hold the
// peer's IKE address.
func launchCharon(ctx context.Context, dir string, ns *Namespace) (*charon, error) {
	for _, tool := range []string{CharonPath, "swanctl"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%w: strongSwan: %v (scripts/install-deps.sh installs it)", ErrNotAvailable, err)
		}
	}
	d := strongswan.Daemon{Dir: dir}
	vici := d.VICI()
	if len(vici) > 100 {
		return nil, fmt.Errorf("charon's socket path %s is too long for a unix socket: use a shorter -work directory", vici)
	}
	if err := d.Write(); err != nil {
		return nil, fmt.Errorf("charon: %w", err)
	}
	p, err := ns.Start(filepath.Join(dir, "charon.out"), d.Command()...)
	if err != nil {
		return nil, err
	}
	c := &charon{dir: dir, proc: p}
	err = waitFor(ctx, 10*time.Second, func() bool {
		_, err := os.Stat(vici)
		return err == nil || p.Exited()
	})
	if p.Exited() {
		return c, p.exitError()
	}
	if err != nil {
		return c, fmt.Errorf("charon in %s made no socket: %w: %s", ns.Name, err, c.log())
	}
	return c, nil
}

// swanctl runs swanctl against this charon.
func (c *charon) swanctl(ctx context.Context, args ...string) (string, error) {
	return run(ctx, append(append([]string{"swanctl"}, args...), "--uri", strongswan.Daemon{Dir: c.dir}.URI())...)
}

// initiate brings up the IKE SA and the child SA from this side.
func (c *charon) initiate(ctx context.Context) error {
	if _, err := c.swanctl(ctx, "--initiate", "--child", "net", "--timeout", "20"); err != nil {
		return errors.Join(err, fmt.Errorf("charon log: %s", c.log()))
	}
	return nil
}

// log returns the end of charon's log.
func (c *charon) log() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "charon.log"))
	return tail(string(b), 30)
}
