package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// client talks to one gatehouse over one keep-alive connection, the way a
// pipeline or a sidecar would: latencies measured with it include the
// loopback round trip and the client's own cost, the same for a figure
// and its baseline.
type client struct {
	base string
	hc   *http.Client
}

func newClient(base string) *client { return newClientFrom(base, nil) }

// newClientFrom is newClient with its connections made from a given local
// (loopback) address, so that the server sees another client address.
func newClientFrom(base string, local net.IP) *client {
	tr := &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}
	if local != nil {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: local}, Timeout: 10 * time.Second}
		tr.DialContext = d.DialContext
	}
	return &client{base: base, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// do sends one request; body (when not nil) is sent as JSON. It returns
// the status and the answer's body.
func (c *client) do(ctx context.Context, method, path, token string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// expect sends a request and fails unless the status is want; out (when
// not nil) receives the decoded JSON answer.
func (c *client) expect(ctx context.Context, want int, method, path, token string, body, out any) error {
	st, b, err := c.do(ctx, method, path, token, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if st != want {
		return fmt.Errorf("%s %s: status %d, want %d: %s", method, path, st, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// timeGET measures n sequential GETs of path (want: the expected status)
// and returns their latencies.
func (c *client) timeGET(ctx context.Context, n int, path, token string, want int) ([]time.Duration, error) {
	ds := make([]time.Duration, 0, n)
	for range n {
		t0 := time.Now()
		st, b, err := c.do(ctx, http.MethodGet, path, token, nil)
		d := time.Since(t0)
		if err != nil {
			return nil, fmt.Errorf("GET %s: %w", path, err)
		}
		if st != want {
			return nil, fmt.Errorf("GET %s: status %d, want %d: %s", path, st, want, b)
		}
		ds = append(ds, d)
	}
	return ds, nil
}
