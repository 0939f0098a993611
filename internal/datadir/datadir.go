// Package datadir names the files of a vnetgw data directory, which the
// server writes and clients read.
package datadir

import (
	"os"
	"path/filepath"
)

// Files in the data directory.
const (
	State    = "state.db"       // the bbolt store
	CA       = "ca.pem"         // the CA that issued the API's certificate
	CAKey    = "ca-key.pem"     // its key (0600)
	Cert     = "server.pem"     // the API's certificate
	Key      = "server-key.pem" // its key (0600)
	Token    = "admin-token"    // the admin bearer token (0600)
	Endpoint = "endpoint"       // the URL the API is served at
	// MetricsHistory holds the samples behind Azure Monitor's metrics,
	// written while serve runs and when it stops, read when it starts.
	MetricsHistory = "metrics-history"
	Lock           = "serve.lock" // held by the serve that uses the directory
)

// Default is /var/lib/vnetgw for root, else $XDG_STATE_HOME/vnetgw
// (~/.local/state/vnetgw when XDG_STATE_HOME is unset or relative).
func Default() string {
	if os.Geteuid() == 0 {
		return "/var/lib/vnetgw"
	}
	// XDG Base Directory Specification: a relative path in the variable is invalid and must be ignored.
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "vnetgw")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".vnetgw"
	}
	return filepath.Join(home, ".local", "state", "vnetgw")
}
