package sentinel

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imsentinel/imsentinel/probe"
)

// The instance endpoints' answers that need no MySQL node: bad input,
// unknown cluster, a Redis cluster, the method. (The MySQL paths run end
// to end in test/failover, TestMySQLErrantReturningPrimaryIsKeptOutAndRejoinRefused;
// the decision is promote.TestDecideInstance.)
func TestInstanceEndpointsRefuseBadInputAndRedis(t *testing.T) {
	fleet := newFakeFleet()
	fleet.role["10.0.0.1:6379"] = probe.RolePrimary
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(testConfig(t.TempDir()), Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		NewProber: fleet.newProber, Listener: ln, ObserveOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- d.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-errc:
		case <-time.After(30 * time.Second):
			t.Error("Run did not return 30s after its context ended")
		}
	}()
	base := "http://" + ln.Addr().String()
	var one ClusterView
	waitGet(t, base+"/v1/clusters/sessions", http.StatusOK, &one)

	for _, tc := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"POST", "/v1/clusters/nope/instances/10.0.0.1:6379/fence", "", http.StatusNotFound, "no such cluster: nope"},
		{"POST", "/v1/clusters/sessions/instances/10.0.0.1:6379/rejoin", `{"force": true}`, http.StatusBadRequest, "force applies to fence only"},
		{"POST", "/v1/clusters/sessions/instances/10.0.0.1:6379/fence", `{"forse": true}`, http.StatusBadRequest, "not the JSON this call takes"},
		{"POST", "/v1/clusters/sessions/instances/10.0.0.1:6379/fence", "", http.StatusConflict, "is for MySQL/MariaDB clusters only"},
		{"POST", "/v1/clusters/sessions/instances/10.0.0.1:6379/demote", "", http.StatusNotFound, "no such endpoint"},
		{"GET", "/v1/clusters/sessions/instances/10.0.0.1:6379/unfence", "", http.StatusMethodNotAllowed, "use POST"},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e map[string]any
		_ = json.Unmarshal(b, &e)
		if msg, _ := e["error"].(string); resp.StatusCode != tc.status || !strings.Contains(msg, tc.want) {
			t.Errorf("%s %s %s = %d %s, want %d with an error containing %q", tc.method, tc.path, tc.body, resp.StatusCode, b, tc.status, tc.want)
		}
	}
	http.DefaultClient.CloseIdleConnections()
}
