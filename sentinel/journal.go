package sentinel

import (
	"log/slog"
	"sync/atomic"

	"github.com/imsentinel/imsentinel/quorum/store"
)

// appender is the state store's journal side.
type appender interface {
	Append(store.Entry) (uint64, error)
}

// journalQueue is how many entries may wait for the disk before new ones
// are dropped.
const journalQueue = 4096

// journalWriter appends journal entries to the state store from one
// goroutine, so the cluster goroutines never wait on the disk: a hung disk
// must not stall failure detection. When the queue is full an entry is
// dropped, counted and warned about.
type journalWriter struct {
	ch      chan store.Entry
	dropped atomic.Uint64
	log     *slog.Logger
}

func newJournalWriter(size int, log *slog.Logger) *journalWriter {
	return &journalWriter{ch: make(chan store.Entry, size), log: log}
}

// Record queues e without blocking. It must not be called after close.
func (w *journalWriter) Record(e store.Entry) {
	select {
	case w.ch <- e:
	default:
		// Warn on the 1st, 2nd, 4th, 8th… drop: loud, but not a flood.
		if n := w.dropped.Add(1); n&(n-1) == 0 {
			w.log.Warn("journal queue full: entry dropped (is the data_dir disk slow?)",
				"dropped_total", n, "type", e.Type, "cluster", e.Cluster)
		}
	}
}

// run appends queued entries until close, then returns once the queue is
// drained.
func (w *journalWriter) run(st appender) {
	for e := range w.ch {
		if _, err := st.Append(e); err != nil {
			w.log.Error("append to journal", "type", e.Type, "cluster", e.Cluster, "err", err)
		}
	}
}

// close ends run after the queued entries are written.
func (w *journalWriter) close() { close(w.ch) }
