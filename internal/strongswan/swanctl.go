package strongswan

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"text/template"

	"github.com/vnetgw/vnetgw/internal/atomicfile"
)

// Conn is one connection of swanctl.conf: IKEv2 (unless Version says
// otherwise) with pre-shared keys and one tunnel-mode child SA named
// "net".
type Conn struct {
	Name    string
	Version int // IKE version; 0 means 2
	// Local and Remote are local_addrs and remote_addrs; an empty Remote
	// leaves remote_addrs out (any peer may initiate).
	Local, Remote string
	// LocalID defaults to Local and RemoteID to Remote; an empty RemoteID
	// then leaves the peer's identity open.
	LocalID, RemoteID string
	// IKE and ESP are proposals in strongSwan's syntax.
	IKE, ESP string
	// LocalTS and RemoteTS are comma-separated prefixes.
	LocalTS, RemoteTS string
	// StartAction of the child: none (the default), start or trap.
	StartAction string
	// Extra lines inside the connection block and inside the child block.
	ConnExtra, ChildExtra string
}

// Secret is one pre-shared key, for the identities IDs (none: any).
type Secret struct {
	IDs []string
	PSK string
}

// SectionName makes a name a swanctl.conf section name, which holds no
// dots (they separate sections) nor anything but ASCII letters, digits,
// '-' and '_': each other character becomes '_', and then a hash of the
// name follows ("rg-hub.a" is "rg-hub_a-" and 8 hex digits), so that
// names that differ only there ("rg-hub_a") stay apart on a device that
// holds both. A name with nothing to replace is kept as it is.
func SectionName(name string) string {
	replaced := false
	s := strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' {
			return r
		}
		replaced = true
		return '_'
	}, name)
	if !replaced {
		return s
	}
	sum := sha256.Sum256([]byte(name))
	return s + "-" + hex.EncodeToString(sum[:4])
}

// SecretValue writes a pre-shared key as a swanctl.conf secret: quoted,
// or in hex when it starts with 0x or 0s, which strongSwan would read as
// the prefix of a hex or base64 value (a key such as "0sgA2zy..." would
// otherwise not be the key).
func SecretValue(psk string) string {
	if p := strings.ToLower(psk); strings.HasPrefix(p, "0x") || strings.HasPrefix(p, "0s") {
		return "0x" + hex.EncodeToString([]byte(psk))
	}
	return `"` + psk + `"`
}

var swanctlConf = template.Must(template.New("").Funcs(template.FuncMap{"secret": SecretValue}).Parse(`connections {
{{- range .Conns}}
  {{.Name}} {
    version = {{.Version}}
    local_addrs = {{.Local}}
{{- with .Remote}}
    remote_addrs = {{.}}
{{- end}}
    proposals = {{.IKE}}
    local {
      auth = psk
      id = {{.LocalID}}
    }
    remote {
      auth = psk
{{- with .RemoteID}}
      id = {{.}}
{{- end}}
    }
{{.ConnExtra}}
    children {
      net {
        local_ts = {{.LocalTS}}
        remote_ts = {{.RemoteTS}}
        mode = tunnel
        esp_proposals = {{.ESP}}
        start_action = {{.StartAction}}
{{.ChildExtra}}
      }
    }
  }
{{- end}}
}
secrets {
{{- range $i, $s := .Secrets}}
  ike-{{$i}} {
{{- range $j, $id := $s.IDs}}
    id-{{$j}} = {{$id}}
{{- end}}
    secret = {{secret $s.PSK}}
  }
{{- end}}
}
`))

// WriteSwanctl writes a swanctl.conf with conns and secrets to path, for
// `swanctl --load-all --file path`.
func WriteSwanctl(path string, conns []Conn, secrets []Secret) error {
	cs := make([]Conn, len(conns))
	for i, c := range conns {
		if c.Version == 0 {
			c.Version = 2
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
		cs[i] = c
	}
	// It holds the pre-shared keys: its owner's only, as charon runs as
	// root and reads it as such.
	return atomicfile.WriteFunc(path, 0o600, func(w io.Writer) error {
		return swanctlConf.Execute(w, map[string]any{"Conns": cs, "Secrets": secrets})
	})
}
