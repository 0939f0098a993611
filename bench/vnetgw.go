package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vnetgw/vnetgw/internal/gateway"
)

// How a vnetgw gateway is started, for the two systems below: `vnetgw dev
// gateway --config FILE` with a gateway.File, one site-to-site tunnel on a
// TUN device. Until the binary answers `--help` with success, both systems
// report that they are not available.

// vnetgwArgs is the command line of one gateway.
func vnetgwArgs(binary, config string) []string {
	return []string{binary, "dev", "gateway", "--config", config}
}

// vnetgwAvailable checks that binary has the developer command.
func vnetgwAvailable(ctx context.Context, binary string) error {
	if out, err := run(ctx, binary, "dev", "gateway", "--help"); err != nil {
		why := firstLine(strings.TrimSpace(out))
		if why == "" {
			why = err.Error()
		}
		return fmt.Errorf("%w: `%s dev gateway --help` fails (%s); bench/vnetgw.go says how a vnetgw gateway is started",
			ErrNotAvailable, filepath.Base(binary), why)
	}
	return nil
}

// startVNetGW writes gw's configuration and starts a vnetgw gateway there;
// rawESP lets it carry ESP as IP protocol 50.
func startVNetGW(gw, peer Gateway, binary, dir string, initiate, rawESP bool) (*Process, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("vnetgw: %w", err)
	}
	mode := "ResponderOnly"
	if initiate {
		mode = "InitiatorOnly"
	}
	f := gateway.File{Local: gw.WAN.Addr().String(), RawESP: rawESP, Connections: []gateway.FileConnection{{
		Name: "bench", Remote: peer.WAN.Addr().String(), PSK: benchPSK, Mode: mode,
		IKE: []string{ikeProposal}, ESP: []string{espProposal}, Routes: []string{peer.LAN.Masked().String()},
	}}}
	cfg, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("vnetgw config: %w", err)
	}
	path := filepath.Join(dir, "gateway.json")
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		return nil, fmt.Errorf("vnetgw config: %w", err)
	}
	return gw.NS.Start(filepath.Join(dir, "gateway.log"), vnetgwArgs(binary, path)...)
}

// vnetgwPair is vnetgw on both gateways, gateway A initiating; with rawESP
// the ESP packets travel as IP protocol 50 rather than in UDP 4500.
type vnetgwPair struct {
	binary string
	rawESP bool
	procs  []*Process
}

var _ System = (*vnetgwPair)(nil)

func (v *vnetgwPair) Name() string {
	if v.rawESP {
		return goalSystem + "-raw"
	}
	return goalSystem
}

func (v *vnetgwPair) Detail() string {
	outer := "in UDP 4500 (RFC 3948; UDP GSO/GRO)"
	if v.rawESP {
		outer = "as IP protocol 50 (`rawESP`, raw sockets, no offloads)"
	}
	return "vnetgw ↔ vnetgw: IKEv2 " + ikeProposal + ", ESP " + espProposal + " (AES-256-GCM, 16-byte ICV) " + outer + ", PSK"
}

func (v *vnetgwPair) Setup(ctx context.Context, dir string, a, b Gateway) error {
	if err := vnetgwAvailable(ctx, v.binary); err != nil {
		return err
	}
	for _, side := range []struct {
		name     string
		gw, peer Gateway
	}{{"a", a, b}, {"b", b, a}} {
		p, err := startVNetGW(side.gw, side.peer, v.binary, filepath.Join(dir, "vnetgw-"+side.name), side.name == "a", v.rawESP)
		if err != nil {
			return err
		}
		v.procs = append(v.procs, p)
	}
	return nil
}

func (v *vnetgwPair) Pids() []int {
	var pids []int
	for _, p := range v.procs {
		pids = append(pids, p.Pid())
	}
	return pids
}

func (v *vnetgwPair) Teardown() error {
	for _, p := range v.procs {
		p.Stop()
	}
	return nil
}

// vnetgwStrongSwan is vnetgw on gateway A, initiating, and strongSwan with
// userspace ESP on gateway B.
type vnetgwStrongSwan struct {
	binary string
	proc   *Process
	charon *charon
}

var _ System = (*vnetgwStrongSwan)(nil)

func (*vnetgwStrongSwan) Name() string { return "vnetgw-strongswan" }

func (*vnetgwStrongSwan) Detail() string {
	return "vnetgw (gateway A, initiator) ↔ strongSwan charon with kernel-libipsec (gateway B): IKEv2 " + ikeProposal +
		", ESP " + espProposal + " in UDP 4500 (RFC 3948), PSK"
}

func (v *vnetgwStrongSwan) Setup(ctx context.Context, dir string, a, b Gateway) error {
	if err := vnetgwAvailable(ctx, v.binary); err != nil {
		return err
	}
	c, err := startCharon(ctx, filepath.Join(dir, "charon-b"), b, a)
	v.charon = c
	if err != nil {
		return err
	}
	v.proc, err = startVNetGW(a, b, v.binary, filepath.Join(dir, "vnetgw-a"), true, false)
	return err
}

func (v *vnetgwStrongSwan) Pids() []int {
	var pids []int
	if v.proc != nil {
		pids = append(pids, v.proc.Pid())
	}
	if v.charon != nil {
		pids = append(pids, v.charon.proc.Pid())
	}
	return pids
}

func (v *vnetgwStrongSwan) Teardown() error {
	if v.proc != nil {
		v.proc.Stop()
	}
	if v.charon != nil {
		v.charon.proc.Stop()
	}
	return nil
}
