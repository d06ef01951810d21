package probe

import "net"

// MapAddress returns where to reach an address an instance reported (its
// primary, or one of its replicas), using a cluster's address map (DESIGN.md
// §7: what a server reports → how to reach it, for NAT and proxies).
//
// An entry for the whole "host:port" wins. Otherwise an entry for the bare
// host maps the host: its value replaces the host and keeps the reported
// port, unless the value has a port of its own. An address the map does not
// name is returned unchanged. Observations keep the reported form; only the
// daemon maps, when it dials.
func MapAddress(m map[string]string, reported string) string {
	if len(m) == 0 {
		return reported
	}
	if to, ok := m[reported]; ok {
		return to
	}
	host, port, err := net.SplitHostPort(reported)
	if err != nil {
		return reported
	}
	to, ok := m[host]
	if !ok {
		return reported
	}
	if _, _, err := net.SplitHostPort(to); err == nil {
		return to
	}
	return net.JoinHostPort(to, port)
}
