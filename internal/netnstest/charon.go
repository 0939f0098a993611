package netnstest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnetgw/vnetgw/internal/strongswan"
)

// RequireStrongSwan is Require for tests that run strongSwan.
func RequireStrongSwan(t testing.TB, tools ...string) {
	t.Helper()
	Require(t, append(append([]string{strongswan.CharonPath, "swanctl", "ip"}, strongswan.PluginFiles()...), tools...)...)
}

// CharonConfig describes one strongSwan instance with one connection.
type CharonConfig struct {
	Local, Remote     string // outer addresses
	LocalID, RemoteID string // default: the addresses
	PSK               string
	IKEVersion        int    // default 2
	IKEProposal       string // strongSwan syntax, e.g. aes256gcm16-prfsha256-ecp256
	ESPProposal       string // e.g. aes256gcm16, aes256-sha256-modp2048 (with PFS)
	LocalTS, RemoteTS string // comma-separated prefixes
	// StartAction of the child: none (default), start, trap.
	StartAction string
	// Extra lines inside the connection block (rekey_time = 30s, dpd_delay = ...).
	ConnExtra string
	// Extra lines inside the child block (rekey_time, life_bytes, ...).
	ChildExtra string
	// Extra lines inside charon { } of strongswan.conf.
	CharonExtra string
	// LogLevelIKE is the filelog level of the ike subsystem (4 logs keys).
	LogLevelIKE int
	// Swanctl, when set, is the whole swanctl.conf, and the fields above
	// that describe the connection are not used.
	Swanctl string
	// Files are written into swanctl's directory before it loads the
	// configuration, by path relative to it: certificates in x509/ and
	// x509ca/, private keys in private/.
	Files map[string][]byte
}

// Charon is a running strongSwan charon in a namespace, with userspace ESP
// (kernel-libipsec on a TUN device, which always encapsulates ESP in UDP
// 4500) and its own VICI socket.
type Charon struct {
	Dir    string
	NS     *NS
	proc   *Process
	t      testing.TB
	daemon strongswan.Daemon
}

// StartCharon writes the configuration, starts charon in ns and loads the
// connection. It is stopped when the test ends.
func StartCharon(t testing.TB, ns *NS, c CharonConfig) *Charon {
	t.Helper()
	// The key is for the two identities, which default to the addresses.
	if c.LocalID == "" {
		c.LocalID = c.Local
	}
	if c.RemoteID == "" {
		c.RemoteID = c.Remote
	}
	if c.LogLevelIKE == 0 {
		c.LogLevelIKE = 2
	}
	dir := t.TempDir()
	d := strongswan.Daemon{Dir: dir, LogLevelIKE: c.LogLevelIKE, Extra: c.CharonExtra}
	if err := d.Write(); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "swanctl.conf")
	for name, data := range c.Files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if c.Swanctl != "" {
		if err := os.WriteFile(conf, []byte(c.Swanctl), 0o600); err != nil {
			t.Fatal(err)
		}
	} else {
		conn := strongswan.Conn{Name: "peer", Version: c.IKEVersion, Local: c.Local, Remote: c.Remote, LocalID: c.LocalID, RemoteID: c.RemoteID,
			IKE: c.IKEProposal, ESP: c.ESPProposal, LocalTS: c.LocalTS, RemoteTS: c.RemoteTS, StartAction: c.StartAction,
			ConnExtra: c.ConnExtra, ChildExtra: c.ChildExtra}
		secret := strongswan.Secret{IDs: []string{c.LocalID, c.RemoteID}, PSK: c.PSK}
		if err := strongswan.WriteSwanctl(conf, []strongswan.Conn{conn}, []strongswan.Secret{secret}); err != nil {
			t.Fatal(err)
		}
	}
	ch := &Charon{Dir: dir, NS: ns, t: t, daemon: d}
	cmd := d.Command()
	ch.proc = ns.Start(cmd[0], cmd[1:]...)
	if err := waitAccepts(d.VICI(), 30*time.Second, func() bool { return ch.proc.Wait(0) }); err != nil {
		t.Fatalf("charon did not start in %s: %v\n%s\n%s", ns.Name, err, ch.proc.Output(), ch.Log())
	}
	if out, err := ch.Swanctl("--load-all", "--file", conf); err != nil {
		t.Fatalf("swanctl --load-all: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("charon log (%s):\n%s", ns.Name, tail(ch.Log(), 200))
		}
	})
	return ch
}

// waitAccepts waits until the unix socket at path accepts a connection,
// for at most d or until exited says its server is gone. charon binds its
// VICI socket before it listens on it: a swanctl run in between is
// refused, so the socket existing is not enough.
func waitAccepts(path string, d time.Duration, exited func() bool) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			return c.Close()
		}
		if exited() {
			return fmt.Errorf("it exited: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// Swanctl runs swanctl against this charon's VICI socket, with its
// directory (the credentials of CharonConfig.Files) as swanctl's.
func (c *Charon) Swanctl(args ...string) (string, error) {
	args = append(args, "--uri", c.daemon.URI())
	cmd := exec.Command("swanctl", args...)
	cmd.Env = append(os.Environ(), "SWANCTL_DIR="+c.Dir)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Initiate starts the child SA (and the IKE SA) from this side.
func (c *Charon) Initiate() (string, error) {
	return c.Swanctl("--initiate", "--child", "net", "--timeout", "20")
}

// SAs returns `swanctl --list-sas`.
func (c *Charon) SAs() string {
	out, _ := c.Swanctl("--list-sas")
	return out
}

// WaitSAs waits until `swanctl --list-sas` contains every one of want.
func (c *Charon) WaitSAs(d time.Duration, want ...string) (string, error) {
	deadline := time.Now().Add(d)
	for {
		out := c.SAs()
		ok := true
		for _, w := range want {
			if !strings.Contains(out, w) {
				ok = false
			}
		}
		if ok {
			return out, nil
		}
		if time.Now().After(deadline) {
			return out, fmt.Errorf("after %s, swanctl --list-sas lacks %q:\n%s", d, want, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Log returns charon's log so far.
func (c *Charon) Log() string {
	b, _ := os.ReadFile(filepath.Join(c.Dir, "charon.log"))
	return string(b)
}

// Kill kills charon at once (no Delete is sent), as a crashed peer.
func (c *Charon) Kill() { c.proc.Kill() }
