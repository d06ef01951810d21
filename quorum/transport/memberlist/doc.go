// Package memberlist is the production fleet transport
// (quorum/transport.Transport) on hashicorp/memberlist, used unmodified
// (MPL-2.0). Import it as is; it names hashicorp's package hml inside.
//
// One memberlist node per sentinel, named after its id, carries:
//
//   - liveness: memberlist's SWIM probing decides who is Alive. It is
//     informational only and never changes the voter set (DESIGN.md §5.1);
//     nodes whose name is not in fleet.members are refused as peers.
//   - messages: Send writes one payload to one member over a fresh TCP
//     stream (SendReliable). Nothing travels by gossip broadcast, whose
//     delivery is probabilistic (notes/libs.md).
//   - state: the SetState payload rides memberlist's TCP push/pull, at
//     joins, every PushPullInterval with one random member, and to every
//     live member right after SetState. Remote states arrive in Inbox like
//     messages; the wire format above this package tells them apart.
//
// memberlist does not say who sent a message or a state, so each payload
// travels in a small envelope naming sender and destination (envelope.go).
// Label (default: the fleet name) and SecretKey keep other fleets and
// strangers out; the envelope only tells members apart.
//
// A background joiner joins every voter not seen alive, several at once
// with backoff, and again after one is lost, so a fleet converges whatever
// the start order and reconnects after a partition outlasts memberlist's
// GossipToTheDeadTime. Two processes using one id are detected by
// memberlist's conflict delegate, logged at Error and reported by
// Conflicts and SelfConflict; the joiner also joins this sentinel's own
// configured address once, so the collision is seen at both ends.
//
// Delivery is best effort: Send returns once the payload is written to the
// peer's socket, not when the peer handled it. A member that just closed
// or crashed makes Send fail with ErrUnreachable (not alive, or the dial
// refused), except in the short window where a write was accepted by the
// kernel but the peer stopped before reading it: then Send succeeds and
// the payload is lost. The agreement layer retries; safety never depends
// on delivery.
//
// Timings are those of memberlist's profiles; see ProfileLAN and
// ProfileLocal. This package decides nothing about votes or opinions and
// does not log message contents.
package memberlist
