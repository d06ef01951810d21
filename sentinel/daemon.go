package sentinel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/probe/mysqlprobe"
	"github.com/imsentinel/imsentinel/probe/redisprobe"
	"github.com/imsentinel/imsentinel/promote/mysqlnode"
	"github.com/imsentinel/imsentinel/promote/redisnode"
	"github.com/imsentinel/imsentinel/promote/route"
	"github.com/imsentinel/imsentinel/quorum"
	"github.com/imsentinel/imsentinel/quorum/store"
	"github.com/imsentinel/imsentinel/sentinel/config"
)

// Options are the daemon's dependencies besides its config.
type Options struct {
	// Logger receives the daemon's log. Required.
	Logger *slog.Logger
	// NewProber makes the prober of one instance. Default: redisprobe or
	// mysqlprobe by the target's kind. Tests pass fakes.
	NewProber func(probe.Target) probe.Prober
	// Listener, when set, serves the admin API instead of listening on
	// admin.listen (tests use it to pick a free port race-free).
	Listener net.Listener
	// ObserveOnly keeps the executors off: the agreement runs, but this
	// daemon writes to no data node and no route (in-process tests with
	// fake probers, whose addresses lead nowhere).
	ObserveOnly bool
}

// Daemon is one imsentinel process's work: the state store, a monitor per
// cluster and the admin API.
type Daemon struct {
	cfg       config.Config
	log       *slog.Logger
	newProber func(probe.Target) probe.Prober
	listener  net.Listener
	registry  *registry
	router    routeWriter
	executors bool           // false: ObserveOnly
	store     *store.Store   // the durable state, for the journal's readers
	events    *journalWriter // the journal's writer, for its followers
	stopping  chan struct{}  // closed when Run begins to stop: ends event streams
	journal   journal
	clusters  []*clusterMonitor
	started   time.Time

	// agreement (DESIGN.md §5)
	voters    quorum.Voters
	state     stateStore // the durable state; nil in tests without one
	fleet     link       // the fleet link; nil for a fleet of one in tests
	learned   bool       // the data_dir is not a learner
	restarted bool       // the data_dir existed before this start
	learnedN  atomic.Int64
	markLearn func() error
	// monitors is published once Run has built the cluster monitors, for
	// callers on other goroutines (the step API).
	monitors atomic.Pointer[map[string]*clusterMonitor]
}

// redisAdmin opens an admin connection to one Redis node of a cluster.
func (d *Daemon) redisAdmin(cluster config.ClusterConfig) func(addr string) redisAdmin {
	return func(addr string) redisAdmin {
		return redisnode.Open(redisnode.Options{Address: addr, Username: cluster.Credentials.Username,
			Password: cluster.Credentials.Password.Reveal(), Fleet: d.cfg.Fleet.Name, Sentinel: d.cfg.Sentinel.ID,
			Timeout: adminTimeout})
	}
}

// mysqlAdmin opens an admin connection to one MySQL node of a cluster.
func (d *Daemon) mysqlAdmin(cluster config.ClusterConfig) func(addr string) mysqlAdmin {
	return func(addr string) mysqlAdmin {
		return mysqlnode.Open(mysqlnode.Options{Address: addr, Username: cluster.Credentials.Username,
			Password: cluster.Credentials.Password.Reveal(), Timeout: adminTimeout,
			SpareUsers: cluster.Credentials.SpareUsers})
	}
}

// NewProber returns the production prober for a target's kind.
func NewProber(t probe.Target) probe.Prober {
	if t.Kind == probe.KindMySQL {
		return mysqlprobe.New(t)
	}
	return redisprobe.New(t)
}

// New checks that the config can run and prepares a daemon. It does no I/O:
// Run opens the state, the listener and the probes.
func New(cfg config.Config, o Options) (*Daemon, error) {
	if o.Logger == nil {
		return nil, errors.New("new daemon: no logger")
	}
	if ps := config.Validate(cfg); len(ps) > 0 {
		return nil, ps
	}
	voters, err := votersOf(cfg)
	if err != nil {
		return nil, fmt.Errorf("new daemon: %w", err)
	}
	d := &Daemon{
		cfg:       cfg,
		log:       o.Logger.With("sentinel", cfg.Sentinel.ID),
		newProber: o.NewProber,
		listener:  o.Listener,
		registry:  newRegistry(),
		voters:    voters,
		learned:   true,
	}
	if d.newProber == nil {
		d.newProber = NewProber
	}
	d.executors = !o.ObserveOnly
	// Addresses named in the config belong to their cluster before any
	// discovery runs (config validation refused duplicates).
	for _, c := range cfg.Clusters {
		for _, addr := range config.Addresses(c) {
			d.registry.claim(addr, c.Name)
		}
	}
	return d, nil
}

// checkMembers refuses a fleet.members that differs by more than one
// member from the list this data_dir last ran with, so that old and new
// majorities always overlap (DESIGN.md §5.1), and records the list.
func (d *Daemon) checkMembers(st *store.Store) error {
	ids := d.voters.IDs()
	prev, found, err := st.Members()
	if err != nil {
		return fmt.Errorf("check fleet.members: %w", err)
	}
	if found {
		old := make([]quorum.MemberID, len(prev))
		for i, id := range prev {
			old[i] = quorum.MemberID(id)
		}
		before, err := quorum.NewVoters(d.cfg.Fleet.Name, membersOf(old))
		if err == nil {
			err = before.Compatible(d.cfg.Fleet.Name, ids)
		}
		if err != nil {
			return fmt.Errorf("refusing to start: fleet.members %v against %v that %s last ran with: %w",
				ids, prev, d.cfg.Sentinel.DataDir, err)
		}
		if before.Fingerprint() != d.voters.Fingerprint() {
			d.log.Warn("fleet.members changed by one member", "before", prev, "now", ids)
		}
	}
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = string(id)
	}
	if err := st.SaveMembers(names); err != nil {
		return fmt.Errorf("record fleet.members: %w", err)
	}
	return nil
}

func membersOf(ids []quorum.MemberID) []quorum.Member {
	ms := make([]quorum.Member, len(ids))
	for i, id := range ids {
		ms[i] = quorum.Member{ID: id}
	}
	return ms
}

// clusterLearned is called once by each cluster whose agreement has caught
// up; when all have, the data_dir is marked learned for good.
func (d *Daemon) clusterLearned() {
	if d.learnedN.Add(1) != int64(len(d.cfg.Clusters)) || d.markLearn == nil {
		return
	}
	if err := d.markLearn(); err != nil {
		d.log.Error("mark the state learned", "err", err)
		return
	}
	d.log.Info("caught up from the fleet: voting")
}

// Run opens the state in data_dir, starts probing every cluster and serves
// the admin API until ctx ends; then it stops everything it started and
// returns. It returns an error when it cannot start (state locked, listener
// busy) or when the admin server fails.
func (d *Daemon) Run(ctx context.Context) error {
	d.started = time.Now()
	st, err := store.Open(d.cfg.Sentinel.DataDir, store.Options{
		SentinelID: d.cfg.Sentinel.ID,
		FleetName:  d.cfg.Fleet.Name,
	})
	if err != nil {
		return fmt.Errorf("open state in %s: %w", d.cfg.Sentinel.DataDir, err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			d.log.Error("close state", "err", err)
		}
	}()
	learner, err := st.Learner()
	if err != nil {
		st.Close()
		return fmt.Errorf("open state in %s: %w", d.cfg.Sentinel.DataDir, err)
	}
	if err := d.checkMembers(st); err != nil {
		st.Close()
		return err
	}
	d.state, d.learned, d.restarted, d.markLearn = st, !learner, !st.Fresh(), st.MarkLearned
	switch {
	case st.Fresh():
		d.log.Info("new state created (a fresh data_dir): learning from the fleet before voting",
			"data_dir", d.cfg.Sentinel.DataDir)
	case learner:
		d.log.Info("state has not finished learning from the fleet: learning before voting")
	default:
		d.log.Info("restarted with existing state: abstaining from votes for one lease",
			"lease", d.cfg.Failover.Lease)
	}

	ln := d.listener
	if ln == nil {
		if ln, err = net.Listen("tcp", d.cfg.Admin.Listen); err != nil {
			return fmt.Errorf("listen for the admin API on %s: %w", d.cfg.Admin.Listen, err)
		}
	}

	fl, err := newFleet(d.cfg, d.voters, d.log)
	if err != nil {
		ln.Close()
		return err
	}
	d.fleet = fl

	if d.executors {
		w, err := route.New(route.Options{Addr: d.cfg.Routing.Address, Username: d.cfg.Routing.Username,
			Password: d.cfg.Routing.Password.Reveal(), DB: d.cfg.Routing.DB, Prefix: d.cfg.Routing.Prefix,
			Timeout: d.cfg.Routing.Timeout, Fleet: d.cfg.Fleet.Name, Sentinel: d.cfg.Sentinel.ID})
		if err != nil {
			ln.Close()
			fl.t.Close()
			return fmt.Errorf("routing redis: %w", err) // validated; unreachable
		}
		defer w.Close()
		d.router = w
	}

	jw := newJournalWriter(journalQueue, d.log)
	d.journal, d.events, d.store = jw, jw, st
	d.stopping = make(chan struct{})
	d.clusters = d.clusters[:0]
	for _, c := range d.cfg.Clusters {
		m, err := newClusterMonitor(c, d)
		if err != nil {
			ln.Close()
			fl.t.Close()
			return err
		}
		d.clusters = append(d.clusters, m)
	}
	byName := make(map[string]*clusterMonitor, len(d.clusters))
	for _, m := range d.clusters {
		byName[m.cfg.Name] = m
	}
	d.monitors.Store(&byName)
	fl.route = func(msg quorum.Message) {
		m, ok := byName[msg.Cluster()]
		if !ok {
			d.log.Debug("agreement message for a cluster not configured here", "cluster", msg.Cluster(), "sentinel", msg.From)
			return
		}
		select {
		case m.inbox <- msg:
		default:
			d.log.Warn("cluster inbox full: agreement message dropped", "cluster", m.cfg.Name, "sentinel", msg.From)
		}
	}

	srv := &http.Server{
		Handler:           d.handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	journalDone := make(chan struct{})
	go func() {
		defer close(journalDone)
		jw.run(st)
	}()

	var wg sync.WaitGroup
	for _, m := range d.clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.run(ctx)
		}()
	}
	fl.offerState(func() []quorum.Message {
		var all []quorum.Message
		for _, m := range d.clusters {
			if s := m.shared.Load(); s != nil {
				all = append(all, *s...)
			}
		}
		return all
	})
	fleetDone := make(chan struct{})
	go func() {
		defer close(fleetDone)
		fl.run(ctx)
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	d.log.Info("imsentinel started", "admin", ln.Addr().String(), "clusters", len(d.clusters),
		"fleet", d.cfg.Fleet.Name, "data_dir", d.cfg.Sentinel.DataDir)

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = fmt.Errorf("serve admin API on %s: %w", ln.Addr(), err)
	}
	close(d.stopping)
	cancel()
	shutdownCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		d.log.Warn("admin API did not shut down cleanly", "err", err)
	}
	if runErr == nil {
		if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
			runErr = fmt.Errorf("serve admin API: %w", err)
		}
	}
	wg.Wait()
	<-fleetDone
	jw.close() // every cluster has stopped: nothing records any more
	<-journalDone
	d.log.Info("imsentinel stopped")
	return runErr
}
