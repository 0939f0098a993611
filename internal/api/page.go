package api

import (
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/region"
)

// PageSize is how many items a list answers at most; a longer list ends
// with a nextLink to the next page, as ARM's do.
const PageSize = 1000

// Paging follows ARM's resource provider contract: a list answers at most a
// page of items and a nextLink, the URL the client asks next (with
// $skipToken, an opaque token of ours), until a page has none. The token
// names the key (lower-cased id) of the last item given, not an offset,
// so that a list written to meanwhile neither repeats nor skips what did
// not change.

// skipTokenPrefix marks (and versions) the tokens vnetgw makes.
const skipTokenPrefix = "v1:"

// skipToken returns the $skipToken that goes on after key.
func skipToken(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(skipTokenPrefix + key))
}

// page reads the $skipToken and, for the lists that take one, $top of a
// list request rt: the part of the list it asks for. A token that is none
// of ours, or ours for another list, is refused.
func (h *Handler) page(r *http.Request, rt route) (region.Page, error) {
	p := region.Page{Max: h.pageSize}
	q := r.URL.Query()
	if tok := queryFold(q, "$skipToken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		key, ours := strings.CutPrefix(string(b), skipTokenPrefix)
		if err != nil || !ours || !inList(key, rt) {
			return p, &arm.Error{Code: arm.CodeInvalidParameter, Target: "$skipToken",
				Message: "the $skipToken is not one this list gave: follow the nextLink of the list's last page as it is, or list again from the start without it"}
		}
		p.After = key
	}
	// Microsoft.Resources' lists (of resource groups, of resources of
	// every type) take $top, the most items a page holds, and $filter;
	// Microsoft.Network's lists take neither.
	if rt.kind != arm.TypeResourceGroup && rt.kind != kindResources {
		return p, nil
	}
	if s := queryFold(q, "$top"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return p, &arm.Error{Code: arm.CodeInvalidParameter, Target: "$top", Message: "$top must be a positive whole number of items"}
		}
		p.Max = min(n, p.Max)
	}
	f := queryFold(q, "$filter")
	if f == "" {
		return p, nil
	}
	if rt.kind == kindResources {
		where, err := resourceFilter(f)
		if err != nil {
			return p, err
		}
		if where != nil {
			p.Where = where
			return p, nil
		}
	}
	m := tagFilterRE.FindStringSubmatch(f)
	if m == nil {
		return p, arm.Errorf(arm.CodeInvalidFilter, "Invalid $filter '%s' specified in the query string: resource groups are filtered by tag, tagName eq 'NAME' or tagName eq 'NAME' and tagValue eq 'VALUE'", f)
	}
	name, value, byValue := strings.ReplaceAll(m[1], "''", "'"), strings.ReplaceAll(m[3], "''", "'"), m[2] != ""
	p.Tagged = func(tags map[string]string) bool {
		// Tag names compare in any case, as ARM's; values as given.
		for k, v := range tags {
			if strings.EqualFold(k, name) && (!byValue || v == value) {
				return true
			}
		}
		return false
	}
	return p, nil
}

// tagFilterRE is the $filter a list of resource groups takes (OData: a
// quote inside a string is written twice).
var tagFilterRE = regexp.MustCompile(`(?i)^\s*tagName\s+eq\s+'((?:[^']|'')*)'\s*(and\s+tagValue\s+eq\s+'((?:[^']|'')*)'\s*)?$`)

// resourceClauseRE is one clause of the $filter of a list of every type:
// a property, eq, and a quoted string (OData: a quote inside it written
// twice), then "and" and the next clause, or the end.
var resourceClauseRE = regexp.MustCompile(`(?i)^\s*(resourceType|name|location)\s+eq\s+'((?:[^']|'')*)'\s*(?:(and)\s+|$)`)

// resourceFilter reads the $filter of a list of every type: clauses
// resourceType eq 'T', name eq 'N' and location eq 'L' joined by "and",
// each compared in any case, as ARM compares types, names and locations.
// A filter by tag alone gives nil, for the tag filter to read; anything
// else is refused.
func resourceFilter(f string) (func(typ, name, location string) bool, error) {
	if tagFilterRE.MatchString(f) {
		return nil, nil
	}
	want := map[string]string{}
	for rest := f; rest != ""; {
		m := resourceClauseRE.FindStringSubmatch(rest)
		if m == nil || m[3] != "" && len(m[0]) == len(rest) {
			return nil, arm.Errorf(arm.CodeInvalidFilter, "Invalid $filter '%s' specified in the query string: resources are filtered by resourceType eq 'TYPE', name eq 'NAME' and location eq 'LOCATION', joined by and, or by tag alone: tagName eq 'NAME' [and tagValue eq 'VALUE']", f)
		}
		want[strings.ToLower(m[1])] = strings.ReplaceAll(m[2], "''", "'")
		rest = rest[len(m[0]):]
	}
	return func(typ, name, location string) bool {
		for k, v := range map[string]string{"resourcetype": typ, "name": name, "location": location} {
			if w, ok := want[k]; ok && !strings.EqualFold(w, v) {
				return false
			}
		}
		return true
	}, nil
}

// inList reports whether key is the key of an item that list rt holds:
// a resource of its kind directly in its scope (a subscription, a resource
// group, a parent resource); a subnet of the VNet for its usages; a
// connection, of any group, for a gateway's connections.
// For a list of every type, a top-level resource of any type served.
func inList(key string, rt route) bool {
	id, err := arm.ParseID(key)
	if err != nil || id.Key() != key {
		return false
	}
	if rt.kind == kindResources {
		// A top-level resource of a type served, in the list's scope.
		if len(id.Types) != 1 || !strings.EqualFold(id.Namespace, arm.NamespaceNetwork) || networkTypes[strings.ToLower(id.Types[0])] == "" {
			return false
		}
		if rt.id.ResourceGroup == "" {
			return strings.EqualFold(id.Subscription, rt.id.Subscription)
		}
		return id.Parent().Key() == rt.id.Key()
	}
	switch rt.sub {
	case "usages":
		return strings.EqualFold(id.Type(), arm.TypeSubnet) && id.Parent().Key() == rt.id.Key()
	case "connections":
		return strings.EqualFold(id.Type(), arm.TypeConnection)
	}
	if !strings.EqualFold(id.Type(), rt.kind) {
		return false
	}
	if rt.id.ResourceGroup == "" && rt.kind != arm.TypeResourceGroup {
		return strings.EqualFold(id.Subscription, rt.id.Subscription)
	}
	return id.Parent().Key() == rt.id.Key()
}

// queryFold returns the value of query parameter name, matched in any
// case (ARM's OData parameters come as $skipToken and $skiptoken).
func queryFold(q url.Values, name string) string {
	for k, v := range q {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// nextLink is the URL of the page after key: the request's, with the
// $skipToken that goes on after key.
func (h *Handler) nextLink(r *http.Request, key string) string {
	q := r.URL.Query()
	for k := range q {
		if strings.EqualFold(k, "$skipToken") {
			q.Del(k)
		}
	}
	q.Set("$skipToken", skipToken(key))
	return h.base(r) + r.URL.EscapedPath() + "?" + q.Encode()
}

// base is the scheme and authority of the absolute URLs the API gives a
// client to come back to (a nextLink, a 202's Location, which the Azure
// SDKs follow as they are, sending their bearer token there; a download's,
// whose name is its credential). It is the Host
// the client sent when that is one of the API's own names (ownHost: one
// its certificate names), so that a client that reached the API by any of
// them, or through a port forwarded to it, comes back the same way;
// otherwise the API's configured endpoint. A Host header is the client's
// to choose, or a proxy's: reflected as it is, a forged one would send
// the token to a host of the forger's choosing. A host the certificate
// names is safe to send it to whatever the port, as only vnetgw (or the
// operator's own CA) holds a certificate for it that the client trusts.
func (h *Handler) base(r *http.Request) string {
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	// HOST or HOST:PORT, nothing else (net/http refuses a Host with user
	// info or a path already); the link is made of the parts checked.
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		host, port = strings.TrimSuffix(strings.TrimPrefix(r.Host, "["), "]"), ""
	}
	if n, err := strconv.ParseUint(port, 10, 16); port != "" && (err != nil || n == 0) || host == "" || !h.ownHost(host) {
		return h.endpoint
	}
	if port == "" {
		if strings.Contains(host, ":") {
			return scheme + "://[" + host + "]"
		}
		return scheme + "://" + host
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// loopbackHost is the ownHost of an API that was given none: the names
// that the certificate of the data directory's CA gives every serve.
func loopbackHost(host string) bool {
	if ip := net.ParseIP(host); ip != nil {
		return ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.Equal(net.IPv6loopback)
	}
	return strings.EqualFold(host, "localhost")
}
