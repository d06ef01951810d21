package redisnode

import (
	"context"
	"fmt"
	"net"
	"strconv"
)

// Role is the server's ROLE reply, parsed.
type Role struct {
	Role string // the server's word: "master", "slave" or "sentinel"
	// Offset: on a primary its master_repl_offset; on a replica the
	// primary's offset it has processed, -1 while it has no link.
	Offset   int64
	Replicas []RoleReplica // primary: its connected replicas
	Primary  string        // replica: "host:port" it replicates from
	// LinkState is a replica's link to its primary, as the server names
	// it: "none", "handshake", "connect", "connecting", "sync" or
	// "connected".
	LinkState string
}

// RoleReplica is one connected replica in a primary's ROLE reply.
type RoleReplica struct {
	Address string // "ip:port" it announced
	Offset  int64  // the offset it last acknowledged
}

// Role runs ROLE and parses the reply.
func (n *Node) Role(ctx context.Context) (Role, error) {
	r, err := n.role(ctx)
	if err != nil {
		return Role{}, fmt.Errorf("role of %s: %w", n.o.Address, err)
	}
	return r, nil
}

func (n *Node) role(ctx context.Context) (Role, error) {
	v, err := n.do(ctx, "role")
	if err != nil {
		return Role{}, err
	}
	return parseRole(v)
}

// parseRole reads a ROLE reply as go-redis returns it under RESP2:
//
//	master:   ["master", <offset int>, [[<ip>, <port string>, <offset string>], …]]
//	slave:    ["slave", <host>, <port int>, <state>, <offset int>]
//	sentinel: ["sentinel", [<primary name>, …]]
func parseRole(v any) (Role, error) {
	a, ok := v.([]any)
	if !ok || len(a) == 0 {
		return Role{}, fmt.Errorf("parse role reply %v: not a non-empty array", v)
	}
	kind, ok := a[0].(string)
	if !ok {
		return Role{}, fmt.Errorf("parse role reply %v: role %v is not a string", v, a[0])
	}
	r := Role{Role: kind}
	var err error
	switch kind {
	case "master":
		if len(a) != 3 {
			return Role{}, fmt.Errorf("parse role reply %v: master reply has %d elements, want 3", v, len(a))
		}
		if r.Offset, err = integer(a[1]); err != nil {
			return Role{}, fmt.Errorf("parse role reply %v: offset: %w", v, err)
		}
		reps, ok := a[2].([]any)
		if !ok && a[2] != nil {
			return Role{}, fmt.Errorf("parse role reply %v: replicas %v are not an array", v, a[2])
		}
		for _, e := range reps {
			rep, err := parseRoleReplica(e)
			if err != nil {
				return Role{}, fmt.Errorf("parse role reply %v: %w", v, err)
			}
			r.Replicas = append(r.Replicas, rep)
		}
	case "slave":
		if len(a) != 5 {
			return Role{}, fmt.Errorf("parse role reply %v: slave reply has %d elements, want 5", v, len(a))
		}
		host, ok := a[1].(string)
		if !ok {
			return Role{}, fmt.Errorf("parse role reply %v: primary host %v is not a string", v, a[1])
		}
		port, err := integer(a[2])
		if err != nil {
			return Role{}, fmt.Errorf("parse role reply %v: primary port: %w", v, err)
		}
		if r.LinkState, ok = a[3].(string); !ok {
			return Role{}, fmt.Errorf("parse role reply %v: link state %v is not a string", v, a[3])
		}
		if r.Offset, err = integer(a[4]); err != nil {
			return Role{}, fmt.Errorf("parse role reply %v: offset: %w", v, err)
		}
		r.Primary = net.JoinHostPort(host, strconv.FormatInt(port, 10))
	case "sentinel":
	default:
		return Role{}, fmt.Errorf("parse role reply %v: unknown role %q", v, kind)
	}
	return r, nil
}

func parseRoleReplica(v any) (RoleReplica, error) {
	a, ok := v.([]any)
	if !ok || len(a) != 3 {
		return RoleReplica{}, fmt.Errorf("replica %v: want [ip port offset]", v)
	}
	ip, ok := a[0].(string)
	if !ok {
		return RoleReplica{}, fmt.Errorf("replica %v: ip %v is not a string", v, a[0])
	}
	port, err := integer(a[1])
	if err != nil {
		return RoleReplica{}, fmt.Errorf("replica %v: port: %w", v, err)
	}
	off, err := integer(a[2])
	if err != nil {
		return RoleReplica{}, fmt.Errorf("replica %v: offset: %w", v, err)
	}
	return RoleReplica{Address: net.JoinHostPort(ip, strconv.FormatInt(port, 10)), Offset: off}, nil
}

// integer reads an integer reply or a bulk string holding one (ROLE sends
// a replica's port and offset as strings).
func integer(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case string:
		i, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not an integer", x)
		}
		return i, nil
	default:
		return 0, fmt.Errorf("%v (%T) is not an integer", v, v)
	}
}
