package netnstest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"
)

// CharonPath is where Debian installs strongSwan's IKE daemon.
const CharonPath = "/usr/lib/ipsec/charon"

// RequireStrongSwan is Require for tests that run strongSwan.
func RequireStrongSwan(t testing.TB, tools ...string) {
	t.Helper()
	Require(t, append([]string{CharonPath, "swanctl", "ip"}, tools...)...)
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
}

// Charon is a running strongSwan charon in a namespace, with userspace ESP
// (kernel-libipsec on a TUN device, which always encapsulates ESP in UDP
// 4500) and its own VICI socket.
type Charon struct {
	Dir  string
	NS   *NS
	proc *Process
	t    testing.TB
}

var strongswanConf = template.Must(template.New("").Parse(`charon {
  load_modular = no
  load = random nonce kdf openssl aes sha1 sha2 hmac gcm pem pkcs1 x509 pubkey curve25519 kernel-libipsec kernel-netlink socket-default vici
  install_routes = yes
  routing_table = 220
  plugins {
    vici { socket = unix://{{.Dir}}/run/charon.vici }
  }
  filelog {
    log {
      path = {{.Dir}}/charon.log
      time_format = %T
      default = 1
      ike = {{.IKELevel}}
      cfg = 2
      knl = 2
      append = no
      flush_line = yes
    }
  }
  syslog { daemon { default = -1 } }
{{.Extra}}
}
`))

var swanctlConf = template.Must(template.New("").Parse(`connections {
  peer {
    version = {{.C.IKEVersion}}
    local_addrs = {{.C.Local}}
    remote_addrs = {{.C.Remote}}
    proposals = {{.C.IKEProposal}}
    local {
      auth = psk
      id = {{.C.LocalID}}
    }
    remote {
      auth = psk
      id = {{.C.RemoteID}}
    }
{{.C.ConnExtra}}
    children {
      net {
        local_ts = {{.C.LocalTS}}
        remote_ts = {{.C.RemoteTS}}
        mode = tunnel
        esp_proposals = {{.C.ESPProposal}}
        start_action = {{.C.StartAction}}
{{.C.ChildExtra}}
      }
    }
  }
}
secrets {
  ike-peer {
    id-1 = {{.C.LocalID}}
    id-2 = {{.C.RemoteID}}
    secret = "{{.C.PSK}}"
  }
}
`))

// StartCharon writes the configuration, starts charon in ns and loads the
// connection. It is stopped when the test ends.
func StartCharon(t testing.TB, ns *NS, c CharonConfig) *Charon {
	t.Helper()
	if c.IKEVersion == 0 {
		c.IKEVersion = 2
	}
	if c.LocalID == "" {
		c.LocalID = c.Local
	}
	if c.RemoteID == "" {
		c.RemoteID = c.Remote
	}
	if c.StartAction == "" {
		c.StartAction = "none"
	}
	if c.LogLevelIKE == 0 {
		c.LogLevelIKE = 2
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(name string, tmpl *template.Template, data any) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := tmpl.Execute(f, data); err != nil {
			t.Fatal(err)
		}
	}
	write("strongswan.conf", strongswanConf, map[string]any{"Dir": dir, "IKELevel": c.LogLevelIKE, "Extra": c.CharonExtra})
	write("swanctl.conf", swanctlConf, map[string]any{"C": c})
	ch := &Charon{Dir: dir, NS: ns, t: t}
	// charon's pid file is compiled in as /var/run/charon.pid; ip netns exec
	// gives a private mount namespace, so bind a directory of our own there.
	ch.proc = ns.Start("env", "STRONGSWAN_CONF="+filepath.Join(dir, "strongswan.conf"), "sh", "-c",
		"mount --bind "+filepath.Join(dir, "run")+" /run && exec "+CharonPath)
	vici := filepath.Join(dir, "run", "charon.vici")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(vici); err == nil {
			break
		}
		if time.Now().After(deadline) || ch.proc.Wait(0) {
			t.Fatalf("charon did not start in %s:\n%s\n%s", ns.Name, ch.proc.Output(), ch.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out, err := ch.Swanctl("--load-all", "--file", filepath.Join(dir, "swanctl.conf")); err != nil {
		t.Fatalf("swanctl --load-all: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("charon log (%s):\n%s", ns.Name, tail(ch.Log(), 200))
		}
	})
	return ch
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// Swanctl runs swanctl against this charon's VICI socket.
func (c *Charon) Swanctl(args ...string) (string, error) {
	args = append(args, "--uri", "unix://"+filepath.Join(c.Dir, "run", "charon.vici"))
	out, err := exec.Command("swanctl", args...).CombinedOutput()
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
