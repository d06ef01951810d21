// Package redisprobe probes one Redis instance and reports what it says
// about itself: reachability and round-trip time, role, replication lineage
// and offsets, its primary or its replicas, and the self-fence and heartbeat
// settings (DESIGN.md §5.4, §6.2).
//
// A Prober is observe-only: it sends PING, INFO and CONFIG GET, never a
// write. Parsing is pure (ParseInfo, factsFromInfo) and tested against
// replies captured from redis-server 7.0.15 (testdata/README.md).
//
// It decides nothing: whether the instance is down (the detector), whether a
// replica's view of its primary blocks a failover (vantage), and which
// replica to promote belong elsewhere. Addresses are reported as the server
// gives them; the daemon applies the address map (probe.MapAddress).
//
// The probing user needs PING, INFO and CONFIG GET: for an ACL user,
// `+ping +info +config|get`.
package redisprobe
