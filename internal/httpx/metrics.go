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
	routes   seriesCache[routeKey, *routeSeries]
	outcomes seriesCache[[2]string, prometheus.Counter]
}

type routeKey struct {
	route, method string
	status        int
}

type routeSeries struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

// seriesCache is a cache of resolved Prometheus series by their labels. The
// label sets are few (routes × methods × statuses, methods × outcomes),
// so it only grows.
type seriesCache[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
}

func (c *seriesCache[K, V]) get(k K, resolve func(K) V) V {
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
	m.AuthCounter(method, outcome).Inc()
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

// series is the count and latency of requests of route and method
// answered with status, resolved once.
func (m *Metrics) series(route, method string, status int) *routeSeries {
	return m.routes.get(routeKey{route, methodLabel(method), status}, func(k routeKey) *routeSeries {
		return &routeSeries{
			count:   m.requests.WithLabelValues(k.route, k.method, strconv.Itoa(k.status)),
			latency: m.latency.WithLabelValues(k.route, k.method),
		}
	})
}

func (rs *routeSeries) observe(d time.Duration) {
	rs.count.Inc()
	rs.latency.Observe(d.Seconds())
}

func (m *Metrics) observe(route, method string, status int, d time.Duration) {
	m.series(route, method, status).observe(d)
}

// These let a door on the hot path of other services (forward-auth, asked
// on every proxied request) count into the same series as Instrument
// with its label sets resolved in advance, without the cache's lock.

// AuthCounter is the counter of one (method, outcome) pair of credential
// checks.
func (m *Metrics) AuthCounter(method, outcome string) prometheus.Counter {
	return m.outcomes.get([2]string{method, outcome}, func(k [2]string) prometheus.Counter {
		return m.auth.WithLabelValues(k[0], k[1])
	})
}

// RouteRecorder returns what Instrument records for a request of route
// and method (its count by status and its latency), with the series of
// the given statuses resolved in advance.
func (m *Metrics) RouteRecorder(route, method string, statuses ...int) func(status int, d time.Duration) {
	known := make(map[int]*routeSeries, len(statuses))
	for _, s := range statuses {
		known[s] = m.series(route, method, s)
	}
	return func(status int, d time.Duration) {
		rs, ok := known[status]
		if !ok {
			rs = m.series(route, method, status)
		}
		rs.observe(d)
	}
}
