package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/internal/core"
)

// MaxBody is the largest request body accepted (413 beyond).
const MaxBody = 1 << 20

// DecodeJSON reads a JSON object into dst (a pointer to a struct) strictly:
// the body, at most MaxBody bytes (an *http.MaxBytesError beyond, a 413),
// must be one object, every key must be a field of dst, every value must
// have the field's type. It reports every bad field at once, as a
// *core.ValidationError, and writes nothing: the caller answers.
func DecodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		return err
	}
	return DecodeStrict(body, dst)
}

// DecodeStrict is DecodeJSON's checking, on bytes (also fuzzed).
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
	fields := JSONFields(rv.Type())
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
		SortFieldErrors(errs)
		return &core.ValidationError{Errors: errs}
	}
	return nil
}

// JSONFields maps the JSON names DecodeStrict accepts for a struct type
// to its field indexes, following embedded structs as encoding/json does
// (the OpenAPI document's schemas are checked against it).
func JSONFields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for k, idx := range JSONFields(f.Type) {
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

// SortFieldErrors orders field errors by field, so that the same bad
// request always gets the same answer (map order would shuffle them).
func SortFieldErrors(errs []core.FieldError) {
	for i := 1; i < len(errs); i++ {
		for j := i; j > 0 && errs[j].Field < errs[j-1].Field; j-- {
			errs[j], errs[j-1] = errs[j-1], errs[j]
		}
	}
}

// ReadForm reads an application/x-www-form-urlencoded body as strictly
// as DecodeJSON reads JSON: at most MaxBody bytes (the *http.MaxBytesError
// is returned as is, a 413), only the given fields, each at most once;
// every bad field is reported at once.
func ReadForm(w http.ResponseWriter, r *http.Request, fields ...string) (url.Values, error) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, &core.ValidationError{Errors: []core.FieldError{{Field: "body", Message: "is not a well-formed form"}}}
	}
	var errs []core.FieldError
	for k, vs := range r.PostForm {
		switch {
		case !slices.Contains(fields, k):
			errs = append(errs, core.FieldError{Field: k, Message: "unknown field"})
		case len(vs) > 1:
			errs = append(errs, core.FieldError{Field: k, Message: "must be given once"})
		}
	}
	if len(errs) > 0 {
		SortFieldErrors(errs)
		return nil, &core.ValidationError{Errors: errs}
	}
	return r.PostForm, nil
}
