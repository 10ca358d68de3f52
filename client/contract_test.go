package client

import (
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/core"
	"github.com/gatehouse/gatehouse/internal/ldap"
)

// The wire types here are written by hand, beside the server's own. This
// test holds them to the server's: every field a client type reads is
// one the server sends, and every field it sends is one the server takes
// (it refuses unknown fields), under the same JSON name and kind.
func TestWireTypesMatchTheServer(t *testing.T) {
	t.Parallel()
	pairs := []struct{ client, server any }{
		// answers
		{Me{}, core.Me{}},
		{User{}, core.UserView{}},
		{CreatedServiceAccount{}, core.CreatedServiceAccount{}},
		{Group{}, core.GroupView{}},
		{Role{}, core.RoleView{}},
		{Permission{}, authz.Definition{}},
		{Token{}, core.TokenView{}},
		{Event{}, core.EventView{}},
		{ChainVerification{}, audit.Verification{}},
		{Application{}, core.ApplicationView{}},
		{BrandSettings{}, core.Brand{}},
		{LDAPProvider{}, core.LDAPProviderView{}},
		{Outpost{}, core.OutpostView{}},
		{CreatedOutpost{}, core.CreatedOutpost{}},
		{LDAPBindResult{}, core.LDAPBindResult{}},
		{LDAPSessionState{}, core.LDAPSessionState{}},
		{LDAPSearchResult{}, ldap.DirectSearchResult{}},
		{DirectoryFeed{}, core.DirectoryFeed{}},
		{OIDCIssuer{}, core.OIDCIssuerView{}},
		{TrustPolicy{}, core.TrustPolicyView{}},
		{PolicyTestResult{}, core.PolicyTestResult{}},
		{ExchangeResult{}, core.ExchangeResult{}},
		// requests
		{UserCreate{}, core.CreateUserInput{}},
		{UserUpdate{}, core.UpdateUserInput{}},
		{ServiceAccountCreate{}, core.CreateServiceAccountInput{}},
		{GroupCreate{}, core.GroupInput{}},
		{GroupUpdate{}, core.GroupInput{}},
		{RoleCreate{}, core.RoleInput{}},
		{RoleUpdate{}, core.RoleInput{}},
		{TokenCreate{}, core.CreateTokenInput{}},
		{TokenUpdate{}, core.UpdateTokenInput{}},
		{TokenRotate{}, core.RotateInput{}},
		{ApplicationInput{}, core.ApplicationInput{}},
		{BindingInput{}, core.BindingInput{}},
		{BrandUpdate{}, core.BrandInput{}},
		{LDAPProviderInput{}, core.LDAPProviderInput{}},
		{OutpostCreate{}, core.OutpostInput{}},
		{LDAPBindInput{}, core.LDAPBindInput{}},
		{LDAPSessionRef{}, core.LDAPSessionRef{}},
		{LDAPSearchInput{}, ldap.DirectSearchInput{}},
		{OIDCIssuerCreate{}, core.OIDCIssuerInput{}},
		{OIDCIssuerUpdate{}, core.OIDCIssuerPatch{}},
		{TrustPolicyCreate{}, core.TrustPolicyInput{}},
		{TrustPolicyUpdate{}, core.TrustPolicyPatch{}},
		{PolicyTest{}, core.PolicyTestInput{}},
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
	if c.Kind() != reflect.Struct || c.PkgPath() != reflect.TypeFor[User]().PkgPath() {
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
