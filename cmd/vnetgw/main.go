// Command vnetgw runs self-hosted VPN gateways, virtual networks and IPsec
// tunnels behind an API shaped like Azure Resource Manager. See the README.
package main

import (
	"context"
	"os"

	"github.com/vnetgw/vnetgw/internal/cli"
)

func main() {
	os.Exit(cli.Execute(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
