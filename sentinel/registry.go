package sentinel

import "sync"

// registry records which cluster each instance address belongs to, so an
// address is probed by one cluster only (DESIGN.md §2). Addresses from the
// config are claimed at start; discovered ones are claimed first come, first
// served. Safe for concurrent use by the cluster goroutines.
type registry struct {
	mu     sync.Mutex
	owners map[string]string // address → cluster name
}

func newRegistry() *registry { return &registry{owners: map[string]string{}} }

// claim gives addr to cluster unless another cluster has it, and returns
// the owner after the call.
func (r *registry) claim(addr, cluster string) (owner string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if o, ok := r.owners[addr]; ok {
		return o
	}
	r.owners[addr] = cluster
	return cluster
}

// owner returns the cluster that has addr, or "".
func (r *registry) owner(addr string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.owners[addr]
}
