package redisnode

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// client is one line of CLIENT LIST.
type client struct {
	ID   int64
	Name string
	Addr string
}

// KillOtherSessions kills the admin connections of the other sentinels of
// this fleet on the node: every normal client whose name starts with
// "imsentinel-admin:<fleet>:" and is not AdminName(fleet, sentinel), by
// CLIENT KILL ID. So a command of an older lease holder still in flight
// cannot land after this holder's first write (DESIGN.md §5.6). It returns
// how many it killed.
//
// It never kills its own connection (neither by name nor by CLIENT ID), nor
// unnamed clients, probes, or other fleets' sentinels. A connection that
// went away between the list and the kill is not counted and not an error.
func (n *Node) KillOtherSessions(ctx context.Context) (int, error) {
	killed := 0
	err := n.run(func(c *redis.Client) error {
		// One sticky connection, so the id compared is the one listing.
		cn := c.Conn()
		defer cn.Close()
		self, err := cn.ClientID(ctx).Result()
		if err != nil {
			return fmt.Errorf("client id: %w", err)
		}
		list, err := cn.Do(ctx, "client", "list", "type", "normal").Text()
		if err != nil {
			return fmt.Errorf("client list type normal: %w", err)
		}
		clients, err := parseClientList(list)
		if err != nil {
			return err
		}
		for _, cl := range otherAdmins(clients, self, n.o.Fleet, n.o.Sentinel) {
			k, err := cn.Do(ctx, "client", "kill", "id", cl.ID).Int()
			if err != nil {
				return fmt.Errorf("client kill id %d (%s from %s): %w", cl.ID, cl.Name, cl.Addr, err)
			}
			killed += k
		}
		return nil
	})
	if err != nil {
		return killed, fmt.Errorf("kill other sentinels' sessions on %s: %w", n.o.Address, err)
	}
	return killed, nil
}

// otherAdmins picks, from clients, the admin connections of fleet's other
// sentinels: not id self, not named AdminName(fleet, sentinel).
func otherAdmins(clients []client, self int64, fleet, sentinel string) []client {
	prefix, own := fleetPrefix(fleet), AdminName(fleet, sentinel)
	var out []client
	for _, cl := range clients {
		if cl.ID != self && cl.Name != own && strings.HasPrefix(cl.Name, prefix) {
			out = append(out, cl)
		}
	}
	return out
}

// parseClientList reads CLIENT LIST: one client per line, space-separated
// key=value fields. Client names cannot hold spaces, so splitting on spaces
// is exact. Every line needs an id.
func parseClientList(s string) ([]client, error) {
	var out []client
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var cl client
		hasID := false
		for f := range strings.FieldsSeq(line) {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "id":
				id, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("parse client list line %q: id %q: %w", line, v, err)
				}
				cl.ID, hasID = id, true
			case "name":
				cl.Name = v
			case "addr":
				cl.Addr = v
			}
		}
		if !hasID {
			return nil, fmt.Errorf("parse client list line %q: no id", line)
		}
		out = append(out, cl)
	}
	return out, nil
}

// KillClients disconnects every normal and pub/sub client except this
// connection (CLIENT KILL TYPE normal SKIPME yes, then TYPE pubsub), as
// Redis Sentinel does after a switch: clients reconnect and re-resolve the
// primary. That includes probes and other sentinels' admin connections
// (they reconnect); replication links are not touched. It returns the
// total killed, also when the second command failed.
func (n *Node) KillClients(ctx context.Context) (int, error) {
	total := 0
	for _, typ := range []string{"normal", "pubsub"} {
		v, err := n.do(ctx, "client", "kill", "type", typ, "skipme", "yes")
		if err != nil {
			return total, fmt.Errorf("kill clients on %s: client kill type %s skipme yes: %w", n.o.Address, typ, err)
		}
		k, ok := v.(int64)
		if !ok {
			return total, fmt.Errorf("kill clients on %s: client kill type %s: reply %v is not an integer", n.o.Address, typ, v)
		}
		total += int(k)
	}
	return total, nil
}
