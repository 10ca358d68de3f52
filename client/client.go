package client

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
	"os"
	"strings"
	"sync"
	"time"
)

// Settings of a client, as the gatehouse CLI and the Terraform provider
// name them.
const (
	// DefaultServer is the server a client talks to when none is given.
	DefaultServer = "http://127.0.0.1:8420"
	// EnvServer names the server's URL.
	EnvServer = "GATEHOUSE_SERVER"
	// EnvAPIToken holds an API token; EnvAPIToken+"_FILE" names a file
	// holding one.
	EnvAPIToken = "GATEHOUSE_API_TOKEN"

	// APIPrefix is where the REST API lives on a server.
	APIPrefix = "/api/v1"
	// MaxPageSize is the largest page_size the API accepts.
	MaxPageSize = 500
	// DefaultTimeout bounds each request unless WithTimeout says otherwise.
	DefaultTimeout = 30 * time.Second
	// DefaultUserAgent is sent unless WithUserAgent says otherwise.
	DefaultUserAgent = "gatehouse-go-client"

	// maxProblemBody bounds how much of an error answer is read.
	maxProblemBody = 1 << 20
)

// ErrCredentialsInURL is returned by New for a server URL holding a user
// or password: credentials are given with WithToken or WithBasicAuth, so
// that they never appear where URLs are printed.
var ErrCredentialsInURL = errors.New("must not hold credentials")

// Client calls one gatehouse server's REST API. It is safe for use by
// several goroutines at once. Its resource fields (Users, Tokens, ...)
// group the calls by the collection they act on; Do reaches any other
// endpoint.
type Client struct {
	base      string // server URL without a trailing slash
	hc        *http.Client
	userAgent string
	timeout   time.Duration

	mu   sync.RWMutex
	auth string // the Authorization header; "" sends none

	Users           *Users
	ServiceAccounts *ServiceAccounts
	Groups          *Groups
	Roles           *Roles
	Permissions     *Permissions
	Tokens          *Tokens
	Events          *Events
	Applications    *Applications
	LDAPProviders   *LDAPProviders
	Outposts        *Outposts
	Brand           *Brand
	OIDCIssuers     *OIDCIssuers
	TrustPolicies   *TrustPolicies
	// LDAPDoor holds the calls an LDAP outpost makes with its own token.
	LDAPDoor *LDAPDoor
}

// Option configures a Client.
type Option func(*Client)

// WithToken authenticates with an API token (Authorization: Bearer).
func WithToken(token string) Option {
	return func(c *Client) { c.auth = bearer(token) }
}

// WithBasicAuth authenticates as a human user with a password
// (Authorization: Basic). Service accounts have no password: they use
// WithToken.
func WithBasicAuth(username, password string) Option {
	return func(c *Client) {
		c.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(username+":"+password))
	}
}

// WithHTTPClient sends the requests with hc (its transport, proxies, TLS
// settings). Its own Timeout, if any, applies on top of WithTimeout.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.hc = hc }
}

// WithUserAgent sets the User-Agent header, which the server's access log
// records.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// WithTimeout bounds each request, answer included (0: no bound but the
// context's). The directory feed's long poll is bounded by its own
// watchdog instead.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) { c.timeout = d }
}

func bearer(token string) string {
	if token == "" {
		return ""
	}
	return "Bearer " + token
}

// New returns a client of the server at server: an http or https URL
// without credentials, query or fragment (a path prefix is kept, for a
// server behind a reverse proxy). It reads nothing from the environment;
// see FromEnv.
func New(server string, opts ...Option) (*Client, error) {
	u, err := url.Parse(server)
	// Parse errors quote the URL, which may hold a password: say what is
	// wrong without it.
	switch {
	case err != nil, u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return nil, errors.New("must be an http:// or https:// URL such as " + DefaultServer)
	case u.User != nil:
		return nil, ErrCredentialsInURL
	case u.RawQuery != "" || u.Fragment != "":
		return nil, errors.New("must not have a query or fragment")
	}
	c := &Client{
		base:      strings.TrimSuffix(u.String(), "/"),
		hc:        &http.Client{},
		userAgent: DefaultUserAgent,
		timeout:   DefaultTimeout,
	}
	for _, o := range opts {
		o(c)
	}
	c.init()
	return c, nil
}

// FromEnv returns a client of the server named by GATEHOUSE_SERVER
// (default DefaultServer) with the API token in GATEHOUSE_API_TOKEN, or
// in the file named by GATEHOUSE_API_TOKEN_FILE. opts apply after, so
// they win.
func FromEnv(opts ...Option) (*Client, error) {
	return fromEnv(os.LookupEnv, opts...)
}

func fromEnv(lookup func(string) (string, bool), opts ...Option) (*Client, error) {
	server, _ := lookup(EnvServer)
	if server == "" {
		server = DefaultServer
	}
	token, err := tokenFromEnv(lookup)
	if err != nil {
		return nil, err
	}
	c, err := New(server, append([]Option{WithToken(token)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("%s %w", EnvServer, err)
	}
	return c, nil
}

// TokenFromEnv returns the API token in GATEHOUSE_API_TOKEN, or in the
// file named by GATEHOUSE_API_TOKEN_FILE ("" when neither is set), as
// FromEnv reads it: for a program, such as the Terraform provider, whose
// own settings take precedence over the environment's one by one.
func TokenFromEnv() (string, error) { return tokenFromEnv(os.LookupEnv) }

func tokenFromEnv(lookup func(string) (string, bool)) (string, error) {
	env := func(name string) string { v, _ := lookup(name); return v }
	token, file := env(EnvAPIToken), env(EnvAPIToken+"_FILE")
	switch {
	case token != "" && file != "":
		return "", fmt.Errorf("%s and %s_FILE are both set; unset one", EnvAPIToken, EnvAPIToken)
	case file != "":
		data, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s_FILE: %w", EnvAPIToken, err)
		}
		if token = strings.TrimSpace(string(data)); token == "" {
			return "", fmt.Errorf("%s_FILE: %s is empty", EnvAPIToken, file)
		}
	}
	return token, nil
}

// init points the resource fields at c.
func (c *Client) init() {
	c.Users = &Users{c}
	c.ServiceAccounts = &ServiceAccounts{c}
	c.Groups = &Groups{c}
	c.Roles = &Roles{c}
	c.Permissions = &Permissions{c}
	c.Tokens = &Tokens{c}
	c.Events = &Events{c}
	c.Applications = &Applications{c}
	c.LDAPProviders = &LDAPProviders{c}
	c.Outposts = &Outposts{c}
	c.Brand = &Brand{c}
	c.OIDCIssuers = &OIDCIssuers{c}
	c.TrustPolicies = &TrustPolicies{c}
	c.LDAPDoor = &LDAPDoor{c}
}

// Clone returns a client of the same server sharing c's HTTP client (and
// so its connections), with opts applied on top of c's settings: for
// example c.Clone(WithToken(key)) acts as another account.
func (c *Client) Clone(opts ...Option) *Client {
	c.mu.RLock()
	n := &Client{base: c.base, hc: c.hc, userAgent: c.userAgent, timeout: c.timeout, auth: c.auth}
	c.mu.RUnlock()
	for _, o := range opts {
		o(n)
	}
	n.init()
	return n
}

// SetToken replaces the API token of every later request, for a caller
// that rotates its own key.
func (c *Client) SetToken(token string) {
	c.mu.Lock()
	c.auth = bearer(token)
	c.mu.Unlock()
}

// Server is the server's URL, without a trailing slash.
func (c *Client) Server() string { return c.base }

// HTTPClient is the HTTP client requests are sent with.
func (c *Client) HTTPClient() *http.Client { return c.hc }

func (c *Client) authorization() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.auth
}

// Do sends one request to path under /api/v1 (for example "/users/bob";
// segments taken from input should be escaped, see Path). body, when not
// nil, is sent as JSON. A 2xx answer is decoded into out when out is not
// nil and the answer has a body; unknown fields are ignored, and
// decoding into a *json.RawMessage keeps the answer as sent. Any other
// status is returned as *Error.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	resp, err := c.send(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeAnswer(resp.Body, method, path, out)
}

// send makes one request and returns a 2xx response, whose body the
// caller reads and closes; any other answer is an *Error.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, error) {
	target := c.base + APIPrefix + path
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
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth := c.authorization(); auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // its text repeats method and URL
		}
		return nil, fmt.Errorf("cannot reach gatehouse at %s: %w", c.base, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, readProblem(resp, method, path)
	}
	return resp, nil
}

// decodeAnswer decodes one JSON value from r into out; an empty answer
// (204, or a 200 without body) leaves out as it was.
func decodeAnswer(r io.Reader, method, path string, out any) error {
	if out == nil {
		_, _ = io.Copy(io.Discard, r) // so the connection is reused
		return nil
	}
	err := json.NewDecoder(r).Decode(out)
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	_, _ = io.Copy(io.Discard, r)
	return nil
}

// Path joins escaped path segments: Path("users", "bob") is "/users/bob".
func Path(segments ...string) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}
