package core_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/auth"
	"github.com/gatehouse/gatehouse/internal/core"
)

func ptr[T any](v T) *T { return &v }

// Accounts: the authorize-validate-write shape, and the bound on changing
// an account that holds more than the actor.
func TestAccountsPart(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		uw := h.holder("users.read", "users.write")
		_, err := h.Accounts.CreateUser(h.ctx, uw, core.CreateUserInput{Username: "Bad Name"})
		var ve *core.ValidationError
		if !errors.As(err, &ve) || ve.Errors[0].Field != "username" {
			t.Fatalf("a bad name: %v", err)
		}
		h.must(h.Accounts.CreateUser(h.ctx, uw, core.CreateUserInput{Username: "carol", Password: ptr(harnessPassword)}))
		v, err := h.Accounts.UpdateUser(h.ctx, uw, "carol", core.UpdateUserInput{Email: ptr("carol@example.com")})
		if err != nil || v.Email != "carol@example.com" {
			t.Fatalf("update: %v %+v", err, v)
		}
		// The service-account paths do not see people.
		if _, err := h.Accounts.UpdateServiceAccount(h.ctx, uw, "carol", core.UpdateUserInput{}); !errors.As(err, new(*core.NotFoundError)) {
			t.Fatalf("a person through the service-account path: %v", err)
		}
		// No way up: the administrator is out of reach, with a reason.
		_, err = h.Accounts.UpdateUser(h.ctx, uw, "admin", core.UpdateUserInput{IsActive: ptr(false)})
		var fe *core.ForbiddenError
		if !errors.As(err, &fe) || fe.Detail == "" || !errors.Is(err, core.ErrForbidden) {
			t.Fatalf("disable the administrator: %v", err)
		}
		h.ok(h.Accounts.DeleteUser(h.ctx, uw, "carol"))
		if _, err := h.Accounts.GetUser(h.ctx, h.admin, "carol"); !errors.As(err, new(*core.NotFoundError)) {
			t.Fatalf("carol after deletion: %v", err)
		}
	})
}

// Credentials: a token checked at the doors by the one check, refused
// once revoked; the intent and the door's table decide, not the door.
func TestCredentialsPart(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		bot := h.holder("tokens.self")
		api, err := h.Credentials.CreateToken(h.ctx, bot, core.CreateTokenInput{Identifier: "bot-api"})
		h.ok(err)
		app, err := h.Credentials.CreateToken(h.ctx, bot, core.CreateTokenInput{Identifier: "bot-app", Intent: "app_password"})
		h.ok(err)
		check := func(door core.Door, in core.Presented) error {
			_, err := h.Credentials.CheckCredential(h.ctx, door, in, "192.0.2.7", core.CheckOptions{})
			return err
		}
		h.ok(check(core.DoorAPI, core.Presented{Kind: core.KindAPIToken, Secret: api.Key}))
		h.ok(check(core.DoorForwardAuth, core.Presented{Kind: core.KindAppPassword, Username: bot.P.Username, Secret: app.Key}))
		var r *core.Refusal
		if err := check(core.DoorLDAP, core.Presented{Kind: core.KindAPIToken, Secret: api.Key}); !errors.As(err, &r) || r.Reason != core.RefusedWrongIntent {
			t.Fatalf("an API token at the LDAP door: %v", err)
		}
		h.ok(h.Credentials.RevokeToken(h.ctx, bot, "bot-api"))
		if err := check(core.DoorAPI, core.Presented{Kind: core.KindAPIToken, Secret: api.Key}); !errors.Is(err, auth.ErrBadCredential) {
			t.Fatalf("a revoked token: %v", err)
		}
		// Expiry is checked at every use, on the clock.
		short, err := h.Credentials.CreateToken(h.ctx, bot, core.CreateTokenInput{Identifier: "bot-short", TTL: ptr("1h")})
		h.ok(err)
		h.clock.Advance(2 * time.Hour)
		if err := check(core.DoorAPI, core.Presented{Kind: core.KindAPIToken, Secret: short.Key}); !errors.As(err, &r) || r.Reason != core.RefusedExpired {
			t.Fatalf("an expired token: %v", err)
		}
	})
}

// Access: membership hands out the group's roles, so it is bounded by
// what the actor holds unless it holds roles.write.
func TestAccessPart(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.must(h.Access.CreateGroup(h.ctx, h.admin, core.GroupInput{Name: "admins"}))
		h.ok(h.Access.AssignRole(h.ctx, h.admin, "admin", "groups", "admins"))
		gw := h.holder("groups.write")
		if err := h.Access.AddMember(h.ctx, gw, "admins", gw.P.Username); !errors.Is(err, core.ErrForbidden) {
			t.Fatalf("join the admins: %v", err)
		}
		rw := h.holder("groups.write", "roles.write")
		h.ok(h.Access.AddMember(h.ctx, rw, "admins", rw.P.Username))
		g, err := h.Access.GetGroup(h.ctx, h.admin, "admins")
		if err != nil || len(g.Members) != 1 || g.Members[0] != rw.P.Username {
			t.Fatalf("admins: %v %+v", err, g)
		}
	})
}

// Applications: bindings decide admission; binding needs to read what is
// bound.
func TestApplicationsPart(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.must(h.Applications.CreateApplication(h.ctx, h.admin, core.ApplicationInput{Slug: "wiki", Name: ptr("Wiki")}))
		bot := h.holder()
		other := h.holder()
		d, err := h.Applications.Admit(h.ctx, bot, "wiki")
		if err != nil || !d.Admitted {
			t.Fatalf("an application without bindings admits every account: %v %+v", err, d)
		}
		aw := h.holder("applications.write@application/wiki")
		if _, err := h.Applications.PutBinding(h.ctx, aw, "wiki", "users", bot.P.Username, core.BindingInput{}); !errors.Is(err, core.ErrForbidden) {
			t.Fatalf("binding an account one may not read: %v", err)
		}
		h.must(h.Applications.PutBinding(h.ctx, h.admin, "wiki", "users", bot.P.Username, core.BindingInput{}))
		if d, err := h.Applications.Admit(h.ctx, other, "wiki"); err != nil || d.Admitted {
			t.Fatalf("an account the binding does not name: %v %+v", err, d)
		}
		if d, err := h.Applications.Admit(h.ctx, bot, "wiki"); err != nil || !d.Admitted {
			t.Fatalf("the bound account: %v %+v", err, d)
		}
	})
}

// LDAP: binds decided by the one check, the second factor included.
func TestLDAPPart(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.must(h.LDAP.CreateLDAPProvider(h.ctx, h.admin, core.LDAPProviderInput{Name: "corp", BaseDN: "dc=corp,dc=example"}))
		bind := func(name, password string) string {
			res, err := h.LDAP.LDAPBind(h.ctx, "corp", core.LDAPBindInput{Name: name, Password: password, ClientIP: "192.0.2.9"})
			h.ok(err)
			return res.Outcome
		}
		if got := bind("cn=admin,ou=users,dc=corp,dc=example", harnessPassword); got != core.LDAPBindSuccess {
			t.Fatalf("the admin's password: %s", got)
		}
		if got := bind("cn=admin,ou=users,dc=corp,dc=example", "wrong-password-1"); got != core.LDAPBindInvalid {
			t.Fatalf("a wrong password: %s", got)
		}
		if got := bind("cn=admin,ou=users,dc=corp,dc=example", ""); got != core.LDAPBindUnauthenticated {
			t.Fatalf("no password: %s", got)
		}
		dir, err := h.LDAP.LDAPDirectory(h.ctx)
		if err != nil || dir.UserByUID(h.admin.P.UID) == nil {
			t.Fatalf("the directory: %v", err)
		}
	})
}

// Sessions: a session opened at the second-factor stage is not a signed-in
// one; finishing the sign-in writes its login event.
func TestSessionsPart(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		pending, err := h.Sessions.StartSession(h.ctx, h.admin.P, "192.0.2.3", "test", core.SecondFactorDue)
		h.ok(err)
		if !pending.MFAPending {
			t.Fatal("a session at the second-factor stage is signed in")
		}
		full, err := h.Sessions.FinishLogin(h.ctx, h.admin.P, "192.0.2.3", "test", "password")
		h.ok(err)
		got, err := h.Sessions.ResolveSession(h.ctx, full.ID)
		if err != nil || got.MFAPending || got.Principal.Username != "admin" {
			t.Fatalf("resolve: %v %+v", err, got)
		}
		evs, err := h.Events.ListEvents(h.ctx, h.admin, core.EventQuery{Action: "login", Limit: 5})
		if err != nil || len(evs) != 1 {
			t.Fatalf("login events: %v %d", err, len(evs))
		}
		// Service accounts never get a session.
		if _, err := h.Sessions.StartSession(h.ctx, h.holder().P, "192.0.2.3", "test", core.SignedIn); !errors.Is(err, core.ErrForbidden) {
			t.Fatalf("a service account's session: %v", err)
		}
	})
}

// Events: every change is an event, read with events.read and verified
// as a chain.
func TestEventsPart(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.must(h.Access.CreateGroup(h.ctx, h.admin, core.GroupInput{Name: "team"}))
		reader := h.holder("events.read")
		evs, err := h.Events.ListEvents(h.ctx, reader, core.EventQuery{Target: "team", Limit: 10})
		if err != nil || len(evs) != 1 || evs[0].Action != "model_created" {
			t.Fatalf("the group's events: %v %+v", err, evs)
		}
		if _, err := h.Events.ListEvents(h.ctx, h.holder(), core.EventQuery{Limit: 1}); !errors.Is(err, core.ErrForbidden) {
			t.Fatalf("events without events.read: %v", err)
		}
		v, err := h.Events.VerifyEvents(h.ctx, reader, 0, 0)
		if err != nil || !v.Intact || v.Checked == 0 {
			t.Fatalf("verify: %v %+v", err, v)
		}
	})
}

// TestRestrictedKeyWarmCheckAllocatesNothing: the narrowing and the
// network test of a least-privilege key add no allocation (and no query)
// to a warm check at the API door (issue 17's budget; the time is in the
// benchmark suite, BenchmarkVerifyToken).
func TestRestrictedKeyWarmCheckAllocatesNothing(t *testing.T) {
	h := newHarness(t, storetestSQLite(t))
	bot := h.holder("users.read", "groups.read")
	perms := []string{"users.read"}
	tok, err := h.Credentials.CreateToken(h.ctx, h.admin, core.CreateTokenInput{User: bot.P.Username, Permissions: &perms,
		AllowedCIDRs: []string{"192.0.2.0/24", "2001:db8::/32"}})
	h.ok(err)
	in := core.Presented{Kind: core.KindAPIToken, Secret: tok.Key}
	check := func() {
		c, err := h.Credentials.CheckCredential(h.ctx, core.DoorAPI, in, "192.0.2.7", core.CheckOptions{})
		if err != nil || !c.P.Can("users.read") || c.P.Can("groups.read") {
			t.Fatalf("the warm check: %v", err)
		}
	}
	check()
	if n := testing.AllocsPerRun(200, check); n != 0 {
		t.Fatalf("a warm check of a restricted key allocates %v times; budget 0", n)
	}
}

// EffectivePermissions: what a token of an account may be narrowed to,
// readable by the account itself (a full key) and by users.read only.
func TestEffectivePermissions(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		bot := h.holder("tokens.self", "groups.read")
		name := bot.P.Username
		want := []string{"groups.read", "tokens.self"}
		for _, who := range []core.Actor{bot, h.admin, h.holder("users.read")} {
			got, err := h.Accounts.EffectivePermissions(h.ctx, who, name)
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("%s reads %s's permissions: %v %v", who.P.Username, name, got, err)
			}
		}
		// The administrator holds the whole catalogue.
		all, err := h.Accounts.EffectivePermissions(h.ctx, h.admin, "admin")
		if err != nil || !slices.Contains(all, "users.write") || !slices.Contains(all, "tokens.write") {
			t.Fatalf("admin's permissions: %v %v", all, err)
		}
		// Another account without users.read, and the account's own
		// narrowed key, are refused: a narrowed key sees only its own
		// intersection (Me), never its owner's broader set.
		narrowed := core.Actor{P: bot.P.Narrow([]string{"groups.read"}), ClientIP: bot.ClientIP}
		for _, who := range []core.Actor{h.holder("tokens.self"), narrowed} {
			if _, err := h.Accounts.EffectivePermissions(h.ctx, who, name); !errors.Is(err, core.ErrForbidden) {
				t.Fatalf("%s (narrowed %v) reads %s's permissions: %v", who.P.Username, who.P.Narrowed, name, err)
			}
		}
		if _, err := h.Accounts.EffectivePermissions(h.ctx, h.admin, "nobody"); !errors.As(err, new(*core.NotFoundError)) {
			t.Fatalf("an unknown account: %v", err)
		}
	})
}
