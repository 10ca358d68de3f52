package httpx

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the Prometheus series gatehouse exports.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	auth     *prometheus.CounterVec

	// The series of the requests and checks seen so far, resolved once:
	// finding one by its label values hashes them, and its status label
	// is a string made anew, on every request.
	routes   series[routeKey, *routeSeries]
	outcomes series[[2]string, prometheus.Counter]
}

type routeKey struct {
	route, method string
	status        int
}

type routeSeries struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

// series is a cache of resolved Prometheus series by their labels. The
// label sets are few (routes × methods × statuses, methods × outcomes),
// so it only grows.
type series[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
}

func (c *series[K, V]) get(k K, resolve func(K) V) V {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return v
	}
	v = resolve(k)
	c.mu.Lock()
	if c.m == nil {
		c.m = map[K]V{}
	}
	c.m[k] = v
	c.mu.Unlock()
	return v
}

// NewMetrics registers gatehouse's series on a fresh registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_http_requests_total", Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_http_request_duration_seconds", Help: "HTTP request latency by route pattern and method.",
			Buckets: []float64{.0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5},
		}, []string{"route", "method"}),
		auth: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_authentications_total", Help: "Credential checks by method and outcome.",
		}, []string{"method", "outcome"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.auth,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry lets other front doors register their series.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// AuthOutcome counts a credential check of any door (API, LDAP).
func (m *Metrics) AuthOutcome(method, outcome string) {
	m.outcomes.get([2]string{method, outcome}, func(k [2]string) prometheus.Counter {
		return m.auth.WithLabelValues(k[0], k[1])
	}).Inc()
}

// methodLabel is the method as a label: the methods of HTTP itself (RFC
// 9110, and PATCH), and OTHER for any other token a client sends, which
// would otherwise make a new series each (and a new entry in the cache).
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

func (m *Metrics) observe(route, method string, status int, d time.Duration) {
	method = methodLabel(method)
	rs := m.routes.get(routeKey{route, method, status}, func(k routeKey) *routeSeries {
		return &routeSeries{
			count:   m.requests.WithLabelValues(k.route, k.method, strconv.Itoa(k.status)),
			latency: m.latency.WithLabelValues(k.route, k.method),
		}
	})
	rs.count.Inc()
	rs.latency.Observe(d.Seconds())
}

// These let a door on the hot path of other services (forward-auth, asked
// on every proxied request) count into the same series as Instrument
// while resolving its label sets once instead of on every request.

// AuthCounter is the counter of one (method, outcome) pair of credential
// checks.
func (m *Metrics) AuthCounter(method, outcome string) prometheus.Counter {
	return m.auth.WithLabelValues(method, outcome)
}

// RouteRecorder returns what Instrument records for a request of route
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
