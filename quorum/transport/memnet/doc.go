// Package memnet is an in-memory transport.Transport network for
// deterministic simulations of the fleet (DESIGN.md §8): many sentinels in
// one test, a virtual clock, and the faults the agreement layer must
// survive: drops, delays and jitter per directed link, cut links,
// partitions, crashes and restarts.
//
// Nothing moves on its own. Send decides at once, from the injected
// *rand.Rand, whether a message is lost and when it is due; Advance moves
// the virtual clock forward and puts every message due by then into its
// destination's Inbox, in (due time, send sequence) order, and runs the
// push/pull state exchange every PushPullInterval of virtual time. There
// are no goroutines, no wall clock and no map iteration in anything that
// decides order, so a seed and the same sequence of calls replay exactly.
//
// Reachability (Send's errors and Alive) is perfect and immediate: a member
// knows at once that a peer crashed or is cut off, which memberlist only
// learns after its probes fail. Messages already in flight are lost when a
// cut, a partition or the destination's crash or restart comes between
// sending and delivery. The push/pull exchange respects cuts, partitions
// and crashes but not drop probabilities or delays: it is the safety net.
//
// All methods are safe for concurrent use, so a Conn's goroutines may run on
// it, but the order of concurrent calls is then the scheduler's.
package memnet
