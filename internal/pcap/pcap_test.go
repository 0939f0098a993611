package pcap

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// udp4 is an IPv4 UDP packet from src:sport to dst:dport with n bytes of
// payload.
func udp4(src, dst string, sport, dport uint16, n int) []byte {
	p := make([]byte, 28+n)
	p[0], p[8], p[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	binary.BigEndian.PutUint16(p[20:], sport)
	binary.BigEndian.PutUint16(p[22:], dport)
	binary.BigEndian.PutUint16(p[24:], uint16(8+n))
	return p
}

// records reads a pcap file's records: (captured length, original length).
func records(t *testing.T, file []byte) [][2]int {
	t.Helper()
	if len(file) < 24 || binary.LittleEndian.Uint32(file) != 0xa1b2c3d4 || binary.LittleEndian.Uint32(file[20:]) != linkTypeRaw {
		t.Fatalf("not a pcap file of raw IP: % x", file[:min(24, len(file))])
	}
	var out [][2]int
	for rest := file[24:]; len(rest) > 0; {
		incl, orig := int(binary.LittleEndian.Uint32(rest[8:])), int(binary.LittleEndian.Uint32(rest[12:]))
		out = append(out, [2]int{incl, orig})
		rest = rest[16+incl:]
	}
	return out
}

func TestFiltersAndLimits(t *testing.T) {
	cfg, err := ParseFilterData(`{"TracingFlags":11,"MaxPacketBufferSize":40,"MaxFileSize":1,
		"Filters":[{"SourceSubnets":["10.1.0.0/16"],"DestinationSubnets":["192.168.1.2"],"Protocol":[17],"DestinationPort":[53],"TcpFlags":-1}]}`)
	if err != nil {
		t.Fatal(err)
	}
	c := Start(cfg)
	c.Packet(udp4("10.1.0.4", "192.168.1.2", 5000, 53, 100))  // matches
	c.Packet(udp4("192.168.1.2", "10.1.0.4", 53, 5000, 100))  // the answer: both directions
	c.Packet(udp4("10.1.0.4", "192.168.1.3", 5000, 53, 100))  // another host
	c.Packet(udp4("10.1.0.4", "192.168.1.2", 5000, 123, 100)) // another port
	c.Packet([]byte{0x45, 0})                                 // not a packet
	file, captured, missed := c.Stop()
	if captured != 2 || missed != 0 {
		t.Fatalf("captured %d, missed %d; want 2, 0", captured, missed)
	}
	for _, r := range records(t, file) {
		if r != [2]int{40, 128} {
			t.Errorf("record lengths %v, want 40 of 128 (MaxPacketBufferSize)", r)
		}
	}
	c.Packet(udp4("10.1.0.4", "192.168.1.2", 5000, 53, 100))
	if _, n, _ := c.Stop(); n != 2 {
		t.Errorf("a stopped capture took a packet")
	}

	// One way only; the file fills up and then counts what it misses.
	cfg, err = ParseFilterData(`{"MaxFileSize":1,"Filters":[{"SourceSubnets":["10.1.0.0/16"],"CaptureSingleDirectionTrafficOnly":true}]}`)
	if err != nil {
		t.Fatal(err)
	}
	c = Start(cfg)
	c.Packet(udp4("192.168.1.2", "10.1.0.4", 53, 5000, 100))
	for range 1000 {
		c.Packet(udp4("10.1.0.4", "192.168.1.2", 5000, 53, 1400))
	}
	file, captured, missed = c.Stop()
	if len(file) > 1<<20 || captured == 0 || captured+missed != 1000 {
		t.Errorf("1 MiB file: %d bytes, %d captured, %d missed of 1000", len(file), captured, missed)
	}
	t.Logf("1 MiB holds %d packets of 1,428 bytes; %d missed", captured, missed)
}

func TestParseFilterDataRefuses(t *testing.T) {
	for _, s := range []string{`{`, `{"MaxFileSize":0}`, `{"MaxFileSize":100000}`, `{"MaxPacketBufferSize":-1}`,
		`{"Filters":[{"SourceSubnets":["nope"]}]}`, `{"Filters":[{"Protocol":[300]}]}`, `{"Filters":[{"TcpFlags":0}]}`, `{"Filters":[{"TcpFlags":256}]}`,
		`{"Filters":[{"DestinationPort":[70000]}]}`, `{"Filters":"x"}`} {
		if _, err := ParseFilterData(s); err == nil {
			t.Errorf("%s: no error", s)
		}
	}
	if cfg, err := ParseFilterData(""); err != nil || cfg.SnapLen != DefaultSnapLen || cfg.MaxBytes != DefaultMaxBytes || cfg.Filters != nil {
		t.Errorf("empty filterData: %+v %v", cfg, err)
	}
}

// tcp4 is an IPv4 TCP packet from src:sport to dst:dport with flags.
func tcp4(src, dst string, sport, dport uint16, flags byte) []byte {
	p := udp4(src, dst, sport, dport, 12) // room for the TCP header
	p[9], p[33] = 6, flags
	return p
}

// TestTCPFlagsFilter: TcpFlags keeps the TCP packets with any of its
// flags, as Azure's own example asks (16, ACK); the filter was refused.
func TestTCPFlagsFilter(t *testing.T) {
	cfg, err := ParseFilterData(`{'Filters': [{'TcpFlags': 6, 'CaptureSingleDirectionTrafficOnly': true}]}`)
	if err != nil {
		t.Fatal(err)
	}
	c := Start(cfg)
	c.Packet(tcp4("10.1.0.4", "192.168.1.2", 5000, 443, 0x02))      // SYN
	c.Packet(tcp4("192.168.1.2", "10.1.0.4", 443, 5000, 0x12))      // SYN, ACK
	c.Packet(tcp4("10.1.0.4", "192.168.1.2", 5000, 443, 0x10))      // ACK
	c.Packet(tcp4("10.1.0.4", "192.168.1.2", 5000, 443, 0x14))      // RST, ACK
	c.Packet(udp4("10.1.0.4", "192.168.1.2", 5000, 53, 20))         // not TCP
	c.Packet(tcp4("10.1.0.4", "192.168.1.2", 5000, 443, 0x02)[:30]) // no flags in it
	if _, captured, _ := c.Stop(); captured != 3 {
		t.Errorf("TcpFlags 6 (SYN, RST) kept %d packets, want the 3 with SYN or RST", captured)
	}
	if _, err := ParseFilterData(`{'Filters': [{'SourceSubnets': ['20.1.1.0/24'], 'TcpFlags': 16}]}`); err != nil {
		t.Errorf("TcpFlags 16: %v", err)
	}
}

// udp6 is an IPv6 UDP packet to port 53 behind the extension headers
// ext, each given as its type and its bytes after the next-header byte.
func udp6(ext ...[]byte) []byte {
	p := make([]byte, 40)
	p[0] = 0x60
	copy(p[8:], netip.MustParseAddr("fd00::4").AsSlice())
	copy(p[24:], netip.MustParseAddr("fd01::2").AsSlice())
	next := &p[6]
	for _, e := range ext {
		*next = e[0]
		p = append(p, 0)
		next = &p[len(p)-1]
		p = append(p, e[1:]...)
	}
	*next = 17
	udp := make([]byte, 12)
	binary.BigEndian.PutUint16(udp[0:], 5000)
	binary.BigEndian.PutUint16(udp[2:], 53)
	return append(p, udp...)
}

// TestIPv6ExtensionHeaders: a protocol or port filter sees the transport
// behind IPv6's extension headers (a fragment's, hop-by-hop options); a
// fragment other than the first has no ports. They were read as the
// protocol, and such packets missed.
func TestIPv6ExtensionHeaders(t *testing.T) {
	cfg, err := ParseFilterData(`{"Filters":[{"Protocol":[17],"DestinationPort":[53],"CaptureSingleDirectionTrafficOnly":true}]}`)
	if err != nil {
		t.Fatal(err)
	}
	first := []byte{44, 0, 0, 1, 0, 0, 0, 7}       // offset 0, more fragments
	later := []byte{44, 0, 0x05, 0xa8, 0, 0, 0, 7} // offset 181
	hop := []byte{0, 0, 1, 4, 0, 0, 0, 0}          // a PadN option
	c := Start(cfg)
	c.Packet(udp6())
	c.Packet(udp6(first))
	c.Packet(udp6(hop, first))
	c.Packet(udp6(later))
	if _, captured, _ := c.Stop(); captured != 3 {
		t.Errorf("kept %d packets, want the 3 whose ports are in them", captured)
	}
}

// TestParseAzureExample: the filterData of Azure's REST API example (what
// SDK samples send), single quotes and a Protocol given as one number, is
// taken as Azure takes it.
func TestParseAzureExample(t *testing.T) {
	const example = `{'TracingFlags': 11,'MaxPacketBufferSize': 120,'MaxFileSize': 200,'Filters': [{'SourceSubnets': ['20.1.1.0/24'],'DestinationSubnets': ['10.1.1.0/24'],'SourcePort': [500],'DestinationPort': [4500],'Protocol': 6,'TcpFlags': -1,'CaptureSingleDirectionTrafficOnly': true}]}`
	cfg, err := ParseFilterData(example)
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Filters
	if cfg.SnapLen != 120 || cfg.MaxBytes != 200<<20 || len(f) != 1 || fmt.Sprint(f[0].Src, f[0].Dst, f[0].SrcPorts, f[0].DstPorts, f[0].Protocols) != "[20.1.1.0/24] [10.1.1.0/24] [500] [4500] [6]" || !f[0].OneWay {
		t.Errorf("Azure's example read as %+v", cfg)
	}
}

// tcpdump reads what a capture writes.
func TestTcpdumpReadsTheFile(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		if os.Getenv("VNETGW_REQUIRE_INTEROP") == "1" {
			t.Fatal("VNETGW_REQUIRE_INTEROP=1: needs tcpdump (scripts/install-deps.sh)")
		}
		t.Skip("needs tcpdump (scripts/install-deps.sh)")
	}
	c := Start(Config{})
	c.Packet(udp4("10.1.0.4", "192.168.1.2", 5000, 53, 10))
	file, _, _ := c.Stop()
	p := filepath.Join(t.TempDir(), "c.pcap")
	if err := os.WriteFile(p, file, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("tcpdump", "-nn", "-r", p).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "10.1.0.4.5000 > 192.168.1.2.53") {
		t.Fatalf("tcpdump -r: %v\n%s", err, out)
	}
}

func FuzzParseFilterData(f *testing.F) {
	f.Add(`{"TracingFlags":11,"MaxPacketBufferSize":120,"MaxFileSize":500,"Filters":[{"SourceSubnets":["10.19.0.4/32","10.20.0.4/32"],"DestinationSubnets":["10.20.0.4/32","10.19.0.4/32"],"TcpFlags":-1,"Protocol":[6],"CaptureSingleDirectionTrafficOnly":true}]}`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := ParseFilterData(s)
		if err != nil {
			return
		}
		c := Start(cfg)
		c.Packet(udp4("10.19.0.4", "10.20.0.4", 1, 2, 10))
		c.Stop()
	})
}

// FuzzPacket: any bytes as a packet, against filters that look at every
// field.
func FuzzPacket(f *testing.F) {
	f.Add(udp4("10.1.0.4", "192.168.1.2", 5000, 53, 10))
	f.Add([]byte{0x60, 0, 0, 0})
	cfg, err := ParseFilterData(`{"MaxPacketBufferSize":64,"MaxFileSize":1,"Filters":[{"SourceSubnets":["10.0.0.0/8","::/0"],"Protocol":[6,17],"SourcePort":[5000],"DestinationPort":[53]}]}`)
	if err != nil {
		f.Fatal(err)
	}
	c := Start(cfg)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		c.Packet(pkt)
	})
}

// A filter's list given as null is no list (any), as an absent one is:
// JSON writers such as PowerShell's ConvertTo-Json write the fields they
// have no value for as null.
func TestNullListsMatchAny(t *testing.T) {
	cfg, err := ParseFilterData(`{"MaxFileSize":null,"Filters":[{"SourceSubnets":null,"DestinationSubnets":["192.168.1.2"],"SourcePort":null,"DestinationPort":null,"Protocol":null,"TcpFlags":null,"CaptureSingleDirectionTrafficOnly":true}]}`)
	if err != nil {
		t.Fatal(err)
	}
	c := Start(cfg)
	c.Packet(udp4("10.1.0.4", "192.168.1.2", 5000, 53, 100))
	c.Packet(udp4("10.1.0.4", "192.168.1.3", 5000, 53, 100)) // another host
	if _, captured, _ := c.Stop(); captured != 1 {
		t.Errorf("captured %d packets with null lists, want 1: %+v", captured, cfg.Filters)
	}
}

// TestFileMemoryWithinMaxFileSize: a capture holds at most its
// MaxFileSize in memory, also once it is full: the file's buffer grows
// no further than the bound (a bytes.Buffer doubling held up to twice it,
// 512 MiB for a capture of 300).
func TestFileMemoryWithinMaxFileSize(t *testing.T) {
	for _, mib := range []int{1, 3, 5} {
		cfg, err := ParseFilterData(fmt.Sprintf(`{"MaxFileSize":%d}`, mib))
		if err != nil {
			t.Fatal(err)
		}
		c := Start(cfg)
		pkt := udp4("10.1.0.4", "192.168.1.2", 5000, 53, 1372)
		for range (mib<<20)/len(pkt) + 10 {
			c.Packet(pkt)
		}
		file, captured, missed := c.Stop()
		if missed == 0 || len(file) > mib<<20 || len(file)+16+len(pkt) <= mib<<20 {
			t.Errorf("MaxFileSize %d: %d bytes, %d packets, %d missed; want it full", mib, len(file), captured, missed)
		}
		if cap(file) > mib<<20 {
			t.Errorf("MaxFileSize %d MiB: %d bytes held in memory", mib, cap(file))
		}
	}
}

// TestParseFilterDataTypeErrorsNameJSON: a filterData field of the wrong
// JSON type is refused naming the field and the JSON it takes, as the
// API's own bodies are: the error showed Go's types (a struct with its
// field tags for a Filters that was not an array of objects, pcap.ints,
// pcap.filterData for a document that was not an object, with no field).
func TestParseFilterDataTypeErrorsNameJSON(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"Filters":"x"}`, "Filters must be an array of objects, not string"},
		{`{"Filters":[1]}`, "Filters must be an object, not number"}, // each filter
		{`{"Filters":[{"SourceSubnets":"10.0.0.0/8"}]}`, "Filters.SourceSubnets must be an array of strings, not string"},
		{`{"Filters":[{"Protocol":"TCP"}]}`, "Filters.Protocol must be an integer or an array of integers, not string"},
		{`{"Filters":[{"SourcePort":["80"]}]}`, "Filters.SourcePort must be an integer or an array of integers, not string"},
		{`{"Filters":[{"CaptureSingleDirectionTrafficOnly":"true"}]}`, "Filters.CaptureSingleDirectionTrafficOnly must be true or false, not string"},
		{`{"MaxFileSize":1.5}`, "MaxFileSize must be an integer, not number"},
		{`[]`, "filterData must be an object, not array"},
	} {
		_, err := ParseFilterData(c.in)
		if err == nil || !strings.HasSuffix(err.Error(), c.want) || strings.Contains(err.Error(), "pcap.") || strings.Contains(err.Error(), "struct") {
			t.Errorf("%s: %v; want it to end %q", c.in, err, c.want)
		}
	}
}

// TestFullFileKeepsNoMore: once a packet did not fit the file
// (MaxFileSize), no later one is kept, though a smaller one would fit: the
// file ends where the capture stopped keeping, rather than going on with
// the small packets (a TCP flow's ACKs) past the large ones it missed,
// which tcpdump and Wireshark would show as segments lost on the way.
func TestFullFileKeepsNoMore(t *testing.T) {
	cfg, err := ParseFilterData(`{"MaxFileSize":1}`)
	if err != nil {
		t.Fatal(err)
	}
	c := Start(cfg)
	data, ack := udp4("10.1.0.4", "192.168.1.2", 5000, 80, 1372), udp4("192.168.1.2", "10.1.0.4", 80, 5000, 12)
	for range 2000 {
		c.Packet(data)
		c.Packet(ack)
	}
	file, captured, missed := c.Stop()
	recs := records(t, file)
	if captured+missed != 4000 || len(recs) != int(captured) {
		t.Fatalf("%d captured, %d missed, %d records; want 4000 in all", captured, missed, len(recs))
	}
	// The records alternate data and ACK up to the first missed packet.
	for i, r := range recs {
		if want := [2]int{len(data), len(data)}; i%2 == 1 {
			want = [2]int{len(ack), len(ack)}
			if r != want {
				t.Fatalf("record %d of %d: %v, want an ACK %v: the file went on past a packet it missed", i, len(recs), r, want)
			}
		} else if r != want {
			t.Fatalf("record %d of %d: %v, want data %v", i, len(recs), r, want)
		}
	}
}
