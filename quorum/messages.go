package quorum

import "fmt"

// Kind names an agreement message. They travel one-way: replies name the
// election or renewal they answer, so no request ids are needed.
type Kind string

const (
	KindOpinion    Kind = "opinion"     // Opinion: this sentinel's SDOWN judgement
	KindVote       Kind = "vote"        // VoteRequest
	KindVoteReply  Kind = "vote-reply"  // VoteReply
	KindRenew      Kind = "renew"       // Renew: the holder extends its bindings
	KindRenewReply Kind = "renew-reply" // RenewReply
	KindRelease    Kind = "release"     // Release: task done, or election abandoned
	KindLeader     Kind = "leader"      // LeaderNotice: a candidate won
	KindSync       Kind = "sync"        // SyncRequest: a learner asks for state
	KindSyncReply  Kind = "sync-reply"  // SyncReply
	KindPropose    Kind = "propose"     // Proposal: persist an intent or a config
	KindProposeAck Kind = "propose-ack" // ProposalAck
	KindCommitted  Kind = "committed"   // Config: a majority persisted it
)

// Message is one agreement message; exactly one body is set, matching Kind.
type Message struct {
	Kind       Kind          `json:"kind"`
	From       MemberID      `json:"from"`
	To         MemberID      `json:"to,omitempty"` // "" = every other member
	Opinion    *Opinion      `json:"opinion,omitempty"`
	Vote       *VoteRequest  `json:"vote,omitempty"`
	VoteReply  *VoteReply    `json:"vote_reply,omitempty"`
	Renew      *Renew        `json:"renew,omitempty"`
	RenewReply *RenewReply   `json:"renew_reply,omitempty"`
	Release    *ReleaseMsg   `json:"release,omitempty"`
	Leader     *LeaderNotice `json:"leader,omitempty"`
	Sync       *SyncRequest  `json:"sync,omitempty"`
	SyncReply  *SyncReply    `json:"sync_reply,omitempty"`
	Propose    *Proposal     `json:"propose,omitempty"`
	ProposeAck *ProposalAck  `json:"propose_ack,omitempty"`
	Committed  *Config       `json:"committed,omitempty"`
}

// Cluster names the cluster a message is about.
func (m Message) Cluster() string {
	switch {
	case m.Opinion != nil:
		return m.Opinion.Cluster
	case m.Vote != nil:
		return m.Vote.Cluster
	case m.VoteReply != nil:
		return m.VoteReply.Cluster
	case m.Renew != nil:
		return m.Renew.Cluster
	case m.RenewReply != nil:
		return m.RenewReply.Cluster
	case m.Release != nil:
		return m.Release.Cluster
	case m.Leader != nil:
		return m.Leader.Cluster
	case m.Sync != nil:
		return m.Sync.Cluster
	case m.SyncReply != nil:
		return m.SyncReply.Cluster
	case m.Propose != nil:
		return m.Propose.Cluster
	case m.ProposeAck != nil:
		return m.ProposeAck.Cluster
	case m.Committed != nil:
		return m.Committed.Cluster
	}
	return ""
}

// Check says whether the body matches the kind.
func (m Message) Check() error {
	ok := map[Kind]bool{
		KindOpinion: m.Opinion != nil, KindVote: m.Vote != nil, KindVoteReply: m.VoteReply != nil,
		KindRenew: m.Renew != nil, KindRenewReply: m.RenewReply != nil, KindRelease: m.Release != nil,
		KindLeader: m.Leader != nil, KindSync: m.Sync != nil, KindSyncReply: m.SyncReply != nil,
		KindPropose: m.Propose != nil, KindProposeAck: m.ProposeAck != nil, KindCommitted: m.Committed != nil,
	}
	has, known := ok[m.Kind]
	switch {
	case !known:
		return fmt.Errorf("unknown message kind %q", m.Kind)
	case !has:
		return fmt.Errorf("%s message without its body", m.Kind)
	case m.From == "":
		return fmt.Errorf("%s message without a sender", m.Kind)
	case m.Cluster() == "":
		return fmt.Errorf("%s message without a cluster", m.Kind)
	}
	return nil
}

// VoteReply answers a VoteRequest.
type VoteReply struct {
	Cluster   string   `json:"cluster"`
	Epoch     uint64   `json:"epoch"`
	Candidate MemberID `json:"candidate"`
	Grant     bool     `json:"grant"`
	Why       string   `json:"why"`
	// Highest is the voter's highest epoch seen, so a loser asks higher
	// next time.
	Highest uint64 `json:"highest"`
	// Intent is the voter's latest intent for the cluster, so the next
	// holder learns what its predecessor was doing (DESIGN.md §5.7).
	Intent *Intent `json:"intent,omitempty"`
}

// Renew asks voters to extend the holder's binding; Seq names the renewal
// so the holder knows which send time a majority acknowledged.
type Renew struct {
	Cluster string   `json:"cluster"`
	Epoch   uint64   `json:"epoch"`
	Holder  MemberID `json:"holder"`
	Reason  Reason   `json:"reason"`
	Seq     uint64   `json:"seq"`
}

// RenewReply answers a Renew.
type RenewReply struct {
	Cluster string   `json:"cluster"`
	Epoch   uint64   `json:"epoch"`
	Holder  MemberID `json:"holder"`
	Seq     uint64   `json:"seq"`
	Grant   bool     `json:"grant"`
	Why     string   `json:"why"`
}

// ReleaseMsg ends the sender's binding at an epoch: its task is done, or it
// abandons an election it cannot win.
type ReleaseMsg struct {
	Cluster string   `json:"cluster"`
	Epoch   uint64   `json:"epoch"`
	Holder  MemberID `json:"holder"`
}

// LeaderNotice tells every member who won an epoch, so the members that
// did not vote for it know the leader too.
type LeaderNotice struct {
	Cluster string   `json:"cluster"`
	Epoch   uint64   `json:"epoch"`
	Holder  MemberID `json:"holder"`
	Reason  Reason   `json:"reason"`
}

// SyncRequest is a learner's request for what a member knows of a cluster
// (DESIGN.md §5.2).
type SyncRequest struct {
	Cluster string `json:"cluster"`
}

// SyncReply is a member's state for a cluster. A learner that has replies
// from a majority adopts the highest of each.
type SyncReply struct {
	Cluster string `json:"cluster"`
	Highest uint64 `json:"highest"`
	Config  Config `json:"config"`
	// Committed: the replying member knows Config is on a majority. A
	// pull adopts only a committed config; a learner adopts the newest.
	Committed bool    `json:"committed,omitempty"`
	Intent    *Intent `json:"intent,omitempty"`
	// Learner: the replying member is itself a learner; its reply does not
	// count toward the majority.
	Learner bool `json:"learner,omitempty"`
}
