package dataplane

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// announce sends gratuitous ARP for addr on the Ethernet interface ifname
// (RFC 5227 §3's ARP Announcement), so that neighbours that knew the
// address at another machine's MAC (a node that died while running this
// gateway) send to this one at once, rather than after their neighbour
// entries time out. Interfaces without an Ethernet address (lo) and IPv6
// addresses are left alone.
func announce(ifname string, addr netip.Addr) error {
	if !addr.Is4() {
		return nil
	}
	ifc, err := net.InterfaceByName(ifname)
	if err != nil {
		return err
	}
	if len(ifc.HardwareAddr) != 6 {
		return nil
	}
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_DGRAM, int(htons(syscall.ETH_P_ARP)))
	if err != nil {
		return fmt.Errorf("packet socket: %w", err)
	}
	defer syscall.Close(fd)
	// An ARP request whose sender and target are both addr, from our MAC.
	pkt := make([]byte, 28)
	binary.BigEndian.PutUint16(pkt[0:], 1)      // Ethernet
	binary.BigEndian.PutUint16(pkt[2:], 0x0800) // IPv4
	pkt[4], pkt[5] = 6, 4
	binary.BigEndian.PutUint16(pkt[6:], 1) // request
	copy(pkt[8:14], ifc.HardwareAddr)
	a := addr.As4()
	copy(pkt[14:18], a[:])
	copy(pkt[24:28], a[:])
	to := &syscall.SockaddrLinklayer{Protocol: htons(syscall.ETH_P_ARP), Ifindex: ifc.Index, Halen: 6,
		Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	return syscall.Sendto(fd, pkt, 0, to)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
