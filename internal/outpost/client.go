package outpost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// client calls the gatehouse API with the outpost's token. The key is
// swapped in memory when the outpost rotates it; when it came from a
// file, a key refused by the server is re-read from the file, so an
// administrator can hand a stopped-too-long outpost a new key by writing
// it there.
type client struct {
	base      string
	http      *http.Client
	tokenFile string

	mu  sync.RWMutex
	key string
}

// apiError is a non-2xx answer.
type apiError struct {
	Status int
	Detail string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Detail)
}

func newClient(server, key, tokenFile string) (*client, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, errors.New("--server must be an http:// or https:// URL without credentials")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64 // binds are forwarded from many LDAP connections at once
	return &client{base: strings.TrimSuffix(u.String(), "/"), http: &http.Client{Transport: tr}, key: key, tokenFile: tokenFile}, nil
}

// requestTimeout bounds every API request but the feed's long poll
// (which its heartbeats bound).
const requestTimeout = 30 * time.Second

// request sends one request with requestTimeout; a 2xx answer is decoded into out.
func (c *client) request(ctx context.Context, method, path string, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	return c.requestNoTimeout(ctx, method, path, body, out)
}

func (c *client) currentKey() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.key
}

func (c *client) setKey(k string) {
	c.mu.Lock()
	c.key = k
	c.mu.Unlock()
}

// reloadKey re-reads the token file; it reports whether the key changed.
func (c *client) reloadKey() bool {
	if c.tokenFile == "" {
		return false
	}
	b, err := os.ReadFile(c.tokenFile)
	if err != nil {
		return false
	}
	k := strings.TrimSpace(string(b))
	if k == "" || k == c.currentKey() {
		return false
	}
	c.setKey(k)
	return true
}

func (c *client) requestNoTimeout(ctx context.Context, method, path string, body, out any) error {
	err := c.send(ctx, method, path, body, out)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized && c.reloadKey() {
		err = c.send(ctx, method, path, body, out)
	}
	return err
}

func (c *client) send(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.open(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// open sends a request and returns a 2xx response for the caller to read.
func (c *client) open(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.currentKey())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "gatehouse-ldap-outpost")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the URL
		}
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		var p struct {
			Detail string `json:"detail"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&p)
		return nil, &apiError{Status: resp.StatusCode, Detail: p.Detail}
	}
	return resp, nil
}

// idleReader cancels a request when no byte arrives for a while: the
// directory feed's heartbeats make silence mean a dead connection.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	idle  time.Duration
}

func (ir *idleReader) Read(p []byte) (int, error) {
	n, err := ir.r.Read(p)
	if n > 0 {
		ir.timer.Reset(ir.idle)
	}
	return n, err
}
