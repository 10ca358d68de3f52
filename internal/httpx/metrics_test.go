package httpx

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestMetricLabelsAreBounded: a client choosing its own method names
// (any token is a method to net/http) makes no new series: they count
// as OTHER, whatever their number.
func TestMetricLabelsAreBounded(t *testing.T) {
	m := NewMetrics()
	h := Instrument(http.NotFoundHandler(), m, func(*http.Request) string { return "198.51.100.7" },
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	for i := range 500 {
		req := httptest.NewRequest("GET", "/nowhere", nil)
		req.Method = fmt.Sprintf("M%d", i)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/nowhere", nil))
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "gatehouse_http_requests_total" {
			continue
		}
		got := map[string]float64{}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "method" {
					got[l.GetValue()] += s.GetCounter().GetValue()
				}
			}
		}
		if len(got) != 2 || got["OTHER"] != 500 || got["GET"] != 1 {
			t.Fatalf("requests by method: %v, want OTHER 500 and GET 1", got)
		}
		return
	}
	t.Fatal("no gatehouse_http_requests_total series")
}
