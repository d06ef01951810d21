package quorum

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// MemberID names a sentinel: its sentinel.id in fleet.members.
type MemberID string

// Member is one voter of the fleet.
type Member struct {
	ID MemberID
	// Address is its gossip address, host:port. It is transport detail: it
	// does not change the voter set or its fingerprint.
	Address string
}

// Fingerprint identifies a voter set: the fleet name and the sorted member
// ids. Every message carries it (DESIGN.md §5.1).
type Fingerprint string

// Voters is the configured voter set (DESIGN.md §5.1): every member of
// fleet.members, alive or not. memberlist never changes it. A Voters value
// is immutable.
type Voters struct {
	name    string
	members []Member // sorted by ID
	fp      Fingerprint
}

// Errors of voter sets.
var (
	// ErrVoters: a voter set is malformed (no name, no members, an empty or
	// duplicate id).
	ErrVoters = errors.New("invalid voter set")
	// ErrIncompatibleVoters: two voter sets differ by more than one member
	// or belong to different fleets; their majorities may not overlap.
	ErrIncompatibleVoters = errors.New("incompatible voter sets")
)

// NewVoters builds the voter set of fleet name. Member ids must be unique
// and non-empty (an id collision is refused).
func NewVoters(name string, members []Member) (Voters, error) {
	if name == "" {
		return Voters{}, fmt.Errorf("%w: no fleet name", ErrVoters)
	}
	if len(members) == 0 {
		return Voters{}, fmt.Errorf("%w: fleet %s has no members", ErrVoters, name)
	}
	ms := slices.Clone(members)
	slices.SortFunc(ms, func(a, b Member) int { return strings.Compare(string(a.ID), string(b.ID)) })
	for i, m := range ms {
		if m.ID == "" {
			return Voters{}, fmt.Errorf("%w: fleet %s has a member with no id", ErrVoters, name)
		}
		if i > 0 && ms[i-1].ID == m.ID {
			return Voters{}, fmt.Errorf("%w: fleet %s lists member id %s twice", ErrVoters, name, m.ID)
		}
	}
	ids := make([]MemberID, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return Voters{name: name, members: ms, fp: FingerprintOf(name, ids)}, nil
}

// FingerprintOf computes the fingerprint of a fleet name and member ids
// (in any order).
func FingerprintOf(name string, ids []MemberID) Fingerprint {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	h := sha256.New()
	h.Write([]byte(name))
	for _, id := range sorted {
		h.Write([]byte{0})
		h.Write([]byte(id))
	}
	return Fingerprint(hex.EncodeToString(h.Sum(nil)[:8]))
}

// Name is the fleet name.
func (v Voters) Name() string { return v.name }

// Fingerprint identifies this voter set.
func (v Voters) Fingerprint() Fingerprint { return v.fp }

// Members returns the members sorted by id.
func (v Voters) Members() []Member { return slices.Clone(v.members) }

// IDs returns the member ids, sorted.
func (v Voters) IDs() []MemberID {
	ids := make([]MemberID, len(v.members))
	for i, m := range v.members {
		ids[i] = m.ID
	}
	return ids
}

// Len is the number of voters.
func (v Voters) Len() int { return len(v.members) }

// Majority is ⌊n/2⌋+1 of the configured members, alive or not.
func (v Voters) Majority() int { return len(v.members)/2 + 1 }

// Has says whether id is a voter.
func (v Voters) Has(id MemberID) bool {
	_, ok := slices.BinarySearchFunc(v.members, id, func(m Member, id MemberID) int {
		return strings.Compare(string(m.ID), string(id))
	})
	return ok
}

// Member returns the member with id.
func (v Voters) Member(id MemberID) (Member, bool) {
	i, ok := slices.BinarySearchFunc(v.members, id, func(m Member, id MemberID) int {
		return strings.Compare(string(m.ID), string(id))
	})
	if !ok {
		return Member{}, false
	}
	return v.members[i], true
}

// Compatible says whether a message from a sender whose voter set is
// (name, ids) may be accepted: the same fleet, and ids equal to ours or
// differing by one member added or removed, so old and new majorities
// overlap (DESIGN.md §5.1). The error says why not, for the log and the
// operator.
func (v Voters) Compatible(name string, ids []MemberID) error {
	if name != v.name {
		return fmt.Errorf("%w: fleet %q, ours is %q", ErrIncompatibleVoters, name, v.name)
	}
	if FingerprintOf(name, ids) == v.fp {
		return nil
	}
	added, removed := diffIDs(v.IDs(), ids)
	if len(added)+len(removed) <= 1 {
		return nil
	}
	return fmt.Errorf("%w: fleet.members differ by %d (theirs adds %v, lacks %v; ours is %v): "+
		"change one member at a time", ErrIncompatibleVoters, len(added)+len(removed), added, removed, v.IDs())
}

// diffIDs returns the ids in theirs and not in ours, and the ones in ours
// and not in theirs. Duplicates in theirs count once.
func diffIDs(ours, theirs []MemberID) (added, removed []MemberID) {
	t := slices.Clone(theirs)
	slices.Sort(t)
	t = slices.Compact(t)
	for _, id := range t {
		if !slices.Contains(ours, id) {
			added = append(added, id)
		}
	}
	for _, id := range ours {
		if !slices.Contains(t, id) {
			removed = append(removed, id)
		}
	}
	return added, removed
}
