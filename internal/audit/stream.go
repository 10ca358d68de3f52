package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"github.com/gatehouse/gatehouse/internal/store"
)

// streamBuffer is how many committed events may wait for the stream's
// writer. The database holds every event whatever happens here; the
// stream is a copy for a SIEM, so when its reader stalls long enough for
// this to fill, events are dropped (and counted) rather than requests
// held up. Each line carries seq, so the reader sees the gap.
const streamBuffer = 8192

// Stream copies committed events as JSON lines (the API's event view,
// with seq and hash) to standard output or a file, in the order they
// committed on this instance. Each instance streams the events it wrote.
type Stream struct {
	ch     chan store.Event
	w      io.Writer
	closer io.Closer
	log    *slog.Logger
	done   chan struct{}
	// mu guards closed: Emit after Close (a handler still running when
	// shutdown gave up on it) drops instead of sending on a closed channel.
	mu      sync.RWMutex
	closed  bool
	written atomic.Uint64
	dropped atomic.Uint64
}

// OpenStream opens target: "stdout", or a file appended to (created
// owner-only).
func OpenStream(target string, log *slog.Logger) (*Stream, error) {
	if target == "stdout" || target == "-" {
		return NewStream(os.Stdout, nil, log), nil
	}
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the event stream: %w", err)
	}
	return NewStream(f, f, log), nil
}

// NewStream streams to w; closer, if not nil, is closed by Close.
func NewStream(w io.Writer, closer io.Closer, log *slog.Logger) *Stream {
	s := &Stream{ch: make(chan store.Event, streamBuffer), w: w, closer: closer, log: log, done: make(chan struct{})}
	go s.run()
	return s
}

// Emit queues committed events without blocking.
func (s *Stream) Emit(evs []store.Event) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		s.dropped.Add(uint64(len(evs)))
		return
	}
	for _, e := range evs {
		select {
		case s.ch <- e:
		default:
			if n := s.dropped.Add(1); n&(n-1) == 0 && s.log != nil {
				// Logged at 1, 2, 4, 8, ... drops: visible, never a flood.
				s.log.Warn("the event stream is not keeping up; events were dropped from the stream (they are in the database)",
					"dropped", n)
			}
		}
	}
}

// Written and Dropped count the events written to and dropped from the
// stream.
func (s *Stream) Written() uint64 { return s.written.Load() }
func (s *Stream) Dropped() uint64 { return s.dropped.Load() }

func (s *Stream) run() {
	defer close(s.done)
	bw := bufio.NewWriter(s.w)
	enc := json.NewEncoder(bw)
	var failing bool
	for e := range s.ch {
		err := enc.Encode(NewView(e))
		if err == nil && len(s.ch) == 0 {
			err = bw.Flush() // flush when caught up: lines arrive promptly
		}
		if err != nil {
			s.dropped.Add(1)
			if !failing && s.log != nil {
				s.log.Error("write to the event stream failed", "err", err)
			}
			failing = true
			bw.Reset(s.w)
			continue
		}
		failing = false
		s.written.Add(1)
	}
	if err := bw.Flush(); err != nil && s.log != nil {
		s.log.Error("write to the event stream failed", "err", err)
	}
}

// Close writes out the queued events and closes the file (not stdout);
// events emitted later are counted as dropped.
func (s *Stream) Close(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
	s.mu.Unlock()
	select {
	case <-s.done:
	case <-ctx.Done():
		return errors.New("the event stream did not drain in time")
	}
	if s.closer != nil {
		return s.closer.Close()
	}
	return nil
}
