package sentinel

import (
	"log/slog"
	"sync"
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

	mu   sync.Mutex
	subs map[chan store.Entry]struct{} // followers of GET /v1/events?follow=1
}

func newJournalWriter(size int, log *slog.Logger) *journalWriter {
	return &journalWriter{ch: make(chan store.Entry, size), log: log, subs: map[chan store.Entry]struct{}{}}
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
		seq, err := st.Append(e)
		if err != nil {
			w.log.Error("append to journal", "type", e.Type, "cluster", e.Cluster, "err", err)
			continue
		}
		e.Seq = seq
		w.publish(e)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.subs {
		close(ch)
		delete(w.subs, ch)
	}
}

// followQueue is how many entries may wait for one follower; a follower
// that falls further behind is cut off (its channel closed) rather than
// slowing the journal.
const followQueue = 256

// follow returns a channel of the entries appended from now on, closed
// when the journal closes or the follower fell behind; stop ends it.
func (w *journalWriter) follow() (<-chan store.Entry, func()) {
	ch := make(chan store.Entry, followQueue)
	w.mu.Lock()
	w.subs[ch] = struct{}{}
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if _, ok := w.subs[ch]; ok {
			delete(w.subs, ch)
			close(ch)
		}
	}
}

// publish hands e to every follower without blocking.
func (w *journalWriter) publish(e store.Entry) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.subs {
		select {
		case ch <- e:
		default:
			delete(w.subs, ch)
			close(ch)
		}
	}
}

// close ends run after the queued entries are written.
func (w *journalWriter) close() { close(w.ch) }
