package redisprobe

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/imsentinel/imsentinel/probe"
)

// DefaultTimeout bounds each call of a round when the target has no
// Timeout.
const DefaultTimeout = time.Second

// Prober probes one Redis instance. It holds one small go-redis client (at
// most two connections) for its whole life.
type Prober struct {
	t       probe.Target
	timeout time.Duration
	c       *redis.Client
}

var _ probe.Prober = (*Prober)(nil)

// New returns a prober for t. It does not connect: the first Probe does.
// Dialing, each read and each write are bounded by t.Timeout
// (DefaultTimeout when zero); there are no retries, so a dead server costs
// one timeout, and a refused port fails at once.
//
// go-redis logs pool errors through a process-wide logger; main silences it
// with redis.SetLogger.
func New(t probe.Target) *Prober {
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	addr := t.Dial
	if addr == "" {
		addr = t.Address
	}
	c := redis.NewClient(&redis.Options{
		Addr:                  addr,
		Username:              t.Username,
		Password:              t.Password,
		Protocol:              2, // no HELLO round trip
		DialTimeout:           timeout,
		DialerRetries:         1,
		ReadTimeout:           timeout,
		WriteTimeout:          timeout,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		PoolSize:              2,
		PoolTimeout:           timeout,
		DisableIdentity:       true, // no CLIENT SETINFO
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	})
	return &Prober{t: t, timeout: timeout, c: c}
}

// Probe runs one round: PING (its round trip is the RTT, which includes
// dialing when no pooled connection was open), then
// `INFO server replication persistence`, then one CONFIG GET of the settings
// the daemon audits. It never writes. It returns by ctx's deadline, each
// call bounded by the target's timeout.
//
// Reachable is true when PING answered PONG, -LOADING or -MASTERDOWN. A
// failed INFO leaves the role unknown; a failed CONFIG GET (renamed, or
// denied by ACL) only leaves Settings nil. Either is recorded in Error.
func (p *Prober) Probe(ctx context.Context) (obs probe.Observation) {
	obs = probe.Observation{Instance: p.t.Address, At: time.Now()}
	var errs []string
	fail := func(doing string, err error) {
		errs = append(errs, p.t.Errorf(doing, err))
	}
	defer func() { obs.Error = strings.Join(errs, "; ") }()

	var pingErr error
	p.call(ctx, func(ctx context.Context) {
		start := time.Now()
		pingErr = p.c.Ping(ctx).Err()
		obs.RTT = time.Since(start)
	})
	loading, masterDown := redis.IsLoadingError(pingErr), redis.IsMasterDownError(pingErr)
	if refused := loginRefused(pingErr); refused != "" {
		// The server answered: it is alive, and says nothing more to this
		// sentinel (a rotated password must never fail over a healthy
		// primary). The refusal is the observation's Access.
		fail("authenticate", pingErr)
		obs.Reachable = true
		user := p.t.Username
		if user == "" {
			user = "default"
		}
		obs.Access = &probe.Access{CheckedAt: obs.At, Accounts: []probe.AccountAccess{
			{Purpose: probe.PurposeAdmin, User: user, Refused: refused}}}
		return obs
	}
	if pingErr != nil && !loading && !masterDown {
		fail("ping", pingErr)
		return obs
	}
	obs.Reachable = true

	var info string
	var infoErr error
	p.call(ctx, func(ctx context.Context) {
		info, infoErr = p.c.Info(ctx, "server", "replication", "persistence").Result()
	})
	if infoErr != nil {
		fail("info server replication persistence", infoErr)
		return obs
	}

	args := []any{"config", "get",
		"replica-priority", "min-replicas-to-write", "min-replicas-max-lag",
		"repl-ping-replica-period", "replica-read-only"}
	var config map[string]string
	var configErr error
	p.call(ctx, func(ctx context.Context) {
		cmd := redis.NewMapStringStringCmd(ctx, args...)
		configErr = p.c.Process(ctx, cmd)
		config = cmd.Val()
	})
	if configErr != nil {
		fail("config get", configErr)
		config = nil
	}

	parsed, err := factsFromInfo(ParseInfo(info), config)
	if err != nil {
		fail("read info", err)
	}
	parsed.facts.Loading = parsed.facts.Loading || loading
	parsed.facts.PrimaryDown = masterDown
	obs.Role = parsed.role
	obs.Primary = parsed.primary
	obs.Replicas = parsed.replicas
	obs.ReadOnly = parsed.readOnly
	obs.Redis = &parsed.facts
	return obs
}

// call runs f under ctx bounded by the target's timeout.
func (p *Prober) call(ctx context.Context, f func(ctx context.Context)) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	f(ctx)
}

// Close closes the client's connections. Call it once, after the last Probe.
func (p *Prober) Close() error {
	if err := p.c.Close(); err != nil {
		return fmt.Errorf("close redis prober %s: %w", p.t.Address, err)
	}
	return nil
}

// loginRefused is the server's refusal of this sentinel's credentials, ""
// when err is none: -WRONGPASS (a wrong password or a disabled ACL user),
// -NOAUTH (a password is required and none was given), or the error AUTH
// answers on a server with no password set (measured on redis 7.0.15:
// "ERR AUTH <password> called without any password configured for the
// default user"; before 6.0 "ERR Client sent AUTH, but no password is
// set" and "ERR invalid password").
func loginRefused(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	for _, prefix := range []string{"WRONGPASS", "NOAUTH", "ERR AUTH", "ERR Client sent AUTH", "ERR invalid password"} {
		if strings.HasPrefix(msg, prefix) {
			return msg
		}
	}
	return ""
}
