package sentinel

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/probe"
	"github.com/imsentinel/imsentinel/quorum"
	"github.com/imsentinel/imsentinel/quorum/store"
)

// The step API a running daemon offers executors and the admin API: an
// operator lease over the fleet transport, a step authorized only under it
// and only when the lease covers its deadline, its intent persisted first,
// and nothing after the release (DESIGN.md §5.5–5.7).
func TestDaemonStepAPI(t *testing.T) {
	fleet := newFakeFleet()
	fleet.role["10.0.0.1:6379"] = probe.RolePrimary
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Failover.Lease, cfg.Failover.ElectionTimeout = 4*time.Second, 500*time.Millisecond
	cfg.Failover.Steps.Fence, cfg.Failover.Steps.Promote, cfg.Failover.Steps.Repoint = time.Second, time.Second, time.Second
	cfg.Failover.Steps.Commit, cfg.Failover.Steps.Route = time.Second, time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), NewProber: fleet.newProber, Listener: ln, ObserveOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- d.Run(ctx) }()

	call := func(f func(ctx context.Context) error) error {
		c, stop := context.WithTimeout(context.Background(), 30*time.Second)
		defer stop()
		return f(c)
	}
	// Wait for Run to have built the monitors.
	var err2 error
	for range 300 {
		if err2 = call(func(c context.Context) error { return d.ReleaseLease(c, "sessions") }); !errors.Is(err2, ErrNoCluster) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err2 != nil {
		t.Fatalf("daemon not running: %v", err2)
	}
	if err := call(func(c context.Context) error { return d.Authorize(c, "sessions", "promote", time.Second, nil) }); err == nil {
		t.Fatalf("a step authorized without a lease")
	}
	if err := call(func(c context.Context) error { return d.RequestLease(c, "nope", quorum.ReasonOperator, true) }); !errors.Is(err, ErrNoCluster) {
		t.Errorf("unknown cluster: %v", err)
	}
	// A fresh data_dir abstains for one lease; the request waits it out.
	if err := call(func(c context.Context) error { return d.RequestLease(c, "sessions", quorum.ReasonOperator, true) }); err != nil {
		t.Fatalf("operator lease: %v", err)
	}
	intent := &quorum.Intent{Step: "promote", Target: "10.0.0.2:6379", OldPrimary: "10.0.0.1:6379"}
	if err := call(func(c context.Context) error { return d.Authorize(c, "sessions", "promote", time.Second, intent) }); err != nil {
		t.Fatalf("authorize promote under the lease: %v", err)
	}
	err = call(func(c context.Context) error { return d.Authorize(c, "sessions", "catch-up", time.Minute, nil) })
	if !errors.Is(err, quorum.ErrLeaseShort) || !strings.Contains(err.Error(), "needs 1m0s") {
		t.Errorf("a step longer than the lease: %v, want ErrLeaseShort", err)
	}
	if err := call(func(c context.Context) error { return d.ReleaseLease(c, "sessions") }); err != nil {
		t.Fatal(err)
	}
	if err := call(func(c context.Context) error { return d.Authorize(c, "sessions", "promote", time.Second, nil) }); err == nil {
		t.Errorf("a step authorized after the release")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
	// The intent was persisted (fsync) before the step was authorized.
	st, err := store.Open(dir, store.Options{SentinelID: "s1", FleetName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	in, found, err := st.Intent("sessions")
	if err != nil || !found || in.Step != "promote" || in.Target != "10.0.0.2:6379" || in.Holder != "s1" {
		t.Errorf("persisted intent = %+v (found %v, err %v), want s1's promote of 10.0.0.2:6379", in, found, err)
	}
}
