package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse/client"
)

// benchClient talks to one gatehouse over a few keep-alive connections,
// the way a pipeline or a sidecar would: latencies measured with it
// include the loopback round trip and the client's own cost, the same for
// a figure and its baseline. Calls of the API go through the client
// package; credential probes that judge raw answers (soak) use hc.
type benchClient struct {
	api *client.Client // no credentials: as(token) acts with one
	hc  *http.Client
}

func newClient(base string) *benchClient { return newClientFrom(base, nil) }

// newClientFrom is newClient with its connections made from a given local
// (loopback) address, so that the server sees another client address.
func newClientFrom(base string, local net.IP) *benchClient {
	tr := &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}
	if local != nil {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: local}, Timeout: 10 * time.Second}
		tr.DialContext = d.DialContext
	}
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	api, err := client.New(base, client.WithHTTPClient(hc), client.WithUserAgent("gatehouse-bench"), client.WithTimeout(0))
	if err != nil {
		// base is the URL of a server this tool started itself.
		panic(fmt.Sprintf("gatehouse-bench: server URL %q: %v", base, err))
	}
	return &benchClient{api: api, hc: hc}
}

func (c *benchClient) close() { c.hc.CloseIdleConnections() }

// adminOf is a client of the server at url acting as its bootstrap
// admin (env's token), and what closes its connections.
func adminOf(url string, env serverEnv) (admin *client.Client, closeIdle func()) {
	c := newClient(url)
	return c.as(env.AdminToken), c.close
}

// as is the API client acting with token, sharing c's connections.
func (c *benchClient) as(token string) *client.Client {
	return c.api.Clone(client.WithToken(token))
}

// timeGET measures n sequential GETs of path (under /api/v1) that must
// succeed and returns their latencies. The answers are read, not decoded,
// so that a figure and its baseline pay the same.
func (c *benchClient) timeGET(ctx context.Context, n int, token, path string, query url.Values) ([]time.Duration, error) {
	api := c.as(token)
	ds := make([]time.Duration, 0, n)
	for range n {
		t0 := time.Now()
		err := api.Do(ctx, http.MethodGet, path, query, nil, nil)
		d := time.Since(t0)
		if err != nil {
			return nil, fmt.Errorf("GET %s: %w", path, err)
		}
		ds = append(ds, d)
	}
	return ds, nil
}
