package region

import (
	"context"
	"strings"

	"github.com/vnetgw/vnetgw/internal/arm"
)

// Precondition is what a write requires of the resource it writes, from
// the request's If-Match and If-None-Match headers (RFC 9110 §13.1.1,
// §13.1.2), as ARM takes them: a list of etags, or * for any. It makes a
// read-modify-write safe against another writer in between: the write
// fails with 412 PreconditionFailed instead of undoing the other's.
type Precondition struct {
	ID          arm.ID // the resource written
	IfMatch     string // its etag must be one of these; * : it must exist
	IfNoneMatch string // its etag must be none of these; * : it must not exist
}

type preconditionKey struct{}

// WithPrecondition returns ctx carrying p: the write made with ctx is
// done only if p holds, checked in the write's transaction.
func WithPrecondition(ctx context.Context, p Precondition) context.Context {
	return context.WithValue(ctx, preconditionKey{}, p)
}

// withoutPrecondition returns ctx without the precondition it carries:
// for a write that follows the one the precondition was checked by.
func withoutPrecondition(ctx context.Context) context.Context {
	return context.WithValue(ctx, preconditionKey{}, nil)
}

// checkPrecondition checks the precondition ctx carries, if any, against
// the state tx sees.
func checkPrecondition(ctx context.Context, tx *txn) error {
	p, ok := ctx.Value(preconditionKey{}).(Precondition)
	if !ok {
		return nil
	}
	etag, exists := currentEtag(tx, p.ID)
	if p.IfMatch != "" && !(exists && matchesEtag(p.IfMatch, etag)) {
		if !exists {
			if kindOfID(p.ID) != arm.TypeResourceGroup {
				// A missing group is the answer, as ARM gives it.
				if _, err := requireGroup(tx, p.ID); err != nil {
					return err
				}
			}
			return arm.Errorf(arm.CodePreconditionFailed, "If-Match: %s %s does not exist", p.ID.Type(), p.ID.Name())
		}
		return arm.Errorf(arm.CodePreconditionFailed, "If-Match: %s %s has etag %s now, not %s: it changed since it was read", p.ID.Type(), p.ID.Name(), etag, p.IfMatch)
	}
	if p.IfNoneMatch != "" && exists && matchesEtag(p.IfNoneMatch, etag) {
		if strings.TrimSpace(p.IfNoneMatch) == "*" {
			return arm.Errorf(arm.CodePreconditionFailed, "If-None-Match: * : %s %s exists already", p.ID.Type(), p.ID.Name())
		}
		return arm.Errorf(arm.CodePreconditionFailed, "If-None-Match: %s %s has etag %s", p.ID.Type(), p.ID.Name(), etag)
	}
	return nil
}

// matchesEtag reports whether a header's list of etags (or *) names etag;
// a resource without one (a resource group) matches * alone.
// ARM's etags are weak (W/"..."); they are compared as the opaque tags
// they carry, weakly (RFC 9110 §8.8.3.2), which is how ARM honours them
// in If-Match too.
func matchesEtag(list, etag string) bool {
	for t := range strings.SplitSeq(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || opaqueTag(t) != "" && opaqueTag(t) == opaqueTag(etag) {
			return true
		}
	}
	return false
}

// opaqueTag is an etag without its weakness indicator.
func opaqueTag(t string) string { return strings.TrimPrefix(t, "W/") }

// currentEtag returns the etag of the resource with id as tx sees it,
// and whether it exists. A NAT rule carries its gateway's etag, a route
// its table's.
func currentEtag(tx *txn, id arm.ID) (string, bool) {
	switch {
	case strings.EqualFold(id.Type(), arm.TypeSubnet):
		v := get[arm.VirtualNetwork](tx, arm.TypeVirtualNetwork, id.Parent())
		if v == nil {
			return "", false
		}
		for _, s := range v.Properties.Subnets {
			if strings.EqualFold(s.Name, id.Name()) {
				return s.Etag, true
			}
		}
		return "", false
	case strings.EqualFold(id.Type(), arm.TypeRoute):
		t := get[arm.RouteTable](tx, arm.TypeRouteTable, id.Parent())
		if t == nil || routeOf(t, id.Name()) == nil {
			return "", false
		}
		return t.Etag, true
	case strings.EqualFold(id.Type(), arm.TypeNatRule):
		g := get[arm.VirtualNetworkGateway](tx, arm.TypeVirtualNetworkGateway, id.Parent())
		if g == nil {
			return "", false
		}
		for _, x := range g.Properties.NatRules {
			if strings.EqualFold(x.Name, id.Name()) {
				return g.Etag, true
			}
		}
		return "", false
	}
	doc := tx.get(kindOfID(id), id.Key())
	if doc == nil {
		return "", false
	}
	if res := resourceOf(doc); res != nil {
		return res.Etag, true
	}
	return "", true
}
