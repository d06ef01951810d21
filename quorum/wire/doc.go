// Package wire is the envelope every fleet message travels in (DESIGN.md
// §5.1) and its codec.
//
// An encoded envelope is the magic "IMS", one wire-version byte, then a JSON
// object. The envelope names the sender's fleet, its sorted voter ids and
// their fingerprint, the sender, the message kind, request and reply ids, a
// refusal reason and a kind-specific JSON body. Kinds and bodies belong to
// the agreement layer; this package only checks their shape.
//
// Decode refuses, before anything reaches the agreement layer: payloads over
// MaxSize (checked before parsing), a missing magic, another wire version,
// malformed JSON or missing fields, and a fingerprint that does not match
// the fleet name and member ids it travels with. Encode refuses what Decode
// would refuse, so a message this sentinel sends is one every sentinel of the
// same version accepts. Decode never panics and what it accepts re-encodes
// to a payload that decodes to the same value.
//
// It does not decide whether a sender's voter set is compatible with ours
// (quorum.Voters.Compatible does, in the transport's Conn), does not log and
// does no I/O.
package wire
