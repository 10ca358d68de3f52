package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	apiPrefix      = "/api/v1"
	userAgent      = "gatehouse-cli"
	requestTimeout = 30 * time.Second
	// MaxPageSize is the largest page_size the API accepts.
	MaxPageSize = 500
	// maxProblemBody bounds how much of an error answer is read.
	maxProblemBody = 1 << 20
)

// FieldError is one entry of a problem's "errors" list.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// APIError is a non-2xx answer of the API, read from its
// application/problem+json body (RFC 9457).
type APIError struct {
	Status int
	Title  string
	Detail string
	Errors []FieldError
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%d %s", e.Status, e.Title)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Auth is how a Client proves who it is: the value of its Authorization
// header. The zero Auth sends no credentials.
type Auth struct {
	header string
}

// TokenAuth authenticates with an API token (Authorization: Bearer).
func TokenAuth(token string) Auth {
	return Auth{header: "Bearer " + token}
}

// PasswordAuth authenticates as a human user with a password
// (Authorization: Basic).
func PasswordAuth(username, password string) Auth {
	return Auth{header: "Basic " + base64.StdEncoding.EncodeToString([]byte(username+":"+password))}
}

// Client calls the gatehouse HTTP API. Paths given to it are relative to
// /api/v1.
type Client struct {
	base string // server URL without a trailing slash
	auth Auth
	// HTTP sends the requests; NewClient sets a 30s timeout.
	HTTP *http.Client
}

// NewClient returns a client of the server at serverURL, an http or https
// URL without credentials, query or fragment (a path prefix is kept, for
// servers behind a reverse proxy).
func NewClient(serverURL string, auth Auth) (*Client, error) {
	u, err := url.Parse(serverURL)
	// Parse errors quote the URL, which may hold a password: say what is
	// wrong without it.
	switch {
	case err != nil, u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return nil, errors.New("must be an http:// or https:// URL such as http://127.0.0.1:8420")
	case u.User != nil:
		return nil, errors.New("must not hold credentials; use --api-token or --user")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, errors.New("must not have a query or fragment")
	}
	return &Client{
		base: strings.TrimSuffix(u.String(), "/"),
		auth: auth,
		HTTP: &http.Client{Timeout: requestTimeout},
	}, nil
}

// Do sends one request. body, when not nil, is sent as JSON; a 2xx answer
// is decoded into out when out is not nil and the answer has a body
// (unknown fields are ignored). Any other status is returned as *APIError.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body any, out any) error {
	req, err := c.newRequest(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // its text repeats method and URL
		}
		return fmt.Errorf("cannot reach gatehouse at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return readProblem(resp)
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

func (c *Client) newRequest(ctx context.Context, method, path string, query url.Values, body any) (*http.Request, error) {
	target := c.base + apiPrefix + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var payload io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("%s %s: encode request: %w", method, path, err)
		}
		payload = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, payload)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.auth.header != "" {
		req.Header.Set("Authorization", c.auth.header)
	}
	return req, nil
}

// readProblem turns an error answer into *APIError. A body that is not
// problem+json (a proxy's error page) leaves only status and title.
func readProblem(resp *http.Response) error {
	e := &APIError{Status: resp.StatusCode}
	var p struct {
		Title  string       `json:"title"`
		Detail string       `json:"detail"`
		Errors []FieldError `json:"errors"`
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxProblemBody))
	if json.Unmarshal(data, &p) == nil {
		e.Title, e.Detail, e.Errors = p.Title, p.Detail, p.Errors
	}
	if e.Title == "" {
		e.Title = http.StatusText(resp.StatusCode)
	}
	return e
}

// page is the envelope of every list answer.
type page struct {
	Items         []json.RawMessage `json:"items"`
	NextPageToken string            `json:"next_page_token"`
}

// List reads a paginated collection, following next_page_token until the
// last page or until limit items (0: no limit). Items are returned as the
// server sent them, so that -o json keeps fields this client does not know.
func (c *Client) List(ctx context.Context, path string, query url.Values, limit int) ([]json.RawMessage, error) {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	items := []json.RawMessage{}
	token := ""
	for {
		size := MaxPageSize
		if limit > 0 {
			size = min(size, limit-len(items))
		}
		q.Set("page_size", strconv.Itoa(size))
		if token != "" {
			q.Set("page_token", token)
		}
		var p page
		if err := c.Do(ctx, http.MethodGet, path, q, nil, &p); err != nil {
			return nil, err
		}
		items = append(items, p.Items...)
		switch {
		case limit > 0 && len(items) >= limit:
			return items[:limit], nil
		case p.NextPageToken == "":
			return items, nil
		case p.NextPageToken == token:
			return nil, fmt.Errorf("GET %s: the server answered the same page token twice", path)
		}
		token = p.NextPageToken
	}
}
