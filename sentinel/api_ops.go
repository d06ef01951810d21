package sentinel

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/imsentinel/imsentinel/quorum"
	"github.com/imsentinel/imsentinel/quorum/store"
	"github.com/imsentinel/imsentinel/quorum/transport"
)

// Limits of GET /v1/events.
const (
	eventsDefaultLimit = 100
	eventsMaxLimit     = 1000
)

// authorized wraps a mutating handler: with admin.token set, the request
// must carry it as a bearer token (compared in constant time), or it gets
// a 401 with the reason.
func (d *Daemon) authorized(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if want := d.cfg.Admin.Token.Reveal(); want != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="imsentinel"`)
				writeError(w, http.StatusUnauthorized, "this call needs the admin token: Authorization: Bearer <admin.token> (imctl: IMCTL_TOKEN)")
				return
			}
		}
		h(w, r)
	}
}

// FleetResponse is the answer of GET /v1/fleet.
type FleetResponse struct {
	Sentinel    string          `json:"sentinel"`
	Fleet       string          `json:"fleet"`
	Fingerprint string          `json:"fingerprint"`
	Members     []FleetMember   `json:"members"`
	Conflicts   []string        `json:"conflicts,omitempty"`
	Clusters    []FleetClusters `json:"clusters"`
}

// FleetMember is one voter as this sentinel sees it.
type FleetMember struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	Self    bool   `json:"self"`
	Alive   bool   `json:"alive"`
	// Fingerprint is the voter-set fingerprint of its latest message;
	// Compatible says whether it agrees with ours (the same set or one
	// change away), Why what differs. Empty until it was heard.
	Fingerprint string `json:"fingerprint,omitempty"`
	Compatible  *bool  `json:"compatible,omitempty"`
	Why         string `json:"why,omitempty"`
}

// FleetClusters is one cluster's agreement in GET /v1/fleet.
type FleetClusters struct {
	Name         string `json:"name"`
	State        string `json:"state"`
	Tilt         bool   `json:"tilt"`
	Epoch        uint64 `json:"epoch"`
	Holder       string `json:"holder,omitempty"`
	HolderReason string `json:"holder_reason,omitempty"`
}

func (d *Daemon) getFleet(w http.ResponseWriter, _ *http.Request) {
	resp := FleetResponse{Sentinel: d.cfg.Sentinel.ID, Fleet: d.cfg.Fleet.Name, Fingerprint: string(d.voters.Fingerprint())}
	alive := map[string]bool{d.cfg.Sentinel.ID: true}
	if d.fleet != nil {
		for _, id := range d.fleet.alive() {
			alive[string(id)] = true
		}
		if c := d.fleet.collision(); c != "" {
			resp.Conflicts = append(resp.Conflicts, c)
		}
	}
	peers := map[quorum.MemberID]transport.Peer{}
	if f, ok := d.fleet.(*fleet); ok && f != nil {
		peers = f.conn.Peers()
	}
	for _, m := range d.cfg.Fleet.Members {
		fm := FleetMember{ID: m.ID, Address: m.Address, Self: m.ID == d.cfg.Sentinel.ID, Alive: alive[m.ID]}
		if fm.Self {
			fm.Fingerprint, fm.Compatible = resp.Fingerprint, ptr(true)
		} else if p, ok := peers[quorum.MemberID(m.ID)]; ok {
			fm.Fingerprint, fm.Compatible, fm.Why = string(p.Fingerprint), ptr(p.Compatible), p.Why
		}
		resp.Members = append(resp.Members, fm)
	}
	for _, m := range d.clusters {
		v := m.view.Load()
		fc := FleetClusters{Name: v.Name, State: v.State, Tilt: v.State == "tilt", Epoch: v.Epoch}
		if l := v.Agreement.Lease; l != nil {
			fc.Holder, fc.HolderReason = l.Holder, l.Reason
		}
		resp.Clusters = append(resp.Clusters, fc)
	}
	writeJSON(w, http.StatusOK, resp)
}

func ptr[T any](v T) *T { return &v }

// EventsResponse is the answer of GET /v1/events.
type EventsResponse struct {
	Events []store.Entry `json:"events"`
}

func (d *Daemon) getEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	cluster := q.Get("cluster")
	if cluster != "" {
		if _, err := d.monitor(cluster); err != nil {
			writeError(w, http.StatusNotFound, "no cluster named "+cluster+" (GET /v1/clusters lists them)")
			return
		}
	}
	var since uint64
	if s := q.Get("since"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("since=%q: want a journal sequence number", s))
			return
		}
		since = n
	}
	limit := eventsDefaultLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > eventsMaxLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit=%q: want 1 to %d", s, eventsMaxLimit))
			return
		}
		limit = n
	}
	follow := false
	switch f := q.Get("follow"); f {
	case "", "0", "false":
	case "1", "true":
		follow = true
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("follow=%q: want 1 or 0", f))
		return
	}
	if d.store == nil {
		writeError(w, http.StatusServiceUnavailable, "the journal is not open yet")
		return
	}
	var feed <-chan store.Entry
	stop := func() {}
	if follow {
		feed, stop = d.events.follow() // before the read: nothing falls in between
	}
	defer stop()
	all, err := d.store.Journal(store.Query{Cluster: cluster, AfterSeq: since})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "read the journal: "+err.Error())
		return
	}
	if len(all) > limit {
		if q.Get("since") != "" {
			all = all[:limit] // paging forward from since: the oldest first
		} else {
			all = all[len(all)-limit:] // the newest
		}
	}
	if !follow {
		if all == nil {
			all = []store.Entry{}
		}
		writeJSON(w, http.StatusOK, EventsResponse{Events: all})
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	last := since
	send := func(e store.Entry) bool {
		if e.Seq <= last || (cluster != "" && e.Cluster != cluster) {
			return true
		}
		last = e.Seq
		if err := enc.Encode(e); err != nil {
			return false
		}
		flush(w)
		return true
	}
	for _, e := range all {
		if !send(e) {
			return
		}
	}
	flush(w)
	for {
		select {
		case e, ok := <-feed:
			if !ok || !send(e) {
				return
			}
		case <-r.Context().Done():
			return
		case <-d.stopping:
			return
		}
	}
}

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// FailoverRequest is the body of POST /v1/clusters/{name}/failover.
type FailoverRequest struct {
	To     string `json:"to,omitempty"`
	DryRun bool   `json:"dry_run,omitempty"`
}

func (d *Daemon) postFailover(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var req FailoverRequest
	if !readBody(w, r, &req) {
		return
	}
	if req.DryRun {
		plan, err := d.PlanFailover(r.Context(), name, req.To)
		if err != nil {
			writeOpError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, plan)
		return
	}
	stream := strings.Contains(r.Header.Get("Accept"), "application/x-ndjson")
	var stop func()
	var feed <-chan store.Entry
	if stream {
		feed, stop = d.events.follow()
		defer stop()
	}
	type result struct {
		out FailoverOutcome
		err error
	}
	done := make(chan result, 1)
	go func() {
		// The failover runs to its end even if the client goes away: it is
		// never left half done by a closed connection.
		out, err := d.Failover(context.WithoutCancel(r.Context()), name, req.To)
		done <- result{out, err}
	}()
	if !stream {
		res := <-done
		if res.err != nil {
			writeOpError(w, res.err)
			return
		}
		writeJSON(w, http.StatusOK, res.out)
		return
	}
	// Streaming: a refusal before anything ran is still a plain 4xx.
	started := false
	enc := json.NewEncoder(w)
	for {
		select {
		case e, ok := <-feed:
			if !ok {
				feed = nil
				continue
			}
			if !failoverEvent(e, name) {
				continue
			}
			if !started {
				w.Header().Set("Content-Type", "application/x-ndjson")
				w.WriteHeader(http.StatusOK)
				started = true
			}
			_ = enc.Encode(map[string]any{"event": e})
			flush(w)
		case res := <-done:
			if res.err != nil && !started {
				writeOpError(w, res.err)
				return
			}
			if res.err == nil && feed != nil {
				// The journal is written asynchronously, in order: the
				// failover-done entry comes after the last step's.
				drainUntilDone(feed, name, func(e store.Entry) {
					if !started {
						w.Header().Set("Content-Type", "application/x-ndjson")
						w.WriteHeader(http.StatusOK)
						started = true
					}
					_ = enc.Encode(map[string]any{"event": e})
				})
			}
			if !started {
				w.Header().Set("Content-Type", "application/x-ndjson")
				w.WriteHeader(http.StatusOK)
			}
			if res.err != nil {
				_ = enc.Encode(map[string]any{"error": res.err.Error()})
			} else {
				_ = enc.Encode(map[string]any{"outcome": res.out})
			}
			flush(w)
			return
		}
	}
}

// failoverEvent says whether e belongs in a failover's step stream.
func failoverEvent(e store.Entry, cluster string) bool {
	if e.Cluster != cluster {
		return false
	}
	switch e.Type {
	case EventStep, EventFailoverPlan, EventSplitBrain, EventOperator, EventCondition, EventFailoverDone:
		return true
	}
	return false
}

// drainUntilDone hands on the failover's remaining journal entries up to
// its failover-done entry, waiting at most a second for it.
func drainUntilDone(feed <-chan store.Entry, cluster string, emit func(store.Entry)) {
	timeout := time.After(time.Second)
	for {
		select {
		case e, ok := <-feed:
			if !ok {
				return
			}
			if failoverEvent(e, cluster) {
				emit(e)
				if e.Type == EventFailoverDone {
					return
				}
			}
		case <-timeout:
			return
		}
	}
}

// PauseRequest is the body of POST /v1/clusters/{name}/pause.
type PauseRequest struct {
	For string `json:"for,omitempty"`
}

// PauseResponse answers pause and resume.
type PauseResponse struct {
	Cluster     string     `json:"cluster"`
	Epoch       uint64     `json:"epoch"`
	PausedUntil *time.Time `json:"paused_until,omitempty"`
}

func (d *Daemon) postPause(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var req PauseRequest
	if !readBody(w, r, &req) {
		return
	}
	dur := time.Hour
	if req.For != "" {
		v, err := time.ParseDuration(req.For)
		if err != nil || v <= 0 || v > MaxPause {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("for=%q: want a duration such as 30m, above 0 and at most %v", req.For, MaxPause))
			return
		}
		dur = v
	}
	until := time.Now().Add(dur).Truncate(time.Second)
	epoch, err := d.Pause(r.Context(), name, until)
	if err != nil {
		writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, PauseResponse{Cluster: name, Epoch: epoch, PausedUntil: &until})
}

func (d *Daemon) postResume(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !readBody(w, r, &struct{}{}) {
		return
	}
	epoch, err := d.Pause(r.Context(), name, time.Time{})
	if err != nil {
		writeOpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, PauseResponse{Cluster: name, Epoch: epoch})
}

// readBody decodes an optional JSON body, refusing unknown fields; it
// answers 400 itself and returns false on bad input.
func readBody(w http.ResponseWriter, r *http.Request, into any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		writeError(w, http.StatusBadRequest, "read the body: "+err.Error())
		return false
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return true
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		writeError(w, http.StatusBadRequest, "the body is not the JSON this call takes: "+err.Error())
		return false
	}
	return true
}

// writeOpError maps an operator API error to its status.
func writeOpError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNoCluster):
		writeError(w, http.StatusNotFound, err.Error()+" (GET /v1/clusters lists them)")
	case errors.Is(err, ErrBadRequest):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrRefused):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, ErrStopped):
		writeError(w, http.StatusServiceUnavailable, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}
