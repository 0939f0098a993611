package bench

import (
	"bufio"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"debug/buildinfo"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

const (
	// wireGuardSocketDir holds wireguard-go's control sockets (UAPI). It is
	// the same for every namespace, so interface names must be unique.
	wireGuardSocketDir = "/var/run/wireguard"
	// wireGuardPrefix starts the suite's interface names (wireGuardIfName).
	wireGuardPrefix = "vbwg"
	wireGuardPort   = 51820
)

var wireGuardSeq atomic.Int32

// wireGuard is wireguard-go on both gateways, configured through its UAPI
// socket (no wireguard-tools needed), with its default TUN offloads.
type wireGuard struct {
	binary string
	procs  []*Process
	socks  []string
}

var _ System = (*wireGuard)(nil)

func (*wireGuard) Name() string { return "wireguard-go" }

func (w *wireGuard) Detail() string {
	return fmt.Sprintf("wireguard-go ↔ wireguard-go (%s): ChaCha20-Poly1305, UDP %d, TUN offloads (vnet_hdr, GSO/GRO) as wireguard-go sets them up on Linux",
		ModuleVersion(w.binary), wireGuardPort)
}

// ModuleVersion returns module@version of the main module a Go binary was
// built from, as `go version -m` shows it.
func ModuleVersion(binary string) string {
	info, err := buildinfo.ReadFile(binary)
	if err != nil {
		return "unknown version"
	}
	return info.Main.Path + "@" + info.Main.Version
}

func (w *wireGuard) Setup(ctx context.Context, dir string, a, b Gateway) error {
	if _, err := os.Stat(w.binary); err != nil {
		return fmt.Errorf("%w: wireguard-go: %v (bench/run.sh builds it)", ErrNotAvailable, err)
	}
	keys := make([]*ecdh.PrivateKey, 2)
	for i := range keys {
		k, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			return fmt.Errorf("wireguard key: %w", err)
		}
		keys[i] = k
	}
	n := wireGuardSeq.Add(1)
	sides := []struct {
		gw, peer Gateway
		key      *ecdh.PrivateKey
		peerKey  *ecdh.PublicKey
		ifc      string
	}{
		{a, b, keys[0], keys[1].PublicKey(), wireGuardIfName(os.Getpid(), int(n), "a")},
		{b, a, keys[1], keys[0].PublicKey(), wireGuardIfName(os.Getpid(), int(n), "b")},
	}
	for _, s := range sides {
		sock := filepath.Join(wireGuardSocketDir, s.ifc+".sock")
		w.socks = append(w.socks, sock)
		p, err := s.gw.NS.Start(filepath.Join(dir, s.ifc+".log"), "env", "LOG_LEVEL=error", w.binary, "-f", s.ifc)
		if err != nil {
			return err
		}
		w.procs = append(w.procs, p)
		err = waitFor(ctx, 10*time.Second, func() bool {
			_, err := os.Stat(sock)
			return err == nil || p.Exited()
		})
		if p.Exited() {
			return p.exitError()
		}
		if err != nil {
			return fmt.Errorf("wireguard-go made no socket %s: %w", sock, err)
		}
		cfg := fmt.Sprintf("private_key=%s\nlisten_port=%d\nreplace_peers=true\npublic_key=%s\nendpoint=%s\nreplace_allowed_ips=true\nallowed_ip=%s\n",
			hex.EncodeToString(s.key.Bytes()), wireGuardPort, hex.EncodeToString(s.peerKey.Bytes()),
			net.JoinHostPort(s.peer.WAN.Addr().String(), fmt.Sprint(wireGuardPort)), s.peer.LAN.Masked())
		if err := uapiSet(sock, cfg); err != nil {
			return fmt.Errorf("configure %s: %w", s.ifc, err)
		}
		if _, err := s.gw.NS.Run(ctx, "ip", "link", "set", s.ifc, "up"); err != nil {
			return err
		}
		if _, err := s.gw.NS.Run(ctx, "ip", "route", "add", s.peer.LAN.Masked().String(), "dev", s.ifc); err != nil {
			return err
		}
	}
	return nil
}

// wireGuardIfName names the interface of side of the nth wireguard-go
// system of process pid: vbwg<pid>-<n><side>, unique among the suite's
// processes (its control socket is shared by every namespace, and a run
// removes its sockets when it ends) and at most IFNAMSIZ-1 (15) long for
// any pid (at most 2²², 7 digits). n counts from 0 to 99 again.
func wireGuardIfName(pid, n int, side string) string {
	return fmt.Sprintf("%s%d-%d%s", wireGuardPrefix, pid, n%100, side)
}

// uapiSet sends a set operation to wireguard-go's control socket and checks
// the answer (the cross-platform userspace interface, wireguard.com/xplatform).
func uapiSet(sock, cfg string) error {
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("set=1\n" + cfg + "\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if line = strings.TrimSpace(line); line != "errno=0" {
		return fmt.Errorf("wireguard-go answered %q", line)
	}
	return nil
}

func (w *wireGuard) Pids() []int {
	var pids []int
	for _, p := range w.procs {
		pids = append(pids, p.Pid())
	}
	return pids
}

func (w *wireGuard) Teardown() error {
	for _, p := range w.procs {
		p.Stop()
	}
	var errs []error
	for _, s := range w.socks {
		if err := os.Remove(s); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
