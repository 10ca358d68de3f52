package api

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// These let a door on the hot path of other services (forward-auth, asked
// on every proxied request) count into the same series as Middleware
// while resolving its label sets once instead of on every request.

// AuthCounter is the counter of one (method, outcome) pair of credential
// checks.
func (m *Metrics) AuthCounter(method, outcome string) prometheus.Counter {
	return m.auth.WithLabelValues(method, outcome)
}

// RouteRecorder returns what Middleware records for a request of route
// and method (its count by status and its latency), with the series of
// the given statuses resolved in advance.
func (m *Metrics) RouteRecorder(route, method string, statuses ...int) func(status int, d time.Duration) {
	counters := make(map[int]prometheus.Counter, len(statuses))
	for _, s := range statuses {
		counters[s] = m.requests.WithLabelValues(route, method, strconv.Itoa(s))
	}
	latency := m.latency.WithLabelValues(route, method)
	return func(status int, d time.Duration) {
		if c, ok := counters[status]; ok {
			c.Inc()
		} else {
			m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
		}
		latency.Observe(d.Seconds())
	}
}
