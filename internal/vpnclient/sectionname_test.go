package vpnclient

import (
	"net/netip"
	"regexp"
	"strings"
	"testing"
)

// A gateway's name may hold dots (Azure's names, and vnetgw's, allow
// letters, digits, '_', '.' and '-'), which swanctl.conf's section names
// may not: "vnetgw-hub.gw {" is a syntax error and swanctl loads nothing
// ("syntax error, unexpected ., expecting : or '{' or '='"). The sections
// of FileSwanctl, and the IKE SA that FileIKEv2 starts, are named without
// them, the same in both files.
func TestSwanctlSectionOfDottedGatewayName(t *testing.T) {
	section := regexp.MustCompile(`(?m)^\s*([^\s#=]+)\s*\{\s*$`)
	initiate := regexp.MustCompile(`swanctl --initiate --ike (\S+) `)
	for _, auth := range [][]string{nil, {"Radius"}} {
		s := Settings{Gateway: "hub.gw.v1", Addr: netip.MustParseAddr("198.51.100.7"), Port: 443, Pool: netip.MustParsePrefix("172.16.201.0/24"),
			Protocols: []string{"IkeV2"}, Authentication: auth, Routes: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}
		files := unzip(t, s)
		conf, script := files[FileSwanctl], files[FileIKEv2]
		var conn string
		for _, m := range section.FindAllStringSubmatch(conf, -1) {
			if strings.Contains(m[1], ".") {
				t.Errorf("auth %v: section name %q holds a dot, which swanctl.conf refuses:\n%s", auth, m[1], conf)
			}
			if strings.HasPrefix(m[1], "vnetgw-") {
				conn = m[1]
			}
		}
		m := initiate.FindStringSubmatch(script)
		if m == nil || m[1] != conn {
			t.Errorf("auth %v: %s initiates %v, the connection of %s is %q", auth, FileIKEv2, m, FileSwanctl, conn)
		}
	}
}
