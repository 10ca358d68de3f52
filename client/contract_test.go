package client_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/client"
	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/ldap"
)

// The request types here, and the answers the server does not build from
// them (most answers are the same types: core aliases them), are written
// by hand, beside the server's own. This test holds them to the server's: every field a client type reads is
// one the server sends, and every field it sends is one the server takes
// (it refuses unknown fields), under the same JSON name and kind.
func TestWireTypesMatchTheServer(t *testing.T) {
	t.Parallel()
	pairs := []struct{ client, server any }{
		// answers
		{client.Me{}, core.Me{}},
		{client.User{}, core.UserView{}},
		{client.CreatedServiceAccount{}, core.CreatedServiceAccount{}},
		{client.Group{}, core.GroupView{}},
		{client.Role{}, core.RoleView{}},
		{client.Permission{}, authz.Definition{}},
		{client.Token{}, core.TokenView{}},
		{client.Event{}, core.EventView{}},
		{client.ChainVerification{}, audit.Verification{}},
		{client.Application{}, core.ApplicationView{}},
		{client.BrandSettings{}, core.Brand{}},
		{client.LDAPProvider{}, core.LDAPProviderView{}},
		{client.Outpost{}, core.OutpostView{}},
		{client.CreatedOutpost{}, core.CreatedOutpost{}},
		{client.LDAPBindResult{}, core.LDAPBindResult{}},
		{client.LDAPSessionState{}, core.LDAPSessionState{}},
		{client.LDAPSearchResult{}, ldap.DirectSearchResult{}},
		{client.DirectoryFeed{}, core.DirectoryFeed{}},
		{client.OIDCIssuer{}, core.OIDCIssuerView{}},
		{client.TrustPolicy{}, core.TrustPolicyView{}},
		{client.PolicyTestResult{}, core.PolicyTestResult{}},
		{client.ExchangeResult{}, core.ExchangeResult{}},
		// requests
		{client.UserCreate{}, core.CreateUserInput{}},
		{client.UserUpdate{}, core.UpdateUserInput{}},
		{client.ServiceAccountCreate{}, core.CreateServiceAccountInput{}},
		{client.GroupCreate{}, core.GroupInput{}},
		{client.GroupUpdate{}, core.GroupInput{}},
		{client.RoleCreate{}, core.RoleInput{}},
		{client.RoleUpdate{}, core.RoleInput{}},
		{client.TokenCreate{}, core.CreateTokenInput{}},
		{client.TokenUpdate{}, core.UpdateTokenInput{}},
		{client.TokenRotate{}, core.RotateInput{}},
		{client.ApplicationInput{}, core.ApplicationInput{}},
		{client.BindingInput{}, core.BindingInput{}},
		{client.BrandUpdate{}, core.BrandInput{}},
		{client.LDAPProviderInput{}, core.LDAPProviderInput{}},
		{client.OutpostCreate{}, core.OutpostInput{}},
		{client.LDAPBindInput{}, core.LDAPBindInput{}},
		{client.LDAPSessionRef{}, core.LDAPSessionRef{}},
		{client.LDAPSearchInput{}, ldap.DirectSearchInput{}},
		{client.OIDCIssuerCreate{}, core.OIDCIssuerInput{}},
		{client.OIDCIssuerUpdate{}, core.OIDCIssuerPatch{}},
		{client.TrustPolicyCreate{}, core.TrustPolicyInput{}},
		{client.TrustPolicyUpdate{}, core.TrustPolicyPatch{}},
		{client.PolicyTest{}, core.PolicyTestInput{}},
	}
	for _, p := range pairs {
		sameFields(t, reflect.TypeOf(p.client), reflect.TypeOf(p.server))
	}
}

// sameFields checks that each JSON field of c is one of s, of the same
// kind, looking into nested structs, slices and pointers.
func sameFields(t *testing.T, c, s reflect.Type) {
	t.Helper()
	c, s = deref(c), deref(s)
	if c.Kind() != s.Kind() {
		t.Errorf("%s is a %s, the server's %s a %s", c, c.Kind(), s, s.Kind())
		return
	}
	if c.Kind() != reflect.Struct || c.PkgPath() != reflect.TypeFor[client.User]().PkgPath() {
		return // a leaf (string, time.Time, map), or one of the standard library's
	}
	server := jsonFields(s)
	for name, cf := range jsonFields(c) {
		sf, ok := server[name]
		if !ok {
			t.Errorf("%s.%s: the server's %s has no field %q", c.Name(), cf.Name, s, name)
			continue
		}
		sameFields(t, cf.Type, sf.Type)
	}
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	return t
}

// jsonFields maps JSON names to fields, promoting embedded structs.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f
	}
	return out
}
