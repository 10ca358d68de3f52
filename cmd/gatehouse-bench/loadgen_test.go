package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

const wrkReport = `Running 10s test @ http://127.0.0.1:40000/api/v1/me
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.20ms    1.01ms  32.07ms   93.98%
    Req/Sec    27.11k     6.46k   34.04k    72.50%
  Latency Distribution
     50%  951.00us
     75%    1.19ms
     90%    2.01ms
     99%    5.34ms
  542373 requests in 10.01s, 110.99MB read
  Socket errors: connect 0, read 2, write 1, timeout 3
  Non-2xx or 3xx responses: 5
Requests/sec:  54183.50
Transfer/sec:     11.09MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkReport)
	if err != nil {
		t.Fatal(err)
	}
	want := loadResult{Tool: "wrk", Requests: 542373, RPS: 54183.50, P99: 5340 * time.Microsecond, Non2xx: 5, Errors: 6}
	if r != want {
		t.Errorf("parseWrk = %+v\nwant %+v", r, want)
	}
	if r.checkClean("x") == nil {
		t.Error("a run with non-2xx answers passed checkClean")
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"); err == nil {
		t.Error("parseWrk accepted a failed run")
	}
	clean, err := parseWrk("  10 requests in 1.00s, 1KB read\nRequests/sec:     10.00\n")
	if err != nil || clean.checkClean("x") != nil || clean.Requests != 10 {
		t.Errorf("clean run: %+v, %v", clean, err)
	}
}

// TestGoLoad runs the fallback generator against a local handler for a
// moment: it must count requests and tell refused answers apart.
func TestGoLoad(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer ok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	ok, err := goLoad(context.Background(), srv.URL, map[string]string{"Authorization": "Bearer ok"}, 4, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if ok.Requests == 0 || ok.RPS <= 0 || ok.P99 <= 0 || ok.checkClean("ok") != nil {
		t.Errorf("good run: %+v", ok)
	}
	bad, err := goLoad(context.Background(), srv.URL, nil, 4, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if bad.Non2xx != bad.Requests || bad.checkClean("bad") == nil {
		t.Errorf("refused run: %+v", bad)
	}
}
