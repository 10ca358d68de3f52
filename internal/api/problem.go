package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/store"
)

// MaxBody is the largest request body accepted (413 beyond).
const MaxBody = 1 << 20

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type   string            `json:"type"`
	Title  string            `json:"title"`
	Status int               `json:"status"`
	Detail string            `json:"detail"`
	Errors []core.FieldError `json:"errors,omitempty"`
}

// WWWAuthenticate is sent with every 401.
const WWWAuthenticate = `Bearer realm="gatehouse", Basic realm="gatehouse", charset="UTF-8"`

// WriteProblem writes a problem document.
func WriteProblem(w http.ResponseWriter, status int, detail string, fields ...core.FieldError) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", WWWAuthenticate)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	p := Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Errors: fields}
	_ = json.NewEncoder(w).Encode(p)
}

// writeError maps an error from the core to its problem answer, in one
// place for the whole API.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ve *core.ValidationError
	var nf *core.NotFoundError
	var ce *core.ConflictError
	var fe *core.ForbiddenError
	var mbe *http.MaxBytesError
	var le *limitedError
	switch {
	case errors.As(err, &le):
		tooMany(w, le.retryAfter)
	case errors.As(err, &ve):
		WriteProblem(w, http.StatusBadRequest, "the request has invalid fields", ve.Errors...)
	case errors.As(err, &mbe):
		WriteProblem(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is larger than %d bytes", MaxBody))
	case errors.Is(err, core.ErrUnauthenticated), errors.Is(err, auth.ErrBadCredential):
		WriteProblem(w, http.StatusUnauthorized, "a valid API token (Bearer) or a user's password (Basic) is required")
	case errors.As(err, &fe):
		WriteProblem(w, http.StatusForbidden, fe.Error())
	case errors.Is(err, core.ErrForbidden):
		WriteProblem(w, http.StatusForbidden, "you are not allowed to do this")
	case errors.As(err, &nf):
		WriteProblem(w, http.StatusNotFound, nf.Error())
	case errors.As(err, &ce):
		WriteProblem(w, http.StatusConflict, ce.Error())
	case errors.Is(err, store.ErrNotFound):
		WriteProblem(w, http.StatusNotFound, "not found")
	case errors.Is(err, store.ErrConflict):
		WriteProblem(w, http.StatusConflict, "conflicting change; retry")
	case errors.Is(err, auth.ErrUnavailable):
		w.Header().Set("Retry-After", "1")
		WriteProblem(w, http.StatusServiceUnavailable, "credentials cannot be checked right now")
	case errors.Is(err, r.Context().Err()):
		WriteProblem(w, http.StatusServiceUnavailable, "the request was cancelled")
	case s.core.DatabaseDown(r.Context()):
		// An unexpected error while the database does not answer is its
		// absence, not a bug: 503, retryable, as for a credential that
		// cannot be checked. A failed write rolled back whole.
		s.log.Warn("request failed: the database is not reachable", "method", r.Method, "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "1")
		WriteProblem(w, http.StatusServiceUnavailable, "the database is not reachable; retry later")
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		WriteProblem(w, http.StatusInternalServerError, "internal error; see the server log")
	}
}

// decodeJSON reads a JSON object into dst (a pointer to a struct) strictly:
// the body must be one object, every key must be a field of dst, every
// value must have the field's type. It reports every bad field at once.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		return err
	}
	return DecodeStrict(body, dst)
}

// DecodeStrict is decodeJSON's checking, on bytes (also fuzzed).
func DecodeStrict(body []byte, dst any) error {
	bad := func(field, msg string) error {
		return &core.ValidationError{Errors: []core.FieldError{{Field: field, Message: msg}}}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return bad("body", "a JSON object is required")
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return bad("body", fmt.Sprintf("malformed JSON at byte %d", se.Offset))
		}
		return bad("body", "must be a JSON object")
	}
	if raw == nil {
		return bad("body", "must be a JSON object")
	}
	// Only white space may follow: More alone lets a stray "}" or "]" by.
	if _, err := dec.Token(); err != io.EOF {
		return bad("body", "must hold exactly one JSON object")
	}
	rv := reflect.ValueOf(dst).Elem()
	fields := jsonFields(rv.Type())
	var errs []core.FieldError
	for key, val := range raw {
		idx, ok := fields[key]
		if !ok {
			errs = append(errs, core.FieldError{Field: key, Message: "unknown field"})
			continue
		}
		f := rv.FieldByIndex(idx)
		// Objects nested in a field (outposts' session lists) are held to
		// their fields too, as encoding/json matches them: ignoring case.
		fdec := json.NewDecoder(bytes.NewReader(val))
		fdec.DisallowUnknownFields()
		if err := fdec.Decode(f.Addr().Interface()); err != nil {
			errs = append(errs, core.FieldError{Field: key, Message: "must be " + jsonKind(f.Type())})
		}
	}
	if len(errs) > 0 {
		sortFieldErrors(errs)
		return &core.ValidationError{Errors: errs}
	}
	return nil
}

// jsonFields maps JSON names to struct field indexes, following embedded
// structs as encoding/json does.
func jsonFields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for k, idx := range jsonFields(f.Type) {
				out[k] = append([]int{i}, idx...)
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = []int{i}
	}
	return out
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Slice:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(jsonKind(t.Elem()), "a "), "an ") + "s"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "of type " + t.String()
}

func sortFieldErrors(errs []core.FieldError) {
	for i := 1; i < len(errs); i++ {
		for j := i; j > 0 && errs[j].Field < errs[j-1].Field; j-- {
			errs[j], errs[j-1] = errs[j-1], errs[j]
		}
	}
}
