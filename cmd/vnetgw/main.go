// Command vnetgw runs self-hosted VPN gateways, virtual networks and IPsec
// tunnels behind an API shaped like Azure Resource Manager. See the README.
//
//go:debug tlsunsafeekm=1
package main

// tlsunsafeekm: EAP-TLS derives its MSK from the TLS 1.2 master secret
// (RFC 5216 §2.3), also with peers that do not negotiate the extended
// master secret (RFC 7627), such as strongSwan 5.9; crypto/tls exports
// keying material without it only with this setting. Nothing else in
// vnetgw exports keying material.

import (
	"context"
	"os"

	"github.com/vnetgw/vnetgw/internal/cli"
)

func main() {
	os.Exit(cli.Execute(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
