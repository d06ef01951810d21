package promote

import (
	"fmt"
	"strings"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/promote/gtid"
)

// Claim says whether a cluster may claim "zero acknowledged writes lost"
// now (DESIGN.md §6.8), and why or why not, for a person.
type Claim struct {
	Claimed bool   `json:"claimed"`
	Why     string `json:"why"`
}

// ZeroLossClaim decides the claim for a cluster from its primary's last
// observation. kind is the cluster's; primary the primary's MySQL facts
// (nil when it was never reached, or for Redis); replicas how many
// replicas this sentinel sees replicating the primary.
//
// MySQL/MariaDB claims zero loss only when semi-sync holds as §6.2 wants
// (SemiSyncDrift finds nothing: AFTER_SYNC, wait_no_slave ON, a very long
// timeout, active, every replicating replica registered): every commit a
// client saw acknowledged is then on a replica, and a failover promotes
// the replica whose received set contains every reachable one's. Redis
// never claims it: its replication is asynchronous, and the self-fence
// only bounds how long a cut-off primary goes on acknowledging.
func ZeroLossClaim(kind probe.Kind, primary *probe.MySQLFacts, replicas int) Claim {
	switch {
	case kind == probe.KindRedis:
		return Claim{Why: "Redis replication is asynchronous: a write acknowledged and not yet replicated is lost in a failover " +
			"(the self-fence bounds how long a cut-off primary acknowledges)"}
	case kind != probe.KindMySQL:
		return Claim{Why: fmt.Sprintf("kind %s: unknown", kind)}
	case primary == nil:
		return Claim{Why: "the primary's replication settings are not known yet (never probed)"}
	case !primary.SemiSync.PrimaryEnabled:
		return Claim{Why: "asynchronous replication (semi-sync is off on the primary): a commit acknowledged before a replica " +
			"received it is lost in a failover"}
	}
	if drift := SemiSyncDrift(primary, replicas); len(drift) > 0 {
		return Claim{Why: "semi-sync falls short of DESIGN.md §6.2: " + strings.Join(drift, "; ")}
	}
	s := primary.SemiSync
	return Claim{Claimed: true, Why: fmt.Sprintf("semi-sync %s, wait_no_slave ON, timeout %v, %d of %d replicas registered: "+
		"every acknowledged commit is on a replica", s.WaitPoint, s.Timeout, s.Clients, replicas)}
}

// LossInput is what a MySQL failover knows, once its candidate applied
// what it received, about the writes it may lose.
type LossInput struct {
	// Claim is ZeroLossClaim at the old primary's last observation.
	Claim Claim
	// AtRisk are replicas of the old primary the failover could not reach:
	// one of them may hold acknowledged commits the new primary lacks.
	AtRisk []string
	// Old is the old primary's last observation's MySQL facts (nil when it
	// was never reached) and OldSeen when that probe ran.
	Old     *probe.MySQLFacts
	OldSeen time.Time
	// Flavor and Applied are the new primary's flavor and what it had
	// applied when it was promoted (a MariaDB GTID position, a MySQL GTID
	// set).
	Flavor  probe.Flavor
	Applied string
	// Lacks is what the new primary lacks of what another reached replica
	// received, when an operator chose it over the ranking ("" none).
	Lacks string
	// Unverified are replicas whose state could not be read once their IO
	// threads stopped: what they received is unknown.
	Unverified []string
}

// LossEstimate is what a failover's journal says about acknowledged
// writes (DESIGN.md §6.8): zero lost, or what may be lost and why.
type LossEstimate struct {
	ZeroLoss bool `json:"zero_loss"`
	// Why explains the verdict for a person.
	Why string `json:"why"`
	// Missing lists the transactions the old primary had at its last
	// probe that the new primary did not apply, as ranges ready for
	// mysqlbinlog/mariadb-binlog ("" when none, or unknown). Under a
	// zero-loss claim they were never acknowledged (in flight when the
	// replicas stopped receiving).
	Missing string `json:"missing,omitempty"`
	// MissingCount is how many transactions Missing names.
	MissingCount uint64 `json:"missing_count,omitempty"`
	// OldSeen is when the old primary was last probed: without the claim
	// it may have acknowledged more after that.
	OldSeen *time.Time `json:"old_primary_last_seen,omitempty"`
}

// EstimateLoss decides a MySQL failover's loss estimate. Zero loss is
// claimed only when the claim held at the old primary's last observation
// and every replica that could have acknowledged for it was reached
// (§6.8); otherwise Why says what may be lost: the GTIDs known missing on
// the new primary, and whatever the old primary acknowledged after its
// last probe.
func EstimateLoss(in LossInput) LossEstimate {
	var e LossEstimate
	var known string
	if in.Old != nil {
		e.Missing, e.MissingCount, known = missing(in)
		if !in.OldSeen.IsZero() {
			t := in.OldSeen
			e.OldSeen = &t
		}
	}
	if in.Claim.Claimed && len(in.AtRisk) == 0 && in.Lacks == "" && len(in.Unverified) == 0 {
		e.ZeroLoss = true
		e.Why = "zero acknowledged writes lost: " + in.Claim.Why + ", and every replica was reached and detached before the promotion"
		if e.MissingCount > 0 {
			e.Why += fmt.Sprintf("; the old primary's last probe showed %d transactions the new primary lacks (%s): "+
				"in flight, never acknowledged, errant on the old primary", e.MissingCount, e.Missing)
		}
		return e
	}
	var why []string
	if !in.Claim.Claimed {
		why = append(why, "no zero-loss claim: "+in.Claim.Why)
	}
	if len(in.AtRisk) > 0 {
		why = append(why, fmt.Sprintf("replicas %s could not be reached: they may hold acknowledged commits the new primary lacks",
			strings.Join(in.AtRisk, ", ")))
	}
	if len(in.Unverified) > 0 {
		why = append(why, fmt.Sprintf("replicas %s could not be read once their IO threads stopped: they may hold acknowledged commits the new primary lacks",
			strings.Join(in.Unverified, ", ")))
	}
	if in.Lacks != "" {
		why = append(why, "the operator's choice lacks what other replicas received (acknowledged under semi-sync): "+in.Lacks)
	}
	switch {
	case in.Old == nil:
		why = append(why, "the old primary was never probed: what it acknowledged is unknown")
	case known != "":
		why = append(why, known)
	case e.MissingCount > 0:
		why = append(why, fmt.Sprintf("at its last probe (%s) the old primary had %d transactions the new primary lacks: %s",
			in.OldSeen.UTC().Format(time.RFC3339Nano), e.MissingCount, e.Missing))
	default:
		why = append(why, fmt.Sprintf("the new primary has everything the old primary had at its last probe (%s)",
			in.OldSeen.UTC().Format(time.RFC3339Nano)))
	}
	if in.Old != nil && !in.Claim.Claimed {
		why = append(why, "it may have acknowledged more after that probe")
	}
	e.Why = "acknowledged writes may be lost: " + strings.Join(why, "; ")
	return e
}

// missing is what the old primary had at its last probe and the new
// primary did not apply; known explains when that cannot be computed.
func missing(in LossInput) (ranges string, count uint64, known string) {
	if in.Flavor == probe.FlavorMySQL {
		had, err1 := gtid.ParseSet(in.Old.GTIDExecuted)
		applied, err2 := gtid.ParseSet(in.Applied)
		if err1 != nil || err2 != nil {
			return "", 0, fmt.Sprintf("the GTID sets cannot be compared (%v)", firstErr(err1, err2))
		}
		rest := had.Subtract(applied)
		return rest.String(), rest.Count(), ""
	}
	had, err1 := gtid.ParsePosition(in.Old.GTIDBinlogPos)
	applied, err2 := gtid.ParsePosition(in.Applied)
	if err1 != nil || err2 != nil {
		return "", 0, fmt.Sprintf("the GTID positions cannot be compared (%v)", firstErr(err1, err2))
	}
	var parts []string
	for _, r := range had.Subtract(applied) {
		parts = append(parts, r.String())
		count += r.Count()
	}
	return strings.Join(parts, ", "), count, ""
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
