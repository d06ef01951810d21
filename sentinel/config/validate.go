package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// namePattern is what fleet and cluster names may be: they become parts of
// Redis keys, gossip labels and metric labels.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// Validate returns every problem of cfg by key path, or nil. It reads no
// files and opens no sockets.
func Validate(cfg Config) Problems {
	var ps problems
	validateSentinel(cfg, &ps)
	validateGossip(cfg.Gossip, &ps)
	validateAdmin(cfg.Admin, &ps)
	validateRouting(cfg.Routing, &ps)
	validateDetection(cfg.Detection, &ps)
	validateFailover(cfg.Failover, &ps)
	validateClusters(cfg, &ps)
	return ps.list
}

func validateSentinel(cfg Config, ps *problems) {
	if cfg.Sentinel.DataDir == "" {
		ps.add("sentinel.data_dir", "required")
	}
	switch cfg.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		ps.add("log.level", "%q is not one of debug, info, warn, error", cfg.Log.Level)
	}
	switch cfg.Log.Format {
	case "text", "json":
	default:
		ps.add("log.format", "%q is not one of text, json", cfg.Log.Format)
	}

	switch {
	case cfg.Fleet.Name == "":
		ps.add("fleet.name", "required")
	case !namePattern.MatchString(cfg.Fleet.Name):
		ps.add("fleet.name", "%q: use letters, digits, '.', '_' and '-' (at most 63)", cfg.Fleet.Name)
	}
	if len(cfg.Fleet.Members) == 0 {
		ps.add("fleet.members", "required: list every sentinel of the fleet (id and gossip address)")
	}
	ids := map[string]int{}
	addrs := map[string]int{}
	for i, m := range cfg.Fleet.Members {
		key := fmt.Sprintf("fleet.members[%d]", i)
		if m.ID == "" {
			ps.add(key+".id", "required")
		} else if j, dup := ids[m.ID]; dup {
			ps.add(key+".id", "%q is also fleet.members[%d].id; ids must be unique", m.ID, j)
		} else {
			ids[m.ID] = i
		}
		if err := checkHostPort(m.Address); err != nil {
			ps.add(key+".address", "%v", err)
		} else if j, dup := addrs[m.Address]; dup {
			ps.add(key+".address", "%q is also fleet.members[%d].address", m.Address, j)
		} else {
			addrs[m.Address] = i
		}
	}
	switch _, member := ids[cfg.Sentinel.ID]; {
	case cfg.Sentinel.ID == "":
		ps.add("sentinel.id", "required: this sentinel's id in fleet.members")
	case len(cfg.Fleet.Members) > 0 && !member:
		ps.add("sentinel.id", "%q is not in fleet.members (a sentinel must be a configured voter)", cfg.Sentinel.ID)
	}
}

func validateGossip(g Gossip, ps *problems) {
	if g.Profile != "lan" && g.Profile != "local" {
		ps.add("gossip.profile", "%q is not one of lan, local", g.Profile)
	}
	loopback, err := isLoopback(g.Bind)
	if err != nil {
		ps.add("gossip.bind", "%v", err)
	}
	if g.Advertise != "" {
		if err := checkHostPort(g.Advertise); err != nil {
			ps.add("gossip.advertise", "%v", err)
		}
	}
	if g.EncryptionKey.IsSet() {
		key, err := base64.StdEncoding.DecodeString(g.EncryptionKey.Reveal())
		switch {
		case err != nil:
			ps.add("gossip.encryption_key", "not valid base64: %v", err)
		case len(key) != 16 && len(key) != 24 && len(key) != 32:
			ps.add("gossip.encryption_key", "decodes to %d bytes; an AES key is 16, 24 or 32 bytes", len(key))
		}
	} else if err == nil && !loopback {
		ps.add("gossip.encryption_key", "required when gossip.bind (%s) is not a loopback address: "+
			"votes must not travel in clear text (generate one with: head -c 32 /dev/urandom | base64)", g.Bind)
	}
}

func validateAdmin(a Admin, ps *problems) {
	loopback, err := isLoopback(a.Listen)
	if err != nil {
		ps.add("admin.listen", "%v", err)
		return
	}
	if !loopback && !a.Token.IsSet() {
		ps.add("admin.token", "required when admin.listen (%s) is not a loopback address", a.Listen)
	}
}

func validateRouting(r Routing, ps *problems) {
	if err := checkHostPort(r.Address); err != nil {
		ps.add("routing.address", "%v", err)
	}
	if r.Prefix == "" {
		ps.add("routing.prefix", "required (default \"imsentinel:\")")
	}
	if r.DB < 0 {
		ps.add("routing.db", "%d: must be 0 or more", r.DB)
	}
	positive(ps, "routing.timeout", r.Timeout)
}

func validateDetection(d Detection, ps *problems) {
	ok := positive(ps, "detection.probe_interval", d.ProbeInterval)
	ok = positive(ps, "detection.probe_timeout", d.ProbeTimeout) && ok
	ok = positive(ps, "detection.min_down_after", d.MinDownAfter) && ok
	ok = positive(ps, "detection.down_after", d.DownAfter) && ok
	positive(ps, "detection.opinion_ttl", d.OpinionTTL)
	if !ok {
		return
	}
	if d.ProbeTimeout >= d.ProbeInterval {
		ps.add("detection.probe_timeout", "%v must be shorter than detection.probe_interval (%v): "+
			"a round must end before the next one starts", d.ProbeTimeout, d.ProbeInterval)
	}
	if d.MinDownAfter < 2*d.ProbeInterval {
		ps.add("detection.min_down_after", "%v must be at least two probe intervals (2 × %v): "+
			"SDOWN needs two missed rounds", d.MinDownAfter, d.ProbeInterval)
	}
	if d.DownAfter < d.MinDownAfter {
		ps.add("detection.down_after", "%v must not be shorter than detection.min_down_after (%v)",
			d.DownAfter, d.MinDownAfter)
	}
}

func validateFailover(f Failover, ps *problems) {
	if !positive(ps, "failover.lease", f.Lease) {
		return
	}
	if f.LeaseDriftMargin < 0 || f.LeaseDriftMargin >= f.Lease {
		ps.add("failover.lease_drift_margin", "%v must be at least 0 and shorter than failover.lease (%v)",
			f.LeaseDriftMargin, f.Lease)
		return
	}
	if positive(ps, "failover.election_timeout", f.ElectionTimeout) && f.ElectionTimeout >= f.Lease {
		ps.add("failover.election_timeout", "%v must be shorter than failover.lease (%v)", f.ElectionTimeout, f.Lease)
	}
	if f.Cooldown < 0 {
		ps.add("failover.cooldown", "%v must not be negative", f.Cooldown)
	}
	authority := f.Lease - f.LeaseDriftMargin
	steps := []struct {
		name string
		d    time.Duration
	}{
		{"fence", f.Steps.Fence}, {"promote", f.Steps.Promote}, {"repoint", f.Steps.Repoint},
		{"commit", f.Steps.Commit}, {"route", f.Steps.Route},
	}
	for _, s := range steps {
		key := "failover.steps." + s.name
		if positive(ps, key, s.d) && s.d > authority {
			ps.add("failover.lease", "%v (minus lease_drift_margin %v = %v) is too short for %s (%v): "+
				"a step starts only when the lease covers its deadline", f.Lease, f.LeaseDriftMargin,
				authority, key, s.d)
		}
	}
	positive(ps, "failover.steps.catch_up", f.Steps.CatchUp)
}

func validateClusters(cfg Config, ps *problems) {
	if len(cfg.Clusters) == 0 {
		ps.add("clusters", "required: at least one cluster to watch")
	}
	names := map[string]int{}
	owner := map[string]string{} // instance address → "clusters[i] (name)"
	claim := func(key, addr string, i int, name string) {
		who := fmt.Sprintf("clusters[%d] (%s)", i, name)
		if prev, taken := owner[addr]; taken && prev != who {
			ps.add(key, "%s is also in %s; an address belongs to one cluster only", addr, prev)
			return
		}
		owner[addr] = who
	}
	for i, c := range cfg.Clusters {
		key := fmt.Sprintf("clusters[%d]", i)
		switch {
		case c.Name == "":
			ps.add(key+".name", "required")
		case !namePattern.MatchString(c.Name):
			ps.add(key+".name", "%q: use letters, digits, '.', '_' and '-' (at most 63)", c.Name)
		default:
			if j, dup := names[c.Name]; dup {
				ps.add(key+".name", "%q is also clusters[%d].name; names must be unique", c.Name, j)
			}
			names[c.Name] = i
		}
		switch c.Kind {
		case "redis", "mysql":
		case "":
			ps.add(key+".kind", "required: redis or mysql")
		default:
			ps.add(key+".kind", "%q is not one of redis, mysql", c.Kind)
		}
		if c.Primary == "" {
			ps.add(key+".primary", "required: the seed primary, host:port")
		} else if err := checkHostPort(c.Primary); err != nil {
			ps.add(key+".primary", "%v", err)
		} else {
			claim(key+".primary", c.Primary, i, c.Name)
		}
		seen := map[string]bool{c.Primary: true}
		for j, r := range c.Replicas {
			rk := fmt.Sprintf("%s.replicas[%d]", key, j)
			if err := checkHostPort(r); err != nil {
				ps.add(rk, "%v", err)
				continue
			}
			if seen[r] {
				ps.add(rk, "%s is listed twice (or is the primary)", r)
				continue
			}
			seen[r] = true
			claim(rk, r, i, c.Name)
		}
		switch n := len(cfg.Fleet.Members); {
		case c.Quorum < 1:
			ps.add(key+".quorum", "%d: must be at least 1", c.Quorum)
		case n > 0 && c.Quorum > n:
			ps.add(key+".quorum", "%d is more than the %d fleet.members: ODOWN could never be reached", c.Quorum, n)
		}
		switch c.Mode {
		case ModeAuto, ModeManual, ModeObserve:
		default:
			ps.add(key+".mode", "%q is not one of auto, manual, observe", c.Mode)
		}
		switch c.FenceWait {
		case FenceWaitStrict:
			if !c.SelfFence.Enabled {
				ps.add(key+".fence_wait", "strict needs %s.self_fence.enabled: true "+
					"(the old primary must be able to fence itself), or use fence_wait: fast", key)
			}
		case FenceWaitFast:
		default:
			ps.add(key+".fence_wait", "%q is not one of strict, fast", c.FenceWait)
		}
		validateSelfFence(c, key, ps)
		validateHeartbeat(c, key, ps)
		instances := map[string]int{}
		for j, in := range c.Instances {
			ik := fmt.Sprintf("%s.instances[%d]", key, j)
			if err := checkHostPort(in.Address); err != nil {
				ps.add(ik+".address", "%v", err)
			} else if k, dup := instances[in.Address]; dup {
				ps.add(ik+".address", "%s is also %s.instances[%d]; list an instance once", in.Address, key, k)
			} else {
				instances[in.Address] = j
				claim(ik+".address", in.Address, i, c.Name)
			}
			if in.Priority != nil && *in.Priority < 0 {
				ps.add(ik+".priority", "%d: must be 0 (never promote) or more", *in.Priority)
			}
		}
		if c.Kind == "mysql" && c.Credentials.Username == "" {
			ps.add(key+".credentials.username", "required for mysql clusters")
		}
		for j, u := range c.Credentials.SpareUsers {
			uk := fmt.Sprintf("%s.credentials.spare_users[%d]", key, j)
			switch {
			case c.Kind != "mysql":
				ps.add(uk, "%q: only mysql clusters kill sessions when fencing", u)
			case strings.TrimSpace(u) == "" || strings.ContainsAny(u, "@'\"` \t\n"):
				ps.add(uk, "%q: an account name without host part or quotes", u)
			}
		}
		reported := map[string]bool{}
		for j, m := range c.AddressMap {
			mk := fmt.Sprintf("%s.address_map[%d]", key, j)
			if err := checkHostPort(m.Reported); err != nil {
				ps.add(mk+".reported", "%v", err)
			} else if reported[m.Reported] {
				ps.add(mk+".reported", "%s is mapped twice", m.Reported)
			}
			reported[m.Reported] = true
			if err := checkHostPort(m.Reach); err != nil {
				ps.add(mk+".reach", "%v", err)
			} else {
				claim(mk+".reach", m.Reach, i, c.Name)
			}
		}
	}
}

func validateSelfFence(c ClusterConfig, key string, ps *problems) {
	if !c.SelfFence.Enabled {
		return
	}
	if c.SelfFence.MinReplicas < 1 {
		ps.add(key+".self_fence.min_replicas", "%d: must be at least 1 when the self-fence is enabled",
			c.SelfFence.MinReplicas)
	}
	if c.Kind == "redis" && (c.SelfFence.MaxLag < time.Second || c.SelfFence.MaxLag%time.Second != 0) {
		ps.add(key+".self_fence.max_lag", "%v: Redis min-replicas-max-lag takes whole seconds, at least 1s",
			c.SelfFence.MaxLag)
	}
}

func validateHeartbeat(c ClusterConfig, key string, ps *problems) {
	h := c.Heartbeat
	if !positive(ps, key+".heartbeat.period", h.Period) {
		return
	}
	switch c.Kind {
	case "redis":
		if h.Period%time.Second != 0 {
			ps.add(key+".heartbeat.period", "%v: Redis repl-ping-replica-period takes whole seconds", h.Period)
		}
	case "mysql":
		if h.Period > time.Second || h.Period < time.Millisecond {
			ps.add(key+".heartbeat.period", "%v: MASTER_HEARTBEAT_PERIOD must be between 1ms and 1s "+
				"for replica vantage (DESIGN.md §5.4)", h.Period)
		}
	}
	if h.VantageMultiplier < 2 {
		ps.add(key+".heartbeat.vantage_multiplier", "%d: must be at least 2", h.VantageMultiplier)
	}
}

func positive(ps *problems, key string, d time.Duration) bool {
	if d <= 0 {
		ps.add(key, "%v: must be more than 0", d)
		return false
	}
	return true
}

// checkHostPort accepts host:port with a port in 1..65535.
func checkHostPort(addr string) error {
	if addr == "" {
		return fmt.Errorf("required: host:port")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %v", addr, err)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port must be 1-65535", addr)
	}
	return nil
}

// isLoopback says whether a listen address is loopback only. An unparsable
// host (a name other than localhost) or a wildcard counts as not loopback.
func isLoopback(addr string) (bool, error) {
	if err := checkHostPort(addr); err != nil {
		if host, _, e := net.SplitHostPort(addr); e == nil && host == "" {
			return false, nil // ":7946" listens on every interface
		}
		return false, err
	}
	host, _, _ := net.SplitHostPort(addr)
	if host == "localhost" {
		return true, nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false, nil
	}
	return ip.IsLoopback(), nil
}
