package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Sentinels matched by *Error through errors.Is, by status:
//
//	if errors.Is(err, client.ErrNotFound) { /* gone: recreate it */ }
var (
	ErrUnauthorized    = errors.New("unauthorized")      // 401: no, bad or expired credentials
	ErrForbidden       = errors.New("forbidden")         // 403: the credentials may not do this
	ErrNotFound        = errors.New("not found")         // 404
	ErrConflict        = errors.New("conflict")          // 409: name taken, object in use or managed
	ErrTooManyRequests = errors.New("too many requests") // 429: see Error.RetryAfter
)

// FieldError is one entry of a problem's "errors" list: a bad field of
// the request and what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is a non-2xx answer of the API, read from its
// application/problem+json body (RFC 9457). It holds what the server
// said and nothing of the request, so it never carries a credential.
type Error struct {
	Method string // of the request, for logs
	Path   string // of the request, under /api/v1

	Status int
	Type   string
	Title  string
	Detail string
	Errors []FieldError
	// RetryAfter is the answer's Retry-After (429, 503), 0 when absent.
	RetryAfter time.Duration
}

// Error reads "STATUS Title: detail", as the CLI prints it.
func (e *Error) Error() string {
	msg := fmt.Sprintf("%d %s", e.Status, e.Title)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Is matches the sentinel of e's status (ErrNotFound for 404, ...).
func (e *Error) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrTooManyRequests:
		return e.Status == http.StatusTooManyRequests
	}
	return false
}

// StatusOf returns the HTTP status of an *Error in err's chain, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// readProblem turns an error answer into *Error. A body that is not
// problem+json (a proxy's error page) leaves only status and title.
func readProblem(resp *http.Response, method, path string) *Error {
	e := &Error{Method: method, Path: path, Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	var p struct {
		Type   string       `json:"type"`
		Title  string       `json:"title"`
		Detail string       `json:"detail"`
		Errors []FieldError `json:"errors"`
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxProblemBody))
	if json.Unmarshal(data, &p) == nil {
		e.Type, e.Title, e.Detail, e.Errors = p.Type, p.Title, p.Detail, p.Errors
	}
	if e.Title == "" {
		e.Title = http.StatusText(resp.StatusCode)
	}
	return e
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
