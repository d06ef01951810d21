package redisnode

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Promote makes the node a primary: REPLICAOF NO ONE, then ROLE every poll
// (DefaultPoll if ≤ 0) until it says master, or ctx ends. It returns the
// ROLE that said master (Offset is where the new primary's history
// starts).
//
// Then it persists the change with CONFIG REWRITE. A node without a config
// file is fine; another rewrite failure returns the Role together with an
// error wrapping ErrRewrite: the promotion took effect.
//
// Refused and error replies end the poll at once; timeouts are retried
// until ctx ends. REPLICAOF NO ONE on a primary is a no-op, so a repeated
// Promote is safe.
func (n *Node) Promote(ctx context.Context, poll time.Duration) (Role, error) {
	if _, err := n.do(ctx, "replicaof", "no", "one"); err != nil {
		return Role{}, fmt.Errorf("promote %s: replicaof no one: %w", n.o.Address, err)
	}
	var r Role
	err := pollUntil(ctx, poll, func() (bool, error) {
		var err error
		r, err = n.role(ctx)
		return r.Role == "master", err
	})
	if err != nil {
		return Role{}, fmt.Errorf("promote %s: wait for role master after replicaof no one (last role %q): %w",
			n.o.Address, r.Role, err)
	}
	if err := n.rewrite(ctx); err != nil {
		return r, fmt.Errorf("promote %s: took effect, but %w", n.o.Address, err)
	}
	return r, nil
}

// ReplicaOf makes the node replicate from primary ("host:port"; an IPv6
// host in brackets) with REPLICAOF host port, then persists the change with
// CONFIG REWRITE as Promote does (an error wrapping ErrRewrite means the
// repoint took effect). It returns when the server accepted the command,
// not when the link is up: poll Role for LinkState "connected".
func (n *Node) ReplicaOf(ctx context.Context, primary string) error {
	host, port, err := splitPrimary(primary)
	if err != nil {
		return fmt.Errorf("repoint %s: %w", n.o.Address, err)
	}
	if primary == n.o.Address {
		return fmt.Errorf("repoint %s: primary %s is the node itself", n.o.Address, primary)
	}
	if _, err := n.do(ctx, "replicaof", host, port); err != nil {
		return fmt.Errorf("repoint %s: replicaof %s %s: %w", n.o.Address, host, port, err)
	}
	if err := n.rewrite(ctx); err != nil {
		return fmt.Errorf("repoint %s to %s: took effect, but %w", n.o.Address, primary, err)
	}
	return nil
}

// splitPrimary splits "host:port" for REPLICAOF, checking the port.
func splitPrimary(primary string) (host, port string, err error) {
	host, port, err = net.SplitHostPort(primary)
	if err != nil {
		return "", "", fmt.Errorf("primary address %q: %w", primary, err)
	}
	if host == "" {
		return "", "", fmt.Errorf("primary address %q: no host", primary)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", "", fmt.Errorf("primary address %q: port %q is not in 1..65535", primary, port)
	}
	return host, port, nil
}

// rewrite runs CONFIG REWRITE. A server started without a config file is
// not an error; any other failure wraps ErrRewrite.
func (n *Node) rewrite(ctx context.Context) error {
	_, err := n.do(ctx, "config", "rewrite")
	if err == nil || noConfigFile(err) {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrRewrite, err)
}

// noConfigFile reports the reply of CONFIG REWRITE on a server started
// without a config file ("ERR The server is running without a config
// file").
func noConfigFile(err error) bool {
	return Classify(err) == Failed && strings.Contains(err.Error(), "without a config file")
}
