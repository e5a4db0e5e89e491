package handlers

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/labstack/echo/v4"
)

// ParseTrustedProxies reads TRUSTED_PROXIES: a comma- or space-separated list
// of CIDR ranges (or single addresses) of the proxies in front of the panel.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is neither a CIDR range nor an address", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// clientAddrExtractor is Echo's IPExtractor: the address of the connection's
// peer, unless that peer is a trusted proxy. Then X-Forwarded-For is read
// from right to left, skipping trusted hops, and the first untrusted address
// is the client: everything to its left was written by the client and may be
// anything. With no trusted proxies X-Forwarded-For is never read, so a
// client cannot choose the address its sign-ins are counted against.
func clientAddrExtractor(trusted []netip.Prefix) echo.IPExtractor {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return func(r *http.Request) string {
		peer := peerAddr(r.RemoteAddr)
		if !peer.IsValid() {
			return r.RemoteAddr
		}
		if len(trusted) == 0 || !isTrusted(peer) {
			return peer.String()
		}
		client := peer
		hops := r.Header.Values(echo.HeaderXForwardedFor)
		for i := len(hops) - 1; i >= 0; i-- {
			parts := strings.Split(hops[i], ",")
			for j := len(parts) - 1; j >= 0; j-- {
				a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
				if err != nil {
					// A hop we cannot read: the last address we could
					// trust is as far as the chain goes.
					return client.String()
				}
				client = a.Unmap()
				if !isTrusted(client) {
					return client.String()
				}
			}
		}
		return client.String()
	}
}

// peerAddr is the address of a RemoteAddr ("host:port").
func peerAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}
