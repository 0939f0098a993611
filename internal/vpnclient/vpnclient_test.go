package vpnclient

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// unzip returns the files of s's package by name; its scripts must be
// executable.
func unzip(t *testing.T, s Settings) map[string]string {
	t.Helper()
	b, err := s.Zip()
	if err != nil {
		t.Fatal(err)
	}
	r, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range r.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name] = string(body)
		if strings.HasSuffix(f.Name, ".sh") && f.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable: %v", f.Name, f.Mode())
		}
	}
	return files
}

func TestPackageHoldsWhatAClientNeeds(t *testing.T) {
	s := Settings{Gateway: "hub-gw", Addr: netip.MustParseAddr("198.51.100.7"), Port: 8443, Pool: netip.MustParsePrefix("172.16.201.0/24"),
		Protocols: []string{"SSTP", "IkeV2"}, Routes: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("192.168.1.0/24")}, CA: []byte("-----BEGIN CERTIFICATE-----\n")}
	files := unzip(t, s)
	for _, name := range []string{FileReadme, FileSettings, FileCA, FileVnetgw, FileSSTPC, FileWindows, FileSwanctl, FileIKEv2, FileWindowsIKEv2} {
		if _, ok := files[name]; !ok {
			t.Errorf("the package has no %s", name)
		}
	}
	var got Settings
	if err := json.Unmarshal([]byte(files[FileSettings]), &got); err != nil || got.Addr != s.Addr || got.Port != 8443 || got.Pool != s.Pool || len(got.Routes) != 2 {
		t.Errorf("settings.json: %+v, %v", got, err)
	}
	if files[FileCA] != string(s.CA) {
		t.Errorf("%s = %q", FileCA, files[FileCA])
	}
	for name, want := range map[string][]string{
		FileVnetgw:       {"--gateway 198.51.100.7:8443", "--route 10.1.0.0/16 --route 192.168.1.0/24"},
		FileSSTPC:        {"198.51.100.7:8443", "ip route replace 10.1.0.0/16", "ip route replace 192.168.1.0/24"},
		FileWindows:      {`-ServerAddress "198.51.100.7"`, `-DestinationPrefix "192.168.1.0/24"`},
		FileSwanctl:      {"remote_addrs = 198.51.100.7", "id = 198.51.100.7", "remote_ts = 10.1.0.0/16,192.168.1.0/24", "vips = 0.0.0.0", "keyingtries = 0"},
		FileIKEv2:        {"swanctl --initiate --ike vnetgw-hub-gw --child net"},
		FileWindowsIKEv2: {"-TunnelType Ikev2", `-DestinationPrefix "10.1.0.0/16"`},
		FileReadme:       {"lower half", "IKEv2 on UDP ports 500 and 4500", "SSTP on TCP port 8443"},
	} {
		for _, w := range want {
			if !strings.Contains(files[name], w) {
				t.Errorf("%s lacks %q:\n%s", name, w, files[name])
			}
		}
	}
}

// A package holds what connects over the protocols the gateway serves,
// and nothing for the others.
func TestPackageFollowsProtocols(t *testing.T) {
	for _, tc := range []struct {
		protocols     []string
		want, missing []string
	}{
		{[]string{"SSTP"}, []string{FileVnetgw, FileSSTPC, FileWindows}, []string{FileSwanctl, FileIKEv2, FileWindowsIKEv2, FileGenericSettings}},
		{[]string{"IkeV2"}, []string{FileSwanctl, FileIKEv2, FileWindowsIKEv2, FileGenericSettings, FileGenericCA}, []string{FileVnetgw, FileSSTPC, FileWindows, FileOpenVPN}},
		{[]string{"OpenVPN"}, []string{FileOpenVPN}, []string{FileVnetgw, FileSSTPC, FileWindows, FileSwanctl, FileIKEv2, FileWindowsIKEv2, FileGenericSettings, FileGenericCA}},
		{[]string{"SSTP", "IkeV2", "OpenVPN"}, []string{FileVnetgw, FileSSTPC, FileWindows, FileSwanctl, FileIKEv2, FileWindowsIKEv2, FileGenericSettings, FileGenericCA, FileOpenVPN}, nil},
	} {
		s := Settings{Gateway: "gw", Addr: netip.MustParseAddr("198.51.100.7"), Port: 443, Pool: netip.MustParsePrefix("172.16.201.0/24"), Protocols: tc.protocols}
		files := unzip(t, s)
		for _, n := range tc.want {
			if _, ok := files[n]; !ok {
				t.Errorf("%v: the package lacks %s", tc.protocols, n)
			}
		}
		for _, n := range tc.missing {
			if _, ok := files[n]; ok {
				t.Errorf("%v: the package has %s", tc.protocols, n)
			}
		}
	}
}

// TestOpenVPNProfileFollowsAuthentication: the OpenVPN profile has the
// certificate's and key's placeholders with certificate authentication,
// auth-user-pass with RADIUS, and with both the placeholders and
// auth-user-pass left out (#), which openvpn would ask a certificate user
// for (p2s TestOpenVPNProfileCertificateOrPassword).
func TestOpenVPNProfileFollowsAuthentication(t *testing.T) {
	for _, tc := range []struct {
		auth                []string
		cert, userPass, off bool
	}{
		{nil, true, false, false},
		{[]string{"Certificate"}, true, false, false},
		{[]string{"Radius"}, false, true, false},
		{[]string{"Certificate", "Radius"}, true, false, true},
	} {
		s := Settings{Gateway: "gw", Addr: netip.MustParseAddr("198.51.100.7"), Port: 443, Pool: netip.MustParsePrefix("172.16.201.0/24"),
			Protocols: []string{"OpenVPN"}, Authentication: tc.auth, CA: []byte("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")}
		profile := unzip(t, s)[FileOpenVPN]
		if got := strings.Contains(profile, "<cert>\n"+OpenVPNCertPlaceholder) && strings.Contains(profile, "<key>\n"+OpenVPNKeyPlaceholder); got != tc.cert {
			t.Errorf("%v: certificate placeholders %v, want %v:\n%s", tc.auth, got, tc.cert, profile)
		}
		if got := strings.Contains(profile, "\nauth-user-pass\n"); got != tc.userPass {
			t.Errorf("%v: auth-user-pass %v, want %v:\n%s", tc.auth, got, tc.userPass, profile)
		}
		if got := strings.Contains(profile, "\n#auth-user-pass\n"); got != tc.off {
			t.Errorf("%v: auth-user-pass left out %v, want %v:\n%s", tc.auth, got, tc.off, profile)
		}
		if !strings.Contains(profile, "remote 198.51.100.7 443\n") || !strings.Contains(profile, "<ca>\n-----BEGIN CERTIFICATE-----") {
			t.Errorf("%v: profile:\n%s", tc.auth, profile)
		}
	}
}

// TestOpenVPNReadmeFollowsAuthentication: the package's README says how
// the OpenVPN profile authenticates, as the profile does: with RADIUS
// alone, a user name and password that openvpn asks for, and no
// placeholders to replace (the profile has none); with certificates, the
// placeholders, and with both, that the password may be used instead.
func TestOpenVPNReadmeFollowsAuthentication(t *testing.T) {
	for _, tc := range []struct {
		auth      []string
		want, not []string
	}{
		{nil, []string{"the client certificate in TLS", OpenVPNCertPlaceholder}, []string{"user name and password, which openvpn asks for"}},
		{[]string{"Radius"}, []string{"a user name and password, which openvpn asks for"}, []string{OpenVPNCertPlaceholder, "client certificate in TLS"}},
		{[]string{"Certificate", "Radius"}, []string{"the client certificate in TLS, or a user name and password", OpenVPNCertPlaceholder}, []string{"p2s connect"}},
	} {
		s := Settings{Gateway: "gw", Addr: netip.MustParseAddr("198.51.100.7"), Port: 443, Pool: netip.MustParsePrefix("172.16.201.0/24"),
			Protocols: []string{"OpenVPN"}, Authentication: tc.auth, CA: []byte("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")}
		files := unzip(t, s)
		readme := strings.Join(strings.Fields(files[FileReadme]), " ")
		for _, w := range tc.want {
			if !strings.Contains(readme, w) {
				t.Errorf("%v: %s lacks %q:\n%s", tc.auth, FileReadme, w, files[FileReadme])
			}
		}
		for _, w := range tc.not {
			if strings.Contains(readme, w) {
				t.Errorf("%v: %s says %q, which the profile does not have:\n%s\n%s", tc.auth, FileReadme, w, files[FileReadme], files[FileOpenVPN])
			}
		}
	}
	// vnetgw's own client, which takes a password, speaks SSTP alone.
	s := Settings{Gateway: "gw", Addr: netip.MustParseAddr("198.51.100.7"), Port: 443, Pool: netip.MustParsePrefix("172.16.201.0/24"),
		Protocols: []string{"SSTP", "OpenVPN"}, Authentication: []string{"Certificate", "Radius"}}
	if readme := unzip(t, s)[FileReadme]; !strings.Contains(readme, "vnetgw p2s connect --user NAME") {
		t.Errorf("with SSTP, Certificate and Radius, %s does not say how to connect with a password:\n%s", FileReadme, readme)
	}
}

// TestOpenVPNProfileStaticKey: the gateway's static key is in the
// profile's tls-crypt block, and nowhere else in the package (not in
// settings.json).
func TestOpenVPNProfileStaticKey(t *testing.T) {
	key := "-----BEGIN OpenVPN Static key V1-----\n0123\n-----END OpenVPN Static key V1-----\n"
	s := Settings{Gateway: "gw", Addr: netip.MustParseAddr("198.51.100.7"), Port: 443, Pool: netip.MustParsePrefix("172.16.201.0/24"),
		Protocols: []string{"SSTP", "OpenVPN"}, OpenVPNKey: []byte(key)}
	files := unzip(t, s)
	if !strings.Contains(files[FileOpenVPN], "<tls-crypt>\n"+key+"</tls-crypt>\n") {
		t.Errorf("the profile has no tls-crypt block with the key:\n%s", files[FileOpenVPN])
	}
	for name, f := range files {
		if name != FileOpenVPN && strings.Contains(f, "0123") {
			t.Errorf("%s holds the key", name)
		}
	}
	s.OpenVPNKey = nil
	if profile := unzip(t, s)[FileOpenVPN]; strings.Contains(profile, "tls-crypt") {
		t.Errorf("a profile without a key says tls-crypt:\n%s", profile)
	}
}

// TestIKEv2FilesFollowAuthentication: with RADIUS alone the IKEv2 files
// authenticate with a user name and password (EAP-MSCHAPv2): swanctl.conf
// with the placeholders, the script asking for the password, Windows'
// EAP; with certificates, the certificate.
func TestIKEv2FilesFollowAuthentication(t *testing.T) {
	s := Settings{Gateway: "gw", Addr: netip.MustParseAddr("198.51.100.7"), Pool: netip.MustParsePrefix("172.16.201.0/24"),
		Protocols: []string{"IkeV2"}, Authentication: []string{"Radius"}}
	files := unzip(t, s)
	conf := files[FileSwanctl]
	for _, want := range []string{"auth = eap-mschapv2", `eap_id = "` + SwanctlUserPlaceholder + `"`, `secret = "` + SwanctlPasswordPlaceholder + `"`} {
		if !strings.Contains(conf, want) {
			t.Errorf("swanctl.conf lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, " certs = ") || !strings.Contains(files[FileIKEv2], "usage: $0 USER") || !strings.Contains(files[FileWindowsIKEv2], "-AuthenticationMethod Eap") {
		t.Errorf("RADIUS alone: the files still name a certificate:\n%s\n%s", files[FileIKEv2], files[FileWindowsIKEv2])
	}
	s.Authentication = []string{"Certificate", "Radius"}
	files = unzip(t, s)
	if !strings.Contains(files[FileSwanctl], "auth = pubkey") || strings.Contains(files[FileSwanctl], SwanctlPasswordPlaceholder) ||
		!strings.Contains(files[FileWindowsIKEv2], "MachineCertificate") {
		t.Errorf("with certificates the files do not use them:\n%s", files[FileSwanctl])
	}
}

// runIKEv2Script runs linux/ikev2.sh of s's package with args (with umask
// 022, a root shell's) and $VNETGW_PASSWORD password, in a directory of
// its own as SWANCTL_DIR, which it returns: swanctl is a stub, and the
// other commands the script runs write their arguments to ARGV, which
// it returns too, before they run.
func runIKEv2Script(t *testing.T, top string, s Settings, password string, args ...string) (swanctlDir, argv string) {
	t.Helper()
	b, err := s.Zip()
	if err != nil {
		t.Fatal(err)
	}
	pkg, bin := t.TempDir(), filepath.Join(top, "bin")
	swanctlDir, argv = filepath.Join(top, "swanctl"), filepath.Join(top, "argv")
	if err := Extract(b, pkg); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(bin, 0o755)
	if err := os.WriteFile(filepath.Join(bin, "swanctl"), []byte("#!/bin/sh\nprintf '%s\\n' swanctl \"$@\" >> \"$ARGV\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"sed", "mkdir", "cp", "install", "dirname", "stty"} {
		real, err := exec.LookPath(name)
		if err != nil {
			t.Skipf("%s: %v", name, err)
		}
		wrapper := "#!/bin/sh\nprintf '%s\\n' " + name + " \"$@\" >> \"$ARGV\"\nexec " + real + " \"$@\"\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(wrapper), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("sh", append([]string{"-c", `umask 022; exec sh "$@"`, "sh", filepath.Join(pkg, FileIKEv2)}, args...)...)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "ARGV="+argv, "SWANCTL_DIR="+swanctlDir, "VNETGW_PASSWORD="+password)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ikev2.sh: %v\n%s", err, out)
	}
	ran, err := os.ReadFile(argv)
	if err != nil || !strings.Contains(string(ran), "swanctl\n--initiate") {
		t.Fatalf("the script did not run to its end (%v):\n%s", err, ran)
	}
	return swanctlDir, argv
}

// TestIKEv2ScriptKeepsPasswordOffCommandLines runs linux/ikev2.sh USER
// with each command it runs wrapped to record its arguments: the
// password, which every user of the machine could read in a command's
// arguments (ps, /proc/PID/cmdline), is in none of them, and is filled
// in, escaped for swanctl, in the connection's file, owner-only.
func TestIKEv2ScriptKeepsPasswordOffCommandLines(t *testing.T) {
	s := Settings{Gateway: "gw", Addr: netip.MustParseAddr("198.51.100.7"), Pool: netip.MustParsePrefix("172.16.201.0/24"),
		Protocols: []string{"IkeV2"}, Authentication: []string{"Radius"}}
	swanctlDir, argv := runIKEv2Script(t, t.TempDir(), s, `Pa55-w"o\r&d|secret`, "alice")
	if ran, _ := os.ReadFile(argv); strings.Contains(string(ran), "Pa55") {
		t.Errorf("the password is on a command line:\n%s", ran)
	}
	conf := filepath.Join(swanctlDir, "conf.d", "vnetgw-gw.conf")
	got, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if want := `secret = "Pa55-w\"o\\r&d|secret"`; !strings.Contains(string(got), want) || !strings.Contains(string(got), `id = "alice"`) {
		t.Errorf("%s lacks %q and the user:\n%s", conf, want, got)
	}
	if fi, err := os.Stat(conf); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v; want 0600", conf, fi.Mode())
	}
}

// Extract unpacks a package with its scripts executable, and refuses a
// zip whose names would leave the directory.
func TestExtract(t *testing.T) {
	s := Settings{Gateway: "gw", Addr: netip.MustParseAddr("198.51.100.7"), Port: 443, Pool: netip.MustParsePrefix("172.16.201.0/24"), Protocols: []string{"SSTP"}}
	b, err := s.Zip()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Extract(b, dir); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, FileVnetgw)); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("%s: %v, %v", FileVnetgw, fi, err)
	}
	var evil bytes.Buffer
	w := zip.NewWriter(&evil)
	f, _ := w.Create("../escape.sh")
	f.Write([]byte("#!/bin/sh\n"))
	w.Close()
	if err := Extract(evil.Bytes(), filepath.Join(dir, "sub")); err == nil {
		t.Error("a name leaving the directory was written")
	}
	if _, err := os.Stat(filepath.Join(dir, "escape.sh")); err == nil {
		t.Error("escape.sh was written outside the directory")
	}
}

// TestExtractRefusesLargePackage: a package that unpacks to more than 64
// MiB in all, in files under 16 MiB each (a zip of 1 MiB of zeros can),
// or has more than 1,000 files, is refused, nothing written.
func TestExtractRefusesLargePackage(t *testing.T) {
	for _, tc := range []struct {
		files int
		size  int
		want  string
	}{{5, 15 << 20, "over 67108864 bytes in all"}, {1001, 1, "1001 files"}} {
		var big bytes.Buffer
		w := zip.NewWriter(&big)
		for i := range tc.files {
			f, _ := w.Create(fmt.Sprintf("f%d", i))
			f.Write(make([]byte, tc.size))
		}
		w.Close()
		dir := t.TempDir()
		if err := Extract(big.Bytes(), dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("a package of %d files of %d bytes (a zip of %d): %v; want it refused", tc.files, tc.size, big.Len(), err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("a refused package wrote %d files", len(entries))
		}
	}
}

// TestExtractRefusesLargeFile: a package with a file over 16 MiB (a
// package's files are a few KiB) is refused, nothing written, not
// written cut short to 16 MiB.
func TestExtractRefusesLargeFile(t *testing.T) {
	var big bytes.Buffer
	w := zip.NewWriter(&big)
	f, _ := w.Create(FileReadme)
	f.Write([]byte("a package\n"))
	f, _ = w.Create(FileSettings)
	f.Write(make([]byte, 16<<20+1))
	w.Close()
	dir := t.TempDir()
	err := Extract(big.Bytes(), dir)
	if err == nil || !strings.Contains(err.Error(), "over the 16777216 a package's file has") {
		t.Errorf("a package with a file of 16 MiB and a byte: %v; want it refused", err)
	}
	for _, name := range []string{FileReadme, FileSettings} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s written, %d bytes", name, fi.Size())
		}
	}
}

// TestSSTPFilesFollowAuthentication: with RADIUS alone the SSTP scripts
// take a user name and ask for the password (MS-CHAPv2): sstpc's gives
// pppd the password in a file, never on its command line, and refuses the
// other methods; with certificates, the certificate. Every script is
// valid sh.
func TestSSTPFilesFollowAuthentication(t *testing.T) {
	s := Settings{Gateway: "gw", Addr: netip.MustParseAddr("198.51.100.7"), Port: 443, Pool: netip.MustParsePrefix("172.16.201.0/24"),
		Protocols: []string{"SSTP"}, Authentication: []string{"Radius"}, Routes: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}
	files := unzip(t, s)
	sstpc := files[FileSSTPC]
	for _, want := range []string{"usage: $0 USER", `file "$opts"`, "refuse-eap", "chmod 600"} {
		if !strings.Contains(sstpc, want) {
			t.Errorf("sstpc.sh lacks %q:\n%s", want, sstpc)
		}
	}
	if strings.Contains(sstpc, " cert ") || strings.Contains(sstpc, "password \"$") {
		t.Errorf("sstpc.sh names a certificate or puts the password on pppd's command line:\n%s", sstpc)
	}
	if !strings.Contains(files[FileVnetgw], `--user "$user"`) || !strings.Contains(files[FileWindows], "-AuthenticationMethod MSChapv2") ||
		!strings.Contains(files[FileReadme], "USER NETNS") {
		t.Errorf("RADIUS alone: the files still name a certificate:\n%s\n%s", files[FileVnetgw], files[FileWindows])
	}
	s.Authentication = []string{"Certificate", "Radius"}
	cert := unzip(t, s)
	if !strings.Contains(cert[FileSSTPC], `cert "$1"`) || !strings.Contains(cert[FileWindows], "-Tls") || !strings.Contains(cert[FileReadme], "or\nwith a user name and password") {
		t.Errorf("with certificates the files do not use them:\n%s", cert[FileSSTPC])
	}
	dir := t.TempDir()
	ikev2 := unzip(t, Settings{Gateway: "gw", Addr: s.Addr, Pool: s.Pool, Protocols: []string{"IkeV2"}, Authentication: []string{"Radius"}})[FileIKEv2]
	for name, body := range map[string]string{"radius-sstpc.sh": sstpc, "radius-connect.sh": files[FileVnetgw], "cert-sstpc.sh": cert[FileSSTPC], "cert-connect.sh": cert[FileVnetgw],
		"radius-ikev2.sh": ikev2} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("sh", "-n", path).CombinedOutput(); err != nil {
			t.Errorf("%s is not valid sh: %v\n%s", name, err, out)
		}
	}
}

// The IKEv2 files name the ports serve's --ike-port and --natt-port gave
// the gateway: strongSwan must send to them, and the README must say them.
func TestPackageFollowsIKEPorts(t *testing.T) {
	for _, tc := range []struct {
		name         string
		ike, natt    uint16
		readme       string
		remotePort   string // "" for none: strongSwan's default, 500
		windowsWarns bool   // Windows' client cannot use other ports
	}{
		{"default", 0, 0, "IKEv2 on UDP ports 500 and 4500", "", false},
		{"serve --ike-port 15500 --natt-port 15501", 15500, 15501, "IKEv2 on UDP ports 15500 and 15501", "remote_port = 15501", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Settings{Gateway: "gw", Addr: netip.MustParseAddr("198.51.100.7"), Port: 443, IKEPort: tc.ike, NATTPort: tc.natt,
				Pool: netip.MustParsePrefix("172.16.201.0/24"), Protocols: []string{"IkeV2"}, Routes: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}
			files := unzip(t, s)
			if !strings.Contains(files[FileReadme], tc.readme) {
				t.Errorf("%s lacks %q:\n%s", FileReadme, tc.readme, files[FileReadme])
			}
			if got := regexp.MustCompile(`remote_port = \d+`).FindString(files[FileSwanctl]); got != tc.remotePort {
				t.Errorf("%s has %q, want %q:\n%s", FileSwanctl, got, tc.remotePort, files[FileSwanctl])
			}
			// strongSwan speaks NAT-T from the start only from its port 4500.
			if local := strings.Contains(files[FileSwanctl], "local_port = 4500"); local != (tc.remotePort != "") {
				t.Errorf("%s has local_port = 4500: %v, want %v", FileSwanctl, local, tc.remotePort != "")
			}
			if warns := strings.Contains(files[FileWindowsIKEv2], "500 and 4500 only"); warns != tc.windowsWarns {
				t.Errorf("%s warns that Windows cannot reach the ports: %v, want %v", FileWindowsIKEv2, warns, tc.windowsWarns)
			}
		})
	}
}

// A gateway with an IPv6 address (serve --public-ip-pool 2001:db8::/64):
// the scripts give vnetgw's client and sstpc the address in brackets, so
// that the port is not read as its last group.
func TestPackageIPv6Gateway(t *testing.T) {
	for _, port := range []uint16{443, 8443} {
		s := Settings{Gateway: "gw", Addr: netip.MustParseAddr("2001:db8::7"), Port: port, Pool: netip.MustParsePrefix("172.16.201.0/24"),
			Protocols: []string{"SSTP"}, Routes: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}
		files := unzip(t, s)
		want := netip.AddrPortFrom(s.Addr, port)
		// vnetgw p2s connect reads --gateway as netip.ParseAddrPort does.
		m := regexp.MustCompile(`--gateway (\S+)`).FindStringSubmatch(files[FileVnetgw])
		if m == nil {
			t.Fatalf("%s has no --gateway:\n%s", FileVnetgw, files[FileVnetgw])
		}
		if got, err := netip.ParseAddrPort(m[1]); err != nil || got != want {
			t.Errorf("port %d: %s gives --gateway %s, want %s", port, FileVnetgw, m[1], want)
		}
		if !strings.Contains(files[FileSSTPC], `--ipparam $(shq "$ifc") `+want.String()+`"`) {
			t.Errorf("port %d: %s does not give sstpc %s:\n%s", port, FileSSTPC, want, files[FileSSTPC])
		}
	}
}

// Extracting a package over an earlier copy that others could read leaves
// the OpenVPN profile, which holds the gateway's key, to its owner alone
// (os.WriteFile kept the old file's mode).
func TestExtractOverLooseCopy(t *testing.T) {
	s := Settings{Gateway: "gw", Addr: netip.MustParseAddr("198.51.100.7"), Port: 443, Pool: netip.MustParsePrefix("172.16.201.0/24"),
		Protocols: []string{"OpenVPN"}, Routes: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")},
		OpenVPNKey: []byte("-----BEGIN OpenVPN Static key V1-----\nk\n-----END OpenVPN Static key V1-----")}
	zipped, err := s.Zip()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	profile := filepath.Join(dir, filepath.FromSlash(FileOpenVPN))
	if err := os.MkdirAll(filepath.Dir(profile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(profile, []byte("an older profile"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(profile, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	if err := Extract(zipped, dir); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(profile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s holds the gateway's key with mode %v, want 0600", FileOpenVPN, st.Mode().Perm())
	}
	if b, _ := os.ReadFile(profile); !strings.Contains(string(b), "OpenVPN Static key") {
		t.Errorf("%s was not written:\n%s", FileOpenVPN, b)
	}
}

// A symbolic link to a folder elsewhere made where the package has one
// while Extract runs (by another user of a directory others write to),
// after Extract checked that name, is not followed: nothing is ever
// written where it points. Extract runs again and again while the link
// comes and goes; it may fail, naming it, and writes nothing through it.
func TestExtractNotThroughRacingSymlink(t *testing.T) {
	s := Settings{Gateway: "gw", Addr: netip.MustParseAddr("198.51.100.7"), Port: 443, Pool: netip.MustParsePrefix("172.16.201.0/24"),
		Protocols: []string{"SSTP", "IkeV2"}, Routes: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}
	zipped, err := s.Zip()
	if err != nil {
		t.Fatal(err)
	}
	dir, aside, elsewhere := t.TempDir(), t.TempDir(), t.TempDir()
	linux := filepath.Join(dir, "linux")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			os.Rename(linux, filepath.Join(aside, strconv.Itoa(i))) // the folder Extract made
			os.Symlink(elsewhere, linux)
			runtime.Gosched()
			os.Remove(linux)
		}
	}()
	defer func() {
		close(stop)
		<-done
	}()
	for range 1000 {
		Extract(zipped, dir) // refused or not, as the link happens to be
		if entries, _ := os.ReadDir(elsewhere); len(entries) > 0 {
			t.Fatalf("Extract wrote %s where a symbolic link made while it ran points", entries[0].Name())
		}
	}
}

// After vnet-gateway vpn-client ipsec-policy set the gateway offers that
// policy alone: the Windows script sets it in Windows' names (it always
// set AES-GCM and ECP-256, which the gateway then refused), and
// swanctl.conf proposes it.
func TestPackageFollowsClientPolicy(t *testing.T) {
	base := Settings{Gateway: "gw", Addr: netip.MustParseAddr("198.51.100.7"), Port: 443, Pool: netip.MustParsePrefix("172.16.201.0/24"),
		Protocols: []string{"IkeV2"}, Routes: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}
	custom := base
	custom.IPsecPolicy = &arm.IPsecPolicy{IKEEncryption: "AES256", IKEIntegrity: "SHA384", DHGroup: "DHGroup14",
		IPsecEncryption: "AES256", IPsecIntegrity: "SHA256", PFSGroup: "PFS14", SALifeTimeSeconds: 27000, SADataSizeKilobytes: 102400000}
	custom.IKEProposal, custom.ESPProposal = "aes256-sha384-modp2048", "aes256-sha256-modp2048"
	for _, tc := range []struct {
		name           string
		s              Settings
		windows        string
		swanctl, notIn []string
	}{
		{"defaults", base,
			"-AuthenticationTransformConstants GCMAES256 `\n  -CipherTransformConstants GCMAES256 -EncryptionMethod GCMAES256 -IntegrityCheckMethod SHA256 -DHGroup ECP256 -PfsGroup None",
			nil, []string{"proposals"}},
		{"custom policy", custom,
			"-AuthenticationTransformConstants SHA256128 `\n  -CipherTransformConstants AES256 -EncryptionMethod AES256 -IntegrityCheckMethod SHA384 -DHGroup Group14 -PfsGroup PFS2048",
			[]string{"proposals = aes256-sha384-modp2048", "esp_proposals = aes256-sha256-modp2048"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := unzip(t, tc.s)
			if !strings.Contains(files[FileWindowsIKEv2], tc.windows) {
				t.Errorf("%s lacks %q:\n%s", FileWindowsIKEv2, tc.windows, files[FileWindowsIKEv2])
			}
			for _, w := range tc.swanctl {
				if !strings.Contains(files[FileSwanctl], w) {
					t.Errorf("%s lacks %q:\n%s", FileSwanctl, w, files[FileSwanctl])
				}
			}
			for _, w := range tc.notIn {
				if strings.Contains(files[FileSwanctl], w) {
					t.Errorf("%s has %q:\n%s", FileSwanctl, w, files[FileSwanctl])
				}
			}
		})
	}
}

// TestSSTPCScriptQuotesItsPath runs linux/sstpc.sh from a package
// unpacked under a directory whose name holds a quote and a command
// substitution, with pppd and sstpc stand-ins: pppd runs its pty command
// with sh, as the real one does. sstpc gets the CA's path as it is, and
// nothing in the name runs.
func TestSSTPCScriptQuotesItsPath(t *testing.T) {
	for _, auth := range []string{"Certificate", "Radius"} {
		t.Run(auth, func(t *testing.T) {
			s := Settings{Gateway: "gw", Addr: netip.MustParseAddr("198.51.100.7"), Port: 443, Pool: netip.MustParsePrefix("172.16.201.0/24"),
				Protocols: []string{"SSTP"}, Authentication: []string{auth}}
			b, err := s.Zip()
			if err != nil {
				t.Fatal(err)
			}
			top := t.TempDir()
			dir := filepath.Join(top, "Bob's VPN $(touch pwned) '")
			if err := Extract(b, dir); err != nil {
				t.Fatal(err)
			}
			bin := filepath.Join(top, "bin")
			os.Mkdir(bin, 0o755)
			got := filepath.Join(top, "sstpc-args")
			stubs := map[string]string{
				"pppd":  "#!/bin/sh\nwhile [ $# -gt 0 ]; do if [ \"$1\" = pty ]; then cd \"$TOP\" && exec sh -c \"$2\"; fi; shift; done\nexit 1\n",
				"sstpc": "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$TOP/sstpc-args\"\n",
			}
			for name, body := range stubs {
				if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			args := []string{filepath.Join(dir, FileSSTPC), "alice"}
			if auth == "Certificate" {
				args = []string{filepath.Join(dir, FileSSTPC), "client.pem", "client.key"}
			}
			cmd := exec.Command("sh", args...)
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "TOP="+top, "VNETGW_PASSWORD=secret")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("sstpc.sh: %v\n%s", err, out)
			}
			if _, err := os.Stat(filepath.Join(top, "pwned")); err == nil {
				t.Error("the directory's name ran as a command")
			}
			b, err = os.ReadFile(got)
			if err != nil {
				t.Fatalf("sstpc did not run: %v", err)
			}
			want := "--ca-cert\n" + dir + "/linux/../" + FileCA + "\n--nolaunchpppd\n--ipparam\nvnetgw0\n198.51.100.7\n"
			if string(b) != want {
				t.Errorf("sstpc's arguments:\n%s\nwant\n%s", b, want)
			}
		})
	}
}

// TestPackageGenericSettings: with IKEv2 the package has Azure's
// Generic/VpnSettings.xml, which scripts written for Azure read
// (/VpnProfile/VpnServer, VpnType, Routes), and Generic/VpnServerRoot.cer,
// the gateway's CA.
func TestPackageGenericSettings(t *testing.T) {
	for _, addr := range []string{"198.51.100.7", "2001:db8::7"} {
		s := Settings{Gateway: "gw", Addr: netip.MustParseAddr(addr), Port: 443, Pool: netip.MustParsePrefix("172.16.201.0/24"), Protocols: []string{"SSTP", "IkeV2"},
			Routes: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("192.168.1.0/24")}, CA: []byte("-----BEGIN CERTIFICATE-----\n")}
		files := unzip(t, s)
		var got struct {
			XMLName                    xml.Name `xml:"VpnProfile"`
			VpnServer, VpnType, Routes string
		}
		if err := xml.Unmarshal([]byte(files[FileGenericSettings]), &got); err != nil {
			t.Fatalf("%s: %v\n%s", FileGenericSettings, err, files[FileGenericSettings])
		}
		if got.VpnServer != addr || got.VpnType != "IkeV2" || got.Routes != "10.1.0.0/16,192.168.1.0/24" {
			t.Errorf("%s: %+v", FileGenericSettings, got)
		}
		if files[FileGenericCA] != string(s.CA) {
			t.Errorf("%s: %q", FileGenericCA, files[FileGenericCA])
		}
		if !strings.Contains(files[FileReadme], FileGenericSettings) {
			t.Errorf("README.txt does not name %s:\n%s", FileGenericSettings, files[FileReadme])
		}
	}
}

// FuzzExtract unpacks arbitrary zips: no panic, and nothing is written
// outside the directory, whatever the names, modes and sizes say.
//
// The fuzzer minimizes each input that finds new coverage with some n²/2
// cuts of its n bytes, and fuzzes nothing meanwhile: a mutant of the
// 6 KiB package, the seed this had, kept it minimizing for all of a 25 s
// run. So inputs over maxZip are not tried, one of them a seed, so that
// its return is no new coverage, which the fuzzer would minimize with
// cuts that all fail; the seeds are zips of a file or two, with the
// modes a package's have (TestExtract unpacks a whole one). The inputs
// share a directory, emptied after each, not one made for each.
func FuzzExtract(f *testing.F) {
	const maxZip = 512
	var pkg bytes.Buffer // a script and a file of the package's modes
	w := zip.NewWriter(&pkg)
	for _, file := range []struct {
		name string
		mode fs.FileMode
	}{{"a.sh", 0o755}, {"b/c.ovpn", 0o600}} {
		h := &zip.FileHeader{Name: file.name, Method: zip.Deflate}
		h.SetMode(file.mode)
		fw, _ := w.CreateHeader(h)
		fw.Write([]byte("#!/bin/sh\n"))
	}
	w.Close()
	f.Add(pkg.Bytes())
	for _, names := range [][]string{{"../escape.sh"}, {"a", "a/b"}, {"a/b", "a"}, {"/etc/x"}, {"a/./b", "a\\b"}} {
		var z bytes.Buffer
		w := zip.NewWriter(&z)
		for _, n := range names {
			fw, _ := w.Create(n)
			fw.Write([]byte("#!/bin/sh\n"))
		}
		w.Close()
		f.Add(z.Bytes())
	}
	f.Add(make([]byte, maxZip+1))
	parent := f.TempDir()
	f.Fuzz(func(t *testing.T, zipped []byte) {
		if len(zipped) > maxZip {
			return
		}
		Extract(zipped, filepath.Join(parent, "out"))
		entries, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if err := os.RemoveAll(filepath.Join(parent, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
		for _, e := range entries {
			if e.Name() != "out" {
				t.Fatalf("%s written beside the directory", e.Name())
			}
		}
	})
}

// TestSwanctlRemoteTSFitsATSPayload: the package's swanctl.conf proposes
// the routes in remote_ts while one TS payload holds them (255, RFC 7296
// §3.13: Number of TSs is one octet), which the gateway answers all of;
// past that, any IPv4 address, as the gateway answers then: strongSwan
// sent 256 selectors with a count of 0, and its client did not connect.
func TestSwanctlRemoteTSFitsATSPayload(t *testing.T) {
	for _, n := range []int{255, 256} {
		s := Settings{Gateway: "hub-gw", Addr: netip.MustParseAddr("198.51.100.7"), Port: 443, Pool: netip.MustParsePrefix("172.16.201.0/24"),
			Protocols: []string{"IkeV2"}, CA: []byte("-----BEGIN CERTIFICATE-----\n")}
		for i := range n {
			s.Routes = append(s.Routes, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 16))
		}
		conf := unzip(t, s)[FileSwanctl]
		m := regexp.MustCompile(`remote_ts = (\S+)`).FindStringSubmatch(conf)
		if m == nil {
			t.Fatalf("%d routes: no remote_ts in %s:\n%s", n, FileSwanctl, conf)
		}
		got := strings.Split(m[1], ",")
		switch {
		case n <= 255 && len(got) != n:
			t.Errorf("%d routes: remote_ts lists %d", n, len(got))
		case n > 255 && m[1] != "0.0.0.0/0":
			t.Errorf("%d routes: remote_ts lists %d, more than a TS payload holds; want 0.0.0.0/0", n, len(got))
		}
	}
}

// TestIKEv2ScriptPasswordFileOwnerOnlyOverCertificateOne: a user who set
// the connection up with a certificate (the file linux/ikev2.sh CERT KEY
// copies is readable by all, as swanctl.conf files are) and, the gateway
// turned to RADIUS alone, runs the new package's linux/ikev2.sh USER gets
// the file with the password owner-only, not the old file's mode kept.
func TestIKEv2ScriptPasswordFileOwnerOnlyOverCertificateOne(t *testing.T) {
	top := t.TempDir()
	s := Settings{Gateway: "gw", Addr: netip.MustParseAddr("198.51.100.7"), Pool: netip.MustParsePrefix("172.16.201.0/24"),
		Protocols: []string{"IkeV2"}, Authentication: []string{"Certificate"}}
	cert, key := filepath.Join(top, "client.pem"), filepath.Join(top, "client.key")
	os.WriteFile(cert, []byte("-----BEGIN CERTIFICATE-----\n"), 0o644)
	os.WriteFile(key, []byte("-----BEGIN PRIVATE KEY-----\n"), 0o600)
	swanctlDir, _ := runIKEv2Script(t, top, s, "", cert, key)
	conf := filepath.Join(swanctlDir, "conf.d", "vnetgw-gw.conf")
	if fi, err := os.Stat(conf); err != nil {
		t.Fatal(err)
	} else if fi.Mode().Perm()&0o044 == 0 {
		t.Fatalf("the certificate's %s: mode %v; want it readable by all, as cp leaves it", conf, fi.Mode())
	}
	s.Authentication = []string{"Radius"}
	runIKEv2Script(t, top, s, "Secret-Pa55", "alice")
	got, err := os.ReadFile(conf)
	if err != nil || !strings.Contains(string(got), `secret = "Secret-Pa55"`) {
		t.Fatalf("%s: %v; the password is not in it:\n%s", conf, err, got)
	}
	if fi, err := os.Stat(conf); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s, which holds the password: mode %v; want 0600", conf, fi.Mode())
	}
}
