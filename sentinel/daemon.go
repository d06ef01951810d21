package sentinel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/probe/mysqlprobe"
	"github.com/imsentinel/imsentinel/probe/redisprobe"
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
}

// Daemon is one imsentinel process's work: the state store, a monitor per
// cluster and the admin API.
type Daemon struct {
	cfg       config.Config
	log       *slog.Logger
	newProber func(probe.Target) probe.Prober
	listener  net.Listener
	registry  *registry
	journal   journal
	clusters  []*clusterMonitor
	started   time.Time
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
	d := &Daemon{
		cfg:       cfg,
		log:       o.Logger.With("sentinel", cfg.Sentinel.ID),
		newProber: o.NewProber,
		listener:  o.Listener,
		registry:  newRegistry(),
	}
	if d.newProber == nil {
		d.newProber = NewProber
	}
	// Addresses named in the config belong to their cluster before any
	// discovery runs (config validation refused duplicates).
	for _, c := range cfg.Clusters {
		for _, addr := range config.Addresses(c) {
			d.registry.claim(addr, c.Name)
		}
	}
	return d, nil
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
	if st.Fresh() {
		d.log.Info("new state created (a fresh data_dir)", "data_dir", d.cfg.Sentinel.DataDir)
	}

	ln := d.listener
	if ln == nil {
		if ln, err = net.Listen("tcp", d.cfg.Admin.Listen); err != nil {
			return fmt.Errorf("listen for the admin API on %s: %w", d.cfg.Admin.Listen, err)
		}
	}

	jw := newJournalWriter(journalQueue, d.log)
	d.journal = jw
	d.clusters = d.clusters[:0]
	for _, c := range d.cfg.Clusters {
		m, err := newClusterMonitor(c, d)
		if err != nil {
			ln.Close()
			return err
		}
		d.clusters = append(d.clusters, m)
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
	jw.close() // every cluster has stopped: nothing records any more
	<-journalDone
	d.log.Info("imsentinel stopped")
	return runErr
}
