package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/imsentinel/imsentinel/promote"
	"github.com/imsentinel/imsentinel/quorum/store"
	"github.com/imsentinel/imsentinel/sentinel"
)

// Events are printed one per line with fixed columns, so a followed stream
// lines up without waiting for the next event.
const eventFormat = "%6s  %-24s  %-16s  %-8s  %-24s  %s"

var eventHeader = strings.TrimRight(fmt.Sprintf(eventFormat, "SEQ", "AT", "CLUSTER", "SENTINEL", "TYPE", "DETAIL"), " ")

func eventLine(e store.Entry) string {
	return strings.TrimRight(fmt.Sprintf(eventFormat, fmt.Sprint(e.Seq), showTime(e.At), orDash(e.Cluster),
		orDash(e.Sentinel), e.Type, summarize(e)), " ")
}

// eventDetail is the detail fields imctl knows how to say in words.
type eventDetail struct {
	Epoch   uint64   `json:"epoch"`
	Detail  *string  `json:"detail"` // the agreement's own sentence
	Step    string   `json:"step"`
	Targets []string `json:"targets"`
	TookMS  *int64   `json:"took_ms"`
	Err     string   `json:"err"`
	// failover-done
	Committed *bool  `json:"committed"`
	Routed    bool   `json:"routed"`
	Why       string `json:"why"`
	// failover-plan
	Plan *promote.Plan `json:"plan"`
}

// summarize says an event's detail in one line: a sentence for the types
// imctl knows, key=value pairs for the rest.
func summarize(e store.Entry) string {
	if len(e.Detail) == 0 {
		return ""
	}
	var d eventDetail
	_ = json.Unmarshal(e.Detail, &d) // a detail of another shape falls through to key=value
	epoch := ""
	if d.Epoch > 0 {
		epoch = fmt.Sprintf("epoch %d: ", d.Epoch)
	}
	switch {
	case e.Type == sentinel.EventStep && d.Step != "":
		s := epoch + d.Step + " " + list(d.Targets)
		took := ""
		if d.TookMS != nil {
			took = fmt.Sprintf(" in %dms", *d.TookMS)
		}
		if d.Err != "" {
			return s + ": FAILED" + took + ": " + d.Err
		}
		return s + ": ok" + took
	case e.Type == sentinel.EventFailoverDone && d.Committed != nil:
		if d.Why != "" {
			return fmt.Sprintf("%sdid not finish (committed %s, routed %s): %s", epoch, yesNo(*d.Committed), yesNo(d.Routed), d.Why)
		}
		return fmt.Sprintf("%sdone (committed %s, routed %s)", epoch, yesNo(*d.Committed), yesNo(d.Routed))
	case e.Type == sentinel.EventFailoverPlan && d.Plan != nil:
		if d.Plan.NewPrimary == "" {
			return epoch + "no plan: " + d.Plan.Why
		}
		return fmt.Sprintf("%s%s -> %s, %d steps, fence_wait %s", epoch, d.Plan.OldPrimary, d.Plan.NewPrimary,
			len(d.Plan.Steps), d.Plan.FenceWait)
	case d.Detail != nil:
		return epoch + *d.Detail
	}
	return keyValues(e.Detail)
}

// keyValues prints a JSON object as sorted key=value pairs, strings bare,
// anything else as compact JSON cut at 120 bytes.
func keyValues(raw json.RawMessage) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return string(raw)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		var s string
		if json.Unmarshal(m[k], &s) != nil {
			var b bytes.Buffer
			if json.Compact(&b, m[k]) != nil {
				b.Write(m[k])
			}
			s = b.String()
			if len(s) > 120 {
				s = s[:117] + "..."
			}
		}
		parts = append(parts, k+"="+s)
	}
	return strings.Join(parts, " ")
}
