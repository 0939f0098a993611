package p2s

import (
	"net/netip"

	"github.com/vnetgw/vnetgw/internal/wire/ppp"
)

// sendIPCPRequest asks for our address (RFC 1332 §3.3): the server its
// own, the client the one it was given (0.0.0.0 until then).
func (l *link) sendIPCPRequest() error {
	a := l.local
	if !a.IsValid() {
		a = netip.IPv4Unspecified()
	}
	opts := []ppp.Option{{Type: ppp.OptIPAddress, Value: a.AsSlice()}}
	return l.writePPP(ppp.ProtoIPCP, ppp.Packet{Code: ppp.ConfReq, ID: l.nextID(), Data: ppp.AppendOptions(nil, opts)}.Append(nil))
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
	switch p.Code {
	case ppp.ConfReq:
		opts, err := ppp.ParseOptions(p.Data)
		if err != nil {
			return nil
		}
		var rej, nak []ppp.Option
		for _, o := range opts {
			if o.Type != ppp.OptIPAddress || len(o.Value) != 4 {
				rej = append(rej, o)
				continue
			}
			a := netip.AddrFrom4([4]byte(o.Value))
			switch {
			case l.server && a != l.peer:
				nak = append(nak, ppp.Option{Type: ppp.OptIPAddress, Value: l.peer.AsSlice()})
			case !l.server:
				l.peer = a
			}
		}
		switch {
		case len(rej) > 0:
			return l.writePPP(ppp.ProtoIPCP, ppp.Packet{Code: ppp.ConfRej, ID: p.ID, Data: ppp.AppendOptions(nil, rej)}.Append(nil))
		case len(nak) > 0:
			return l.writePPP(ppp.ProtoIPCP, ppp.Packet{Code: ppp.ConfNak, ID: p.ID, Data: ppp.AppendOptions(nil, nak)}.Append(nil))
		}
		l.ipcpPeers = true
		defer l.checkUp()
		return l.writePPP(ppp.ProtoIPCP, ppp.Packet{Code: ppp.ConfAck, ID: p.ID, Data: p.Data}.Append(nil))
	case ppp.ConfAck:
		l.ipcpOurs = true
		l.checkUp()
	case ppp.ConfNak:
		if l.server {
			return nil
		}
		opts, err := ppp.ParseOptions(p.Data)
		if err != nil {
			return nil
		}
		for _, o := range opts {
			if o.Type == ppp.OptIPAddress && len(o.Value) == 4 {
				l.local = netip.AddrFrom4([4]byte(o.Value))
			}
		}
		return l.sendIPCPRequest()
	case ppp.TermReq:
		l.writePPP(ppp.ProtoIPCP, ppp.Packet{Code: ppp.TermAck, ID: p.ID}.Append(nil))
		l.ipcpOurs, l.ipcpPeers = false, false
		l.checkUp()
	}
	return nil
}
