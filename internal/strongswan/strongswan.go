// Package strongswan prepares strongSwan's charon to run as a peer of
// vnetgw in a network namespace, with userspace ESP: the daemon's
// configuration in a directory of its own (its log, its VICI socket, its
// /run), the command that starts it, and its connections (swanctl.conf,
// WriteSwanctl), for tests (internal/netnstest) and benchmarks (bench/);
// and the swanctl.conf syntax that the device scripts (internal/devicecfg)
// and client profiles (internal/vpnclient) write too (SecretValue,
// SectionName).
package strongswan

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

// CharonPath is where Debian installs strongSwan's IKE daemon.
const CharonPath = "/usr/lib/ipsec/charon"

// Daemon is the configuration of one charon.
type Daemon struct {
	// Dir holds strongswan.conf, charon.log and run/ (the VICI socket and
	// the pid file).
	Dir string
	// LogLevelIKE is the filelog level of the ike subsystem (4 logs key
	// material); 0 means 1.
	LogLevelIKE int
	// Extra lines go inside charon { } of strongswan.conf.
	Extra string
}

// Plugins are the plugins charon loads, in order: kernel-libipsec
// (userspace ESP on a TUN device, which always carries ESP in UDP 4500)
// before kernel-netlink, which then only does addresses and routes; kdf,
// without which IKEv2 cannot derive keys with PRF_HMAC_SHA2_256. Debian
// spreads them over packages (openssl: libstrongswan-standard-plugins;
// eap-mschapv2: libcharon-extauth-plugins), and charon starts without
// those it does not find: PluginFiles are what to check for.
var Plugins = []string{"random", "nonce", "kdf", "openssl", "aes", "sha1", "sha2", "hmac", "gcm", "pem", "pkcs1", "x509", "pubkey", "curve25519",
	"eap-identity", "eap-tls", "eap-mschapv2", "resolve", "kernel-libipsec", "kernel-netlink", "socket-default", "vici"}

// PluginFiles are the files of Plugins where Debian installs them.
func PluginFiles() []string {
	out := make([]string, len(Plugins))
	for i, p := range Plugins {
		out[i] = "/usr/lib/ipsec/plugins/libstrongswan-" + p + ".so"
	}
	return out
}

// filelog needs flush_line.
var daemonConf = template.Must(template.New("").Funcs(template.FuncMap{"plugins": func() string { return strings.Join(Plugins, " ") }}).Parse(`charon {
  load_modular = no
  load = {{plugins}}
  install_routes = yes
  routing_table = 220
  plugins {
    vici { socket = unix://{{.Dir}}/run/charon.vici }
    resolve { file = {{.Dir}}/resolv.conf }
  }
  filelog {
    log {
      path = {{.Dir}}/charon.log
      time_format = %T
      default = 1
      ike = {{.LogLevelIKE}}
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

// Write writes strongswan.conf and makes run/ in d.Dir.
func (d Daemon) Write() error {
	if d.LogLevelIKE == 0 {
		d.LogLevelIKE = 1
	}
	if err := os.MkdirAll(filepath.Join(d.Dir, "run"), 0o700); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(d.Dir, "strongswan.conf"))
	if err != nil {
		return err
	}
	if err := daemonConf.Execute(f, d); err != nil {
		f.Close()
		return fmt.Errorf("strongswan.conf: %w", err)
	}
	return f.Close()
}

// Command is the command line that starts charon with d's configuration.
// Run it in the namespace with `ip netns exec`, which gives it a mount
// namespace of its own: charon's pid file is compiled in as
// /var/run/charon.pid, so d.Dir/run is bound over /run there.
func (d Daemon) Command() []string {
	return []string{"env", "STRONGSWAN_CONF=" + filepath.Join(d.Dir, "strongswan.conf"),
		"sh", "-c", `mount --bind "$1" /run && exec "$2"`, "sh", filepath.Join(d.Dir, "run"), CharonPath}
}

// VICI is the path of the daemon's control socket; URI is swanctl's --uri.
func (d Daemon) VICI() string { return filepath.Join(d.Dir, "run", "charon.vici") }

// URI returns the swanctl --uri of the daemon.
func (d Daemon) URI() string { return "unix://" + d.VICI() }

// Log is the path of the daemon's log.
func (d Daemon) Log() string { return filepath.Join(d.Dir, "charon.log") }
