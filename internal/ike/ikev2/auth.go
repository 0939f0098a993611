package ikev2

import (
	"fmt"
	"time"

	"github.com/vnetgw/vnetgw/internal/sparselog"

	"github.com/vnetgw/vnetgw/internal/ike/suite"
	wire "github.com/vnetgw/vnetgw/internal/wire/ikev2"
)

// authData returns the AUTH data of a signer (RFC 7296 §2.15): the
// pre-shared key MAC over its IKE_SA_INIT message, the other side's nonce
// and prf(SK_px, ID body).
func (sa *ikeSA) authData(message, nonce []byte, skp suite.Key, id *wire.ID) ([]byte, error) {
	signed, err := suite.SignedOctets(sa.suite.PRF, message, nonce, skp, id.AppendBody(nil))
	if err != nil {
		return nil, err
	}
	return suite.PSKAuth(sa.suite.PRF, sa.cfg().PSK, signed)
}

// verifyAuth checks the peer's AUTH payload (RFC 7296 §2.15).
func (sa *ikeSA) verifyAuth(message, nonce []byte, skp suite.Key, id *wire.ID, auth *wire.Auth) bool {
	if auth.Method != wire.AuthSharedKeyMIC {
		return false
	}
	signed, err := suite.SignedOctets(sa.suite.PRF, message, nonce, skp, id.AppendBody(nil))
	return err == nil && suite.VerifyPSKAuth(sa.suite.PRF, sa.cfg().PSK, signed, auth.Data)
}

// sendAuth sends the IKE_AUTH request with the first child SA (RFC 7296
// §1.2).
func (sa *ikeSA) sendAuth() {
	cfg := sa.cfg()
	idi := cfg.LocalID.payload(false)
	auth, err := sa.authData(sa.initReq, sa.nr, sa.keys.PI, idi)
	if err != nil {
		sa.log.Error("computing AUTH", sa.logAttrs(), "err", err)
		sa.kill("no AUTH")
		return
	}
	ps := []wire.Payload{idi}
	if sa.c.established() == nil {
		// RFC 7296 §2.4: no other IKE SA with this peer is up.
		ps = append(ps, &wire.Notify{NotifyType: wire.InitialContact})
	}
	ps = append(ps, &wire.Auth{Method: wire.AuthSharedKeyMIC, Data: auth})
	ch := &child{cfgIndex: 0, inSPI: sa.c.m.newESPSPI(sa.c)}
	sa.pendingChild = ch
	cc := cfg.Children[0]
	ch.proposedLocal, ch.proposedRemote = prefixSelectors(cc.LocalTS), prefixSelectors(cc.RemoteTS)
	// RFC 7296 §1.2: the SA of IKE_AUTH has no Diffie-Hellman transform.
	ps = append(ps, saPayload(cfg.ESPProposals, spi4(ch.inSPI), false),
		tsPayload(false, ch.proposedLocal), tsPayload(true, ch.proposedRemote))
	sa.state = stateAuthSent
	sa.request(wire.IKEAuth, "the authentication (IKE_AUTH)", ps, func(resp []wire.Payload) { sa.authResponse(resp, ch) })
}

// authResponse processes the IKE_AUTH response as initiator.
func (sa *ikeSA) authResponse(ps []wire.Payload, ch *child) {
	idr, ok1 := find[*wire.ID](ps)
	auth, ok2 := find[*wire.Auth](ps)
	fail := func(format string, args ...any) {
		sa.c.lastError = fmt.Sprintf(format, args...)
		sa.authFailed("IKE_AUTH failed")
		sa.kill("IKE_AUTH failed")
	}
	switch {
	case !ok1 || !ok2:
		if n := errorNotify(ps); n != nil && n.NotifyType == wire.AuthenticationFailed {
			// RFC 7296 §2.21.2: the responder did not accept our AUTH or identity.
			fail("peer answered AUTHENTICATION_FAILED: it did not accept our identity %s or our pre-shared key", sa.cfg().LocalID)
		} else if n != nil {
			fail("peer answered %v", n.NotifyType)
		} else {
			fail("IKE_AUTH response without IDr and AUTH")
		}
		return
	case !idr.Responder || !sa.cfg().acceptsID(Identity{Type: idr.IDType, Data: idr.Data}):
		fail("peer identity %v, want %s", Identity{Type: idr.IDType, Data: idr.Data}, sa.cfg().wantedID())
		return
	case !sa.verifyAuth(sa.initResp, sa.ni, sa.keys.PR, idr, auth):
		// RFC 7296 §2.15: the peer must prove it knows the key.
		fail("peer's AUTH does not verify (pre-shared key mismatch)")
		return
	}
	now := time.Now()
	sa.establish(now)
	sa.log.Info("IKE SA established", sa.logAttrs(), "proposal", sa.suite, "local", sa.local, "remote", sa.remote)
	sa.pendingChild = nil
	if err := sa.completeChild(ps, ch, sa.ni, sa.nr, nil, true); err != nil {
		sa.c.m.releaseSPIs(0, ch.inSPI)
		sa.c.lastError = "first child SA: " + err.Error()
		sa.log.Warn("child SA not established", sa.logAttrs(), "err", err)
		sa.retryChild(ch.cfgIndex, childRetryDelay)
	}
	for i := 1; i < len(sa.cfg().Children); i++ {
		sa.queueCreateChild(i)
	}
}

// handleAuthRequest processes the IKE_AUTH request as responder and returns
// the response.
func (sa *ikeSA) handleAuthRequest(ps []wire.Payload) []wire.Payload {
	if sa.c.client != nil {
		return sa.handleClientAuth(ps)
	}
	if resp, ok := sa.handToClient(ps); ok {
		return resp
	}
	idi, ok1 := find[*wire.ID](ps)
	auth, ok2 := find[*wire.Auth](ps)
	fail := func(format string, args ...any) []wire.Payload {
		sa.c.lastError = fmt.Sprintf(format, args...)
		sa.authFailed("peer authentication failed")
		sa.killAfterResponse = true
		// RFC 7296 §2.21.2: the responder says AUTHENTICATION_FAILED.
		return []wire.Payload{&wire.Notify{NotifyType: wire.AuthenticationFailed}}
	}
	switch {
	case !ok1 || !ok2 || idi.Responder:
		sa.killAfterResponse = true
		return []wire.Payload{&wire.Notify{NotifyType: wire.InvalidSyntax}}
	case !sa.cfg().acceptsID(Identity{Type: idi.IDType, Data: idi.Data}):
		return fail("peer identity %v, want %s", Identity{Type: idi.IDType, Data: idi.Data}, sa.cfg().wantedID())
	case !sa.verifyAuth(sa.initReq, sa.nr, sa.keys.PI, idi, auth):
		return fail("peer's AUTH does not verify (pre-shared key mismatch)")
	}
	idr := sa.cfg().LocalID.payload(true)
	authR, err := sa.authData(sa.initResp, sa.ni, sa.keys.PR, idr)
	if err != nil {
		sa.killAfterResponse = true
		return []wire.Payload{&wire.Notify{NotifyType: wire.AuthenticationFailed}}
	}
	sa.establish(time.Now())
	sa.log.Info("IKE SA established", sa.logAttrs(), "proposal", sa.suite, "local", sa.local, "remote", sa.remote)
	if notify(ps, wire.InitialContact) != nil {
		sa.c.replaceOthers(sa)
	}
	resp := []wire.Payload{idr, &wire.Auth{Method: wire.AuthSharedKeyMIC, Data: authR}}
	if _, ok := find[*wire.SA](ps); ok {
		resp = append(resp, sa.acceptChild(ps, sa.ni, sa.nr, true)...)
	}
	return resp
}

// maxAuthLines bounds the lines authFailed counts for a connection: the
// peer's identity in one comes from whoever does IKE_SA_INIT from the
// peer's address.
const maxAuthLines = 8

// authFailed logs msg with the connection's lastError at Warn, the same
// line once a minute at most (sparselog.Every) until an IKE SA is
// established, with the count of those only logged at Debug since
// ("suppressed"): a peer with another key fails the same way on every
// attempt, both as initiator and as responder.
func (sa *ikeSA) authFailed(msg string) {
	c := sa.c
	key := msg + "\x00" + c.lastError
	l := c.authLines[key]
	if l == nil {
		if c.authLines == nil || len(c.authLines) >= maxAuthLines {
			c.authLines = map[string]*sparselog.Log{}
		}
		l = &sparselog.Log{}
		c.authLines[key] = l
	}
	l.Count(1)
	n, log := l.Due()
	switch {
	case !log:
		sa.log.Debug(msg, sa.logAttrs(), "err", c.lastError)
	case n > 1:
		sa.log.Warn(msg, sa.logAttrs(), "err", c.lastError, "suppressed", n-1)
	default:
		sa.log.Warn(msg, sa.logAttrs(), "err", c.lastError)
	}
}
