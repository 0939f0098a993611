package bench

import (
	"context"
	"errors"
)

// System is a way of joining the two gateways' networks: a tunnel made by
// processes on the gateways, or plain routing. A System value serves one
// topology; make a new one per run.
type System interface {
	// Name is the system's short name: its key for -systems and its label
	// in tables and charts.
	Name() string
	// Detail says in one line what runs on each side and how (ciphers,
	// versions, options), for the report.
	Detail() string
	// Setup starts the system on gateways a and b; dir is a directory for
	// its configuration and logs. It returns an error wrapping
	// ErrNotAvailable when the system cannot run on this machine.
	Setup(ctx context.Context, dir string, a, b Gateway) error
	// Pids returns the processes whose CPU time the system spends; none for
	// systems that run in the kernel.
	Pids() []int
	// Teardown stops what Setup started. It is safe after a failed Setup.
	Teardown() error
}

// ErrNotAvailable says a system cannot be measured here: a binary is
// missing or not written yet.
var ErrNotAvailable = errors.New("not available")

// Binaries says where the systems' programs are.
type Binaries struct {
	// WireGuardGo is wireguard-go's binary, as `go install
	// golang.zx2c4.com/wireguard@version` builds it.
	WireGuardGo string
	// VNetGW is vnetgw's binary; see vnetgw.go for how a gateway is
	// started from it.
	VNetGW string
}

// Systems returns a fresh value of every system the suite knows, in the
// order of the report. wireguard-go is the baseline of every ratio.
func Systems(b Binaries) []System {
	return []System{
		&routed{},
		&wireGuard{binary: b.WireGuardGo},
		&strongSwan{},
		&vnetgwPair{binary: b.VNetGW},
		&vnetgwPair{binary: b.VNetGW, rawESP: true},
		&vnetgwStrongSwan{binary: b.VNetGW},
	}
}

// Baseline is the name of the system every other one is compared with.
const Baseline = "wireguard-go"

// The systems the throughput goals are about: vnetgw (ESP in UDP, as it
// runs by default) against the baseline and against strongSwan with
// userspace ESP.
const (
	goalSystem = "vnetgw"
	swanSystem = "strongswan"
)

// Ceiling is the name of the system that is no tunnel but the upper bound
// of what one could reach.
const Ceiling = "routed"
