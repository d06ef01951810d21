package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := writeConfig(t, dir, "")
	bad := writeConfig(t, dir, "detection: {probe_interval: 200ms, probe_timeout: 300ms}\nroutnig: {address: x}\n")

	r := imctl(t, invocation{Args: []string{"config", "check", good}})
	if r.Code != exitOK || r.Out != good+": valid (1 clusters, fleet im-prod of 1 members)\n" {
		t.Errorf("config check good = exit %d %q %q", r.Code, r.Out, r.Err)
	}
	r = imctl(t, invocation{Args: []string{"config", "check", good, "-o", "json"}})
	var ans configCheckAnswer
	if err := json.Unmarshal([]byte(r.Out), &ans); err != nil || r.Code != exitOK || !ans.Valid || ans.Clusters != 1 || ans.Fleet != "im-prod" {
		t.Errorf("config check good -o json = exit %d %s (%v)", r.Code, r.Out, err)
	}

	r = imctl(t, invocation{Args: []string{"config", "check", bad}})
	if r.Code != exitUsage || !strings.Contains(r.Err, "detection.probe_timeout: 300ms must be shorter than detection.probe_interval (200ms)") {
		t.Errorf("config check bad = exit %d %q, want 2 and the problems", r.Code, r.Err)
	}
	r = imctl(t, invocation{Args: []string{"config", "check", bad, "-o", "json"}})
	ans = configCheckAnswer{}
	if err := json.Unmarshal([]byte(r.Out), &ans); err != nil || r.Code != exitUsage || ans.Valid || len(ans.Problems) < 2 ||
		ans.Problems[0].Key == "" || ans.Problems[0].Msg == "" {
		t.Errorf("config check bad -o json = exit %d %s (%v), want 2 and the problems by key", r.Code, r.Out, err)
	}
}

func TestVersion(t *testing.T) {
	r := imctl(t, invocation{Args: []string{"version"}})
	if r.Code != exitOK || !strings.HasPrefix(r.Out, "imctl dev (commit unknown, go") {
		t.Errorf("version = exit %d %q", r.Code, r.Out)
	}
	r = imctl(t, invocation{Args: []string{"--version"}})
	if r.Code != exitOK || !strings.HasPrefix(r.Out, "imctl dev (commit ") {
		t.Errorf("--version = exit %d %q", r.Code, r.Out)
	}
	r = imctl(t, invocation{Args: []string{"version", "-o", "json"}})
	var v versionAnswer
	if err := json.Unmarshal([]byte(r.Out), &v); err != nil || v.Program != "imctl" || v.Version != "dev" || v.Go == "" {
		t.Errorf("version -o json = %s (%v)", r.Out, err)
	}
}

// Usage errors exit 2 before anything is asked of a sentinel.
func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `unknown command "bogus" for "imctl"`},
		{[]string{"status", "extra"}, `unknown command "extra" for "imctl status"`},
		{[]string{"status", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"status", "-o", "yaml"}, `--output "yaml": want table or json`},
		{[]string{"status", "--timeout", "0s"}, "--timeout 0s: must be positive"},
		{[]string{"sentinels", "--sentinel", "ftp://x"}, `--sentinel "ftp://x": want host:port or an http(s) URL`},
		{[]string{"cluster", "bogus"}, `unknown command "bogus" for "imctl cluster"`},
		{[]string{"cluster", "show"}, "imctl cluster show takes NAME, got 0 arguments; see imctl cluster show --help"},
		{[]string{"cluster", "pause", "a", "b"}, "imctl cluster pause takes NAME, got 2 arguments"},
		{[]string{"failover"}, "imctl failover takes NAME, got 0 arguments"},
		{[]string{"failover", "c", "--to"}, "flag needs an argument: --to"},
		{[]string{"events", "--limit", "5000"}, "--limit 5000: want 1 to 1000"},
		{[]string{"events", "--since", "-1"}, `invalid argument "-1" for "--since"`},
		{[]string{"config", "check"}, "imctl config check takes FILE, got 0 arguments"},
		{[]string{"config", "check", "/nonexistent.yaml"}, "read config /nonexistent.yaml"},
		{[]string{"version", "-o", "xml"}, `--output "xml": want table or json`},
	} {
		r := imctl(t, invocation{Args: c.args})
		if r.Code != exitUsage || !strings.Contains(r.Err, c.want) {
			t.Errorf("imctl %v = exit %d %q, want 2 and %q", c.args, r.Code, r.Err, c.want)
		}
	}
}

// The exit codes the package comment and docs/cli.md promise.
func TestExitCodes(t *testing.T) {
	api := newFakeAPI(t)
	api.Clusters = []clusterView{sampleCluster()}
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{}, exitOK},
		{[]string{"cluster"}, exitOK},
		{[]string{"version"}, exitOK},
		{api.args("status"), exitOK},
		{api.args("cluster", "show", "sessions-01"), exitOK},
		{api.args("cluster", "show", "nope"), exitFailed},
		{[]string{"status", "--bogus"}, exitUsage},
		{[]string{"status", "--sentinel", "127.0.0.1:1"}, exitUnreachable},
		{[]string{"sentinels", "--sentinel", "127.0.0.1:1"}, exitUnreachable},
		{[]string{"events", "--sentinel", "127.0.0.1:1"}, exitUnreachable},
		{[]string{"failover", "c", "--yes", "--sentinel", "127.0.0.1:1"}, exitUnreachable},
	} {
		if r := imctl(t, invocation{Args: c.args}); r.Code != c.want {
			t.Errorf("imctl %v = exit %d, want %d (stderr %q)", c.args, r.Code, c.want, r.Err)
		}
	}
}

// docs/cli.md is generated from the commands; this fails when it is stale.
func TestCLIReference(t *testing.T) {
	var b bytes.Buffer
	if err := writeCLIReference(&b, newRootCmd(ioStreams{})); err != nil {
		t.Fatal(err)
	}
	const file = "../../docs/cli.md"
	have, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read %s: %v; create it with `make docs` (%s)", file, err, gendocCommand)
	}
	if !bytes.Equal(have, b.Bytes()) {
		t.Errorf("docs/cli.md is stale: regenerate it with `make docs` (%s)", gendocCommand)
	}
	for _, want := range []string{"## imctl failover\n", "## imctl route get\n", "3  unreachable", "IMCTL_TOKEN"} {
		if !bytes.Contains(b.Bytes(), []byte(want)) {
			t.Errorf("the CLI reference lacks %q", want)
		}
	}
	if bytes.Contains(b.Bytes(), []byte("__gendoc [")) || bytes.Contains(b.Bytes(), []byte("## imctl completion")) {
		t.Errorf("the CLI reference documents hidden or generated commands")
	}
}
