package sentinel

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/imsentinel/imsentinel/promote"
	"github.com/imsentinel/imsentinel/sentinel/buildinfo"
)

// handler routes the admin API (DESIGN.md §7). Every answer is JSON; an
// error is {"error": "..."} with a 4xx or 5xx status.
func (d *Daemon) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", d.getHealth)
	mux.HandleFunc("GET /v1/clusters", d.getClusters)
	mux.HandleFunc("GET /v1/clusters/{name}", d.getCluster)
	mux.HandleFunc("GET /v1/fleet", d.getFleet)
	mux.HandleFunc("GET /v1/events", d.getEvents)
	mux.HandleFunc("POST /v1/clusters/{name}/failover", d.authorized(d.postFailover))
	mux.HandleFunc("POST /v1/clusters/{name}/pause", d.authorized(d.postPause))
	mux.HandleFunc("POST /v1/clusters/{name}/resume", d.authorized(d.postResume))
	for _, a := range promote.InstanceActions {
		mux.HandleFunc("POST /v1/clusters/{name}/instances/{instance}/"+string(a), d.authorized(d.postInstance(string(a))))
	}
	for _, path := range []string{"/healthz", "/v1/clusters", "/v1/clusters/{name}", "/v1/fleet", "/v1/events"} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, r.Method+" "+r.URL.Path+" is not allowed; use GET")
		})
	}
	for _, path := range []string{"/v1/clusters/{name}/failover", "/v1/clusters/{name}/pause", "/v1/clusters/{name}/resume",
		"/v1/clusters/{name}/instances/{instance}/rejoin", "/v1/clusters/{name}/instances/{instance}/fence",
		"/v1/clusters/{name}/instances/{instance}/unfence"} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", "POST")
			writeError(w, http.StatusMethodNotAllowed, r.Method+" "+r.URL.Path+" is not allowed; use POST")
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path+
			" (see GET /v1/clusters, GET /v1/fleet, GET /v1/events, GET /healthz; docs/api.md)")
	})
	return mux
}

// Health is the answer of GET /healthz: the process is up and serving.
type Health struct {
	Status   string    `json:"status"`
	Sentinel string    `json:"sentinel"`
	Fleet    string    `json:"fleet"`
	Version  string    `json:"version"`
	Commit   string    `json:"commit"`
	Started  time.Time `json:"started"`
}

func (d *Daemon) getHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, Health{
		Status: "ok", Sentinel: d.cfg.Sentinel.ID, Fleet: d.cfg.Fleet.Name,
		Version: buildinfo.Version(), Commit: buildinfo.Commit(), Started: d.started,
	})
}

// ClustersResponse is the answer of GET /v1/clusters.
type ClustersResponse struct {
	Sentinel string        `json:"sentinel"`
	Clusters []ClusterView `json:"clusters"`
}

func (d *Daemon) getClusters(w http.ResponseWriter, _ *http.Request) {
	resp := ClustersResponse{Sentinel: d.cfg.Sentinel.ID, Clusters: make([]ClusterView, 0, len(d.clusters))}
	for _, m := range d.clusters {
		resp.Clusters = append(resp.Clusters, *m.view.Load())
	}
	writeJSON(w, http.StatusOK, resp)
}

func (d *Daemon) getCluster(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	for _, m := range d.clusters {
		if m.cfg.Name == name {
			writeJSON(w, http.StatusOK, m.view.Load())
			return
		}
	}
	writeError(w, http.StatusNotFound, "no cluster named "+name+" (GET /v1/clusters lists them)")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing to do
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
