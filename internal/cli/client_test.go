package cli

import (
	"context"
	"errors"
	"net/url"
	"reflect"
	"testing"
)

func TestClientDo(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t, map[string]reply{
		"POST /api/v1/groups": {status: 201, body: groupJSON},
		"DELETE /api/v1/groups/ops": {status: 409, body: `{"type":"about:blank","title":"Conflict","status":409,
			"detail":"group \"ops\" holds members","errors":[{"field":"name","message":"in use"}]}`},
	})
	c, err := NewClient(f.srv.URL, TokenAuth("tok"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	var g Group
	if err := c.Do(ctx, "POST", "/groups", url.Values{"dry": {"1"}}, map[string]string{"name": "ops"}, &g); err != nil {
		t.Fatal(err)
	}
	if g.Name != "ops" || !reflect.DeepEqual(g.Members, []string{"alice", "bob"}) {
		t.Errorf("decoded %+v", g)
	}
	req := f.requests()[0]
	if req.RawQuery != "dry=1" || req.Authorization != "Bearer tok" || req.ContentType != "application/json" || req.Body != `{"name":"ops"}` {
		t.Errorf("request %+v", req)
	}

	err = c.Do(ctx, "DELETE", "/groups/ops", nil, nil, nil)
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v (%T), want *APIError", err, err)
	}
	want := &APIError{Status: 409, Title: "Conflict", Detail: `group "ops" holds members`, Errors: []FieldError{{"name", "in use"}}}
	if !reflect.DeepEqual(apiErr, want) {
		t.Errorf("got %+v, want %+v", apiErr, want)
	}
	if apiErr.Error() != `409 Conflict: group "ops" holds members` {
		t.Errorf("Error() = %q", apiErr.Error())
	}
}

func TestNewClientRejectsBadServers(t *testing.T) {
	t.Parallel()
	for _, server := range []string{"", "127.0.0.1:8420", "ftp://host", "http://", "http://u:p@host", "http://host/?x=1", "http://host/#f"} {
		if _, err := NewClient(server, Auth{}); err == nil {
			t.Errorf("NewClient(%q) accepted", server)
		}
	}
	for _, server := range []string{"http://127.0.0.1:8420", "https://id.example.com/gatehouse/"} {
		if _, err := NewClient(server, Auth{}); err != nil {
			t.Errorf("NewClient(%q): %v", server, err)
		}
	}
}
