package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/imsentinel/imsentinel/cmd/internal/cli"
)

const (
	defaultSentinel = "127.0.0.1:7070" // admin.listen's default
	defaultTimeout  = 10 * time.Second
	// operatorTimeout waits for an operator lease: voters bound to another
	// holder wait out its lease (failover.lease, default 10s) first.
	operatorTimeout = 30 * time.Second
	mimeJSON        = "application/json"
	mimeNDJSON      = "application/x-ndjson"
	maxAnswer       = 16 << 20 // bytes of one JSON answer or one streamed line
)

// apiOptions are the flags and environment of every command that talks to
// the daemons.
type apiOptions struct {
	// Sentinels are admin API addresses (host:port or URL), tried in order.
	Sentinels []string
	Output    string // table or json
	// Timeout bounds each sentinel's dial and answer; for a stream (failover,
	// events --follow), only until the answer starts.
	Timeout time.Duration
	// Token is IMCTL_TOKEN, sent as a bearer token with mutating calls.
	Token string
}

func addAPIFlags(cmd *cobra.Command, o *apiOptions) { addAPIFlagsTimeout(cmd, o, defaultTimeout) }

// addAPIFlagsTimeout is addAPIFlags for a command whose answer waits for
// the fleet (an operator lease: its voters may be bound to another holder
// for up to a lease), with its own default timeout.
func addAPIFlagsTimeout(cmd *cobra.Command, o *apiOptions, timeout time.Duration) {
	cmd.Flags().StringSliceVar(&o.Sentinels, "sentinel", []string{defaultSentinel},
		"admin API of a sentinel, host:port or URL; repeat or comma-separate: the first that answers is used (env IMCTL_SENTINEL)")
	addOutputFlag(cmd, &o.Output)
	cmd.Flags().DurationVar(&o.Timeout, "timeout", timeout,
		"how long to wait for each sentinel to answer (a stream: to start)")
}

// fromEnv takes IMCTL_SENTINEL when --sentinel was not given, and
// IMCTL_TOKEN.
func (o *apiOptions) fromEnv(cmd *cobra.Command, s ioStreams) {
	if env := s.Getenv("IMCTL_SENTINEL"); env != "" && !cmd.Flags().Changed("sentinel") {
		o.Sentinels = strings.FieldsFunc(env, func(r rune) bool { return r == ',' || r == ' ' })
	}
	o.Token = s.Getenv("IMCTL_TOKEN")
}

func (o *apiOptions) validate() error {
	var errs []error
	if err := checkOutput(o.Output); err != nil {
		errs = append(errs, err)
	}
	if len(o.Sentinels) == 0 {
		errs = append(errs, errors.New("--sentinel: give at least one admin API address"))
	}
	for _, s := range o.Sentinels {
		if _, err := baseURL(s); err != nil {
			errs = append(errs, err)
		}
	}
	if o.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout %v: must be positive", o.Timeout))
	}
	if len(errs) > 0 {
		return cli.UsageError{Err: errors.Join(errs...)}
	}
	return nil
}

// baseURL turns a --sentinel value into the API's base URL.
func baseURL(s string) (string, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "/")
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("--sentinel %q: want host:port or an http(s) URL", s)
	}
	return s, nil
}

// about is what a call concerns, so its errors can say what to do.
type about struct {
	// Cluster the call is about: a 404 then means there is no such cluster.
	Cluster string
	// Action names what was asked, for a refusal: "failover of c1".
	Action string
}

// request is one admin API call.
type request struct {
	Method string
	Path   string // with the query
	Body   any    // sent as JSON when not nil
	Accept string // default application/json
	// Stream: the answer's body has no deadline, only its start.
	Stream bool
	About  about
	// Bases are the sentinels to try; default every --sentinel in order.
	Bases []string
}

// answer is a sentinel's successful answer: Close it.
type answer struct {
	Base   string // the sentinel that answered
	Resp   *http.Response
	cancel context.CancelFunc
}

func (a *answer) Close() {
	a.Resp.Body.Close()
	a.cancel()
}

// readAll reads the whole answer and closes it.
func (a *answer) readAll() ([]byte, error) {
	defer a.Close()
	b, err := io.ReadAll(io.LimitReader(a.Resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("read the answer of %s %s: %w", a.Base, a.Resp.Request.URL.Path, err)
	}
	return b, nil
}

// send gives r to the first sentinel that takes it. A GET moves on to the
// next sentinel on any transport error; a POST only when it could not
// connect, so a mutating call is never sent twice. A sentinel's 4xx/5xx is
// an *apiError and ends the search: its answer stands. When none answers,
// the error is an *unreachableError listing each.
func (o *apiOptions) send(ctx context.Context, r request) (*answer, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = json.Marshal(r.Body); err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", r.Method, r.Path, err)
		}
	}
	bases := r.Bases
	if len(bases) == 0 {
		for _, s := range o.Sentinels {
			b, err := baseURL(s)
			if err != nil {
				return nil, cli.UsageError{Err: err}
			}
			bases = append(bases, b)
		}
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext:           (&net.Dialer{Timeout: o.Timeout}).DialContext,
		ResponseHeaderTimeout: o.Timeout,
		TLSHandshakeTimeout:   o.Timeout,
		DisableKeepAlives:     true, // a few calls per run: nothing idles after it
	}}
	var tried []attempt
	for _, base := range bases {
		a, err := o.sendTo(ctx, client, base, r, body)
		if err == nil {
			return a, nil
		}
		var api *apiError
		if errors.As(err, &api) || ctx.Err() != nil {
			return nil, err
		}
		if r.Method != http.MethodGet && !neverSent(err) {
			return nil, fmt.Errorf("%w; the sentinel may have received it: check `imctl events` before trying again", err)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the attempt names the sentinel already
		}
		tried = append(tried, attempt{Base: base, Err: err})
	}
	return nil, &unreachableError{Tried: tried}
}

func (o *apiOptions) sendTo(ctx context.Context, client *http.Client, base string, r request, body []byte) (*answer, error) {
	var cctx context.Context
	var cancel context.CancelFunc
	if r.Stream {
		cctx, cancel = context.WithCancel(ctx)
	} else {
		cctx, cancel = context.WithTimeout(ctx, o.Timeout)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(cctx, r.Method, base+r.Path, rd)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Accept", cmp.Or(r.Accept, mimeJSON))
	if body != nil {
		req.Header.Set("Content-Type", mimeJSON)
	}
	if r.Method != http.MethodGet && o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+o.Token)
	}
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode >= 400 {
		defer cancel()
		defer resp.Body.Close()
		return nil, readAPIError(resp, base, r, o.Token != "")
	}
	return &answer{Base: base, Resp: resp, cancel: cancel}, nil
}

// getJSON GETs path from the first sentinel that answers: the raw answer
// and the sentinel that gave it.
func (o *apiOptions) getJSON(ctx context.Context, path string, ab about) ([]byte, string, error) {
	a, err := o.send(ctx, request{Method: http.MethodGet, Path: path, About: ab})
	if err != nil {
		return nil, "", err
	}
	b, err := a.readAll()
	return b, a.Base, err
}

// decode unmarshals a sentinel's answer, saying whose it was on failure.
func decode(raw []byte, base, path string, into any) error {
	if err := json.Unmarshal(raw, into); err != nil {
		return fmt.Errorf("decode the answer of %s%s: %w (is it an imsentinel admin API?)", base, path, err)
	}
	return nil
}

// neverSent says whether a transport error happened before the request
// could reach the server: the connection was not made.
func neverSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// attempt is a sentinel that did not answer, and why.
type attempt struct {
	Base string
	Err  error
}

// unreachableError: no sentinel answered (exit 3).
type unreachableError struct{ Tried []attempt }

func (e *unreachableError) Error() string {
	var b strings.Builder
	b.WriteString("no sentinel reachable:")
	for _, t := range e.Tried {
		fmt.Fprintf(&b, "\n  %s: %v", t.Base, t.Err)
	}
	b.WriteString("\ncheck that imsentinel runs there and that --sentinel (or IMCTL_SENTINEL) names its admin.listen address")
	return b.String()
}

// apiError is a sentinel's 4xx/5xx answer; its message says what to do.
type apiError struct {
	Base     string // the sentinel that answered
	Method   string
	Path     string
	Status   int
	Msg      string // the sentinel's reason
	About    about
	TokenSet bool // IMCTL_TOKEN was sent
}

func (e *apiError) Error() string {
	call := e.Method + " " + e.Path
	switch {
	case e.Status == http.StatusUnauthorized && !e.TokenSet:
		return fmt.Sprintf("the sentinel wants a token: set IMCTL_TOKEN to its admin.token (%s answered %s: %s)", e.Base, call, e.Msg)
	case e.Status == http.StatusUnauthorized:
		return fmt.Sprintf("the sentinel refused the token in IMCTL_TOKEN: it must equal its admin.token (%s answered %s: %s)", e.Base, call, e.Msg)
	case e.Status == http.StatusNotFound && e.About.Cluster != "" && !strings.HasPrefix(e.Msg, "no such endpoint"):
		return fmt.Sprintf("no cluster named %s; `imctl status` lists them", e.About.Cluster)
	case e.Status == http.StatusNotFound:
		return fmt.Sprintf("%s does not serve %s (%s): is the daemon older than imctl? compare `imctl version` with its GET /healthz", e.Base, call, e.Msg)
	case e.Status == http.StatusConflict && e.About.Action != "":
		return fmt.Sprintf("%s refused by %s: %s", e.About.Action, e.Base, e.Msg)
	case e.Status == http.StatusBadRequest:
		return fmt.Sprintf("%s rejected %s as bad input: %s", e.Base, call, e.Msg)
	}
	return fmt.Sprintf("%s answered %s with %d %s: %s", e.Base, call, e.Status, http.StatusText(e.Status), e.Msg)
}

func readAPIError(resp *http.Response, base string, r request, tokenSet bool) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		e.Error = strings.TrimSpace(string(body))
	}
	path, _, _ := strings.Cut(r.Path, "?")
	return &apiError{Base: base, Method: r.Method, Path: path, Status: resp.StatusCode, Msg: e.Error,
		About: r.About, TokenSet: tokenSet}
}
