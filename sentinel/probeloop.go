package sentinel

import (
	"context"
	"log/slog"
	"time"

	"github.com/imsentinel/imsentinel/probe"
)

// roundResult is one probe round of one instance, sent by its probe loop to
// the cluster goroutine.
type roundResult struct {
	address string
	round   probe.Round
	obs     probe.Observation
}

// probeLoop probes one instance every interval until ctx ends, sending each
// result to out. It owns p and closes it when it returns.
//
// Scheduling: a round is due one interval after the previous one was due,
// but never before the previous round ended, so a slow round (a timeout)
// is not mistaken for this process stalling. A round that starts later than
// it was due (timer lateness: SIGSTOP, VM pause) carries that in Due/Start,
// and the detector does not count it (DESIGN.md §5.11).
func probeLoop(ctx context.Context, p probe.Prober, address string, interval time.Duration,
	out chan<- roundResult, log *slog.Logger) {
	defer func() {
		if err := p.Close(); err != nil {
			log.Debug("close prober", "err", err)
		}
	}()
	due := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		start := time.Now()
		rctx, cancel := context.WithTimeout(ctx, interval)
		obs := p.Probe(rctx)
		cancel()
		end := time.Now()
		if ctx.Err() != nil {
			return // cancelled mid-round: not a failure of the instance
		}
		r := roundResult{address: address, obs: obs, round: probe.Round{
			Due: due, Start: start, End: end, OK: obs.Reachable, RTT: obs.RTT,
		}}
		select {
		case out <- r:
		case <-ctx.Done():
			return
		}
		due = due.Add(interval)
		if due.Before(end) {
			due = end
		}
		timer.Reset(time.Until(due))
	}
}
