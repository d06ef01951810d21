// Package sentinel is the imsentinel daemon: it wires probing, agreement and
// promotion together and serves the admin API.
//
// One goroutine owns each cluster's state (a clusterMonitor); each instance
// has a probe loop that sends it probe rounds; nothing else touches that
// state. After every change the owner publishes an immutable ClusterView,
// which the admin API reads without locks.
//
// This stage is observe-only: it probes every instance of every cluster,
// discovers replicas (following the address map), runs the failure detector
// and reports observations, detector windows and SDOWN at GET /v1/clusters.
// It never writes to a data node. Agreement (ODOWN, elections, leases) and
// failover come with the quorum and promote packages.
//
// Config loading and validation live in the config sub-package, so imctl
// uses the same code.
package sentinel
