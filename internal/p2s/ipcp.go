package p2s

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/vnetgw/vnetgw/internal/wire/ppp"
	"github.com/vnetgw/vnetgw/internal/wire/sstp"
)

// dnsOptions are the IPCP options of the primary and the secondary DNS
// server (RFC 1877 §1.1, §1.3).
var dnsOptions = [2]uint8{ppp.OptPrimaryDNS, ppp.OptSecondaryDNS}

// sendIPCPRequest asks for our address (RFC 1332 §3.3): the server its
// own, unless the client rejected that, the client the one it was given
// (0.0.0.0 until then). The client asks for DNS servers too (RFC 1877),
// unless the server rejected that.
func (l *link) sendIPCPRequest() error {
	var opts []ppp.Option
	if !l.addrRejected {
		opts = append(opts, ppp.Option{Type: ppp.OptIPAddress, Value: orUnspecified(l.local).AsSlice()})
	}
	for i, t := range dnsOptions {
		if !l.server && !l.dnsRejected[i] {
			opts = append(opts, ppp.Option{Type: t, Value: orUnspecified(l.dnsGiven[i]).AsSlice()})
		}
	}
	l.ipcpReqID, l.ipcpReq = l.nextID(), ppp.AppendOptions(nil, opts)
	return l.writeIPCPRequest()
}

// writeIPCPRequest sends our IPCP request under ipcpReqID: a
// retransmission on the Restart timer keeps its Identifier and options
// (RFC 1661 §5.1), so that a late answer to the first is taken.
func (l *link) writeIPCPRequest() error {
	l.ipcpSent = time.Now()
	return l.writePPP(ppp.ProtoIPCP, ppp.Packet{Code: ppp.ConfReq, ID: l.ipcpReqID, Data: l.ipcpReq}.Append(nil))
}

// ipcpWaiting reports whether the Restart timer of our IPCP request
// runs: IPCP is not open, in Req-Sent, Ack-Rcvd or Ack-Sent (RFC 1661
// §4.2), nor Stopped.
func (l *link) ipcpWaiting() bool { return !(l.ipcpOurs && l.ipcpPeers) && !l.ipcpSent.IsZero() }

// askIPCPAgain sends a new IPCP request after the peer Naked or
// Rejected ours, unless Max-Configure requests have been refused (RFC
// 1661 §4.6, the Restart counter): a peer that never acknowledges ends
// the link, as LCP's does, the gateway's with CALL_ABORT.
func (l *link) askIPCPAgain() error {
	if l.ipcpTries++; l.ipcpTries >= maxConfigure {
		if l.server {
			l.abortStatus(sstp.StatusRetryCountExceeded)
			return fmt.Errorf("IPCP does not converge: the client refused %d of the gateway's requests for its address (%v)", maxConfigure, l.local)
		}
		return fmt.Errorf("IPCP does not converge: the gateway refused %d requests for an address", maxConfigure)
	}
	return l.sendIPCPRequest()
}

func orUnspecified(a netip.Addr) netip.Addr {
	if !a.IsValid() {
		return netip.IPv4Unspecified()
	}
	return a
}

// serverDNS returns the DNS server the server gives for IPCP option t,
// and whether it has one.
func (l *link) serverDNS(t uint8) (netip.Addr, bool) {
	for i, o := range dnsOptions {
		if o == t && i < len(l.dns) {
			return l.dns[i], true
		}
	}
	return netip.Addr{}, false
}

// handleIPCP negotiates the addresses: the server gives the client its
// address from the pool with a Nak (RFC 1332 §3.3) and names its own.
func (l *link) handleIPCP(info []byte) error {
	if !l.authed {
		return nil // RFC 1661 §3.5: network protocols wait for authentication
	}
	p, err := ppp.ParsePacket(info)
	if err != nil {
		return nil
	}
	if answer := p.Code == ppp.ConfAck || p.Code == ppp.ConfNak || p.Code == ppp.ConfRej; answer && (p.ID != l.ipcpReqID || l.ipcpOurs) {
		// RFC 1661 §5.2-5.4: an answer to another request than our last
		// is silently discarded; so is one after our request was
		// acknowledged, as LCP's.
		l.log.Debug("IPCP answer to another request than the last discarded", "code", p.Code, "id", p.ID, "last", l.ipcpReqID)
		return nil
	}
	if !answerValid(p, l.ipcpReq) {
		// RFC 1661 §5.2, §5.4: invalid packets are silently discarded.
		l.log.Debug("IPCP answer with other options than the last request's discarded", "code", p.Code, "options", fmt.Sprintf("% x", p.Data), "request", fmt.Sprintf("% x", l.ipcpReq))
		return nil
	}
	switch p.Code {
	case ppp.ConfReq:
		opts, err := ppp.ParseOptions(p.Data)
		if err != nil {
			return nil
		}
		opened := l.ipcpOurs && l.ipcpPeers
		// The peer's request is open only once this one is Acked (RFC
		// 1661 §4.1: RCR- in Ack-Sent goes to Req-Sent).
		l.ipcpPeers = false
		switch {
		case l.ipcpStopped:
			// RFC 1661 §4.1: in Stopped, a Configure-Request is
			// answered and ours goes out again (irc, scr), under the
			// Restart timer. Terminating and starting over takes the
			// data path down as a request while open does, and counts
			// as a renegotiation: a loop of the two is bounded alike.
			if err := l.renegotiated(&l.ipcpRenegs, "IPCP", "IPCP is"); err != nil {
				return err
			}
			l.ipcpStopped, l.ipcpTries = false, 0
			if err := l.sendIPCPRequest(); err != nil {
				return err
			}
		case opened:
			// RFC 1661 §4.1: in Opened, a Configure-Request takes the
			// layer down and ours goes out again (tld, scr) before the
			// answer. Down is the data path's only: the gateway keeps
			// the client's place and address, which its request names.
			if err := l.renegotiated(&l.ipcpRenegs, "IPCP", "IPCP is"); err != nil {
				return err
			}
			l.ipcpOurs = false
			l.checkUp()
			if err := l.sendIPCPRequest(); err != nil {
				return err
			}
		}
		var rej, nak []ppp.Option
		// RFC 1661 §4.6: after Max-Failure Naks without an Ack, what
		// the server would Nak it rejects instead, as the client sent it.
		failed := l.server && l.ipcpNaks >= maxFailure
		addrFailed := false
		refuse := func(o, want ppp.Option) {
			if failed {
				rej = append(rej, o)
				addrFailed = addrFailed || o.Type == ppp.OptIPAddress
				return
			}
			nak = append(nak, want)
		}
		for _, o := range opts {
			if l.server && len(o.Value) == 4 && (o.Type == ppp.OptPrimaryDNS || o.Type == ppp.OptSecondaryDNS) {
				// RFC 1877: the client asks for a DNS server; it gets
				// the VNet's with a Nak, or a Reject without one.
				switch d, ok := l.serverDNS(o.Type); {
				case !ok:
					rej = append(rej, o)
				case netip.AddrFrom4([4]byte(o.Value)) != d:
					refuse(o, ppp.Option{Type: o.Type, Value: d.AsSlice()})
				}
				continue
			}
			if o.Type != ppp.OptIPAddress || len(o.Value) != 4 {
				rej = append(rej, o)
				continue
			}
			a := netip.AddrFrom4([4]byte(o.Value))
			switch {
			case l.server && a != l.peer:
				refuse(o, ppp.Option{Type: ppp.OptIPAddress, Value: l.peer.AsSlice()})
			case !l.server:
				l.peer = a
			}
		}
		if l.server && !slices.ContainsFunc(opts, func(o ppp.Option) bool { return o.Type == ppp.OptIPAddress }) {
			// RFC 1332 §3.3: the client's address is the server's to
			// give; a request without it is Naked with it (SHOULD), or
			// else the client never learns the one its packets must
			// come from.
			if failed {
				l.writeControl(sstp.Control{Type: sstp.MsgCallAbort})
				return fmt.Errorf("IPCP does not converge: the client left its address (%v) out of its request after %d Naks", l.peer, maxFailure)
			}
			nak = append(nak, ppp.Option{Type: ppp.OptIPAddress, Value: l.peer.AsSlice()})
		}
		switch {
		case addrFailed:
			// The client's place comes with its address, and the server
			// has no other to give: a client that asks for another
			// after Max-Failure Naks is not going to take it.
			l.writePPP(ppp.ProtoIPCP, ppp.Packet{Code: ppp.ConfRej, ID: p.ID, Data: ppp.AppendOptions(nil, rej)}.Append(nil))
			l.writeControl(sstp.Control{Type: sstp.MsgCallAbort})
			return fmt.Errorf("IPCP does not converge: the client asked for another address than its own (%v) after %d Naks", l.peer, maxFailure)
		case len(rej) > 0:
			return l.writePPP(ppp.ProtoIPCP, ppp.Packet{Code: ppp.ConfRej, ID: p.ID, Data: ppp.AppendOptions(nil, rej)}.Append(nil))
		case len(nak) > 0:
			l.ipcpNaks++
			return l.writePPP(ppp.ProtoIPCP, ppp.Packet{Code: ppp.ConfNak, ID: p.ID, Data: ppp.AppendOptions(nil, nak)}.Append(nil))
		}
		l.ipcpPeers, l.ipcpNaks = true, 0
		if l.ipcpOurs {
			l.ipcpTries = 0 // IPCP is open: the Restart counter starts over (restartTimeout)
		}
		defer l.checkUp()
		return l.writePPP(ppp.ProtoIPCP, ppp.Packet{Code: ppp.ConfAck, ID: p.ID, Data: p.Data}.Append(nil))
	case ppp.ConfAck:
		l.ipcpOurs = true
		if l.ipcpPeers {
			l.ipcpTries = 0 // IPCP is open: the Restart counter starts over (restartTimeout)
		}
		l.checkUp()
	case ppp.ConfNak:
		if l.server {
			// The gateway's address is fixed: a client that Naks it
			// (RFC 1332 §3.3) is asked again for the same, up to
			// Max-Configure times, and then the call ends.
			l.log.Debug("the client Naked the gateway's IPCP request", "options", fmt.Sprintf("% x", p.Data))
			return l.askIPCPAgain()
		}
		opts, err := ppp.ParseOptions(p.Data)
		if err != nil {
			return nil
		}
		for _, o := range opts {
			if len(o.Value) != 4 {
				continue
			}
			a := netip.AddrFrom4([4]byte(o.Value))
			switch o.Type {
			case ppp.OptIPAddress:
				l.local = a
			case ppp.OptPrimaryDNS:
				l.dnsGiven[0] = a
			case ppp.OptSecondaryDNS:
				l.dnsGiven[1] = a
			}
		}
		return l.askIPCPAgain()
	case ppp.ConfRej:
		// The server gives no such DNS server: ask without (RFC 1661
		// §5.4); an address option rejected is the end of the client's
		// link, and the gateway, whose address the client need not
		// know on a point-to-point link, names it no more.
		opts, err := ppp.ParseOptions(p.Data)
		if err != nil {
			return nil
		}
		for _, o := range opts {
			switch o.Type {
			case ppp.OptIPAddress:
				if !l.server {
					return fmt.Errorf("the gateway rejected IPCP option %d", o.Type)
				}
				l.addrRejected = true
			case ppp.OptPrimaryDNS:
				l.dnsRejected[0] = true
			case ppp.OptSecondaryDNS:
				l.dnsRejected[1] = true
			default:
				return fmt.Errorf("the gateway rejected IPCP option %d", o.Type)
			}
		}
		return l.askIPCPAgain()
	case ppp.TermReq:
		l.writePPP(ppp.ProtoIPCP, ppp.Packet{Code: ppp.TermAck, ID: p.ID}.Append(nil))
		if l.ipcpWaiting() {
			// RFC 1661 §4.1: RTR in Req-Sent, Ack-Rcvd and Ack-Sent is sta, to Req-Sent.
			l.ackForgotten(&l.ipcpOurs, &l.ipcpReqID)
			l.ipcpPeers = false
			return nil
		}
		// The peer closes IPCP: ours is not sent again until it asks.
		l.ipcpOurs, l.ipcpPeers, l.ipcpSent, l.ipcpStopped = false, false, time.Time{}, true
		l.checkUp()
	case ppp.TermAck:
		switch {
		case l.ipcpOurs && l.ipcpPeers:
			// RFC 1661 §4.1: RTA in Opened is tld, scr, to Req-Sent. The
			// data path goes down as when the peer renegotiates, and
			// counts alike.
			if err := l.renegotiated(&l.ipcpRenegs, "IPCP", "IPCP is"); err != nil {
				return err
			}
			l.ipcpOurs, l.ipcpPeers = false, false
			l.checkUp()
			return l.sendIPCPRequest()
		case l.ipcpOurs:
			// RFC 1661 §4.1: RTA in Ack-Rcvd is to Req-Sent.
			l.ackForgotten(&l.ipcpOurs, &l.ipcpReqID)
		}
	case ppp.CodeRej:
		// IPCP's Codes are 1 to 7, each fundamental (RFC 1661 §5.6).
		if len(p.Data) > 0 && fundamental(p.Data[0]) {
			return l.rejected(fmt.Sprintf("IPCP code %d (Code-Reject)", p.Data[0]))
		}
		if !l.ipcpPeers {
			l.ackForgotten(&l.ipcpOurs, &l.ipcpReqID) // RFC 1661 §4.1: RXJ+ in Ack-Rcvd is to Req-Sent
		}
	default:
		// RFC 1332 §2: other Codes are unrecognized, and get a Code-Reject
		// (RFC 1661 §5.6: MUST).
		return l.sendReject(ppp.ProtoIPCP, ppp.CodeRej, info[:p.Len()])
	}
	return nil
}
