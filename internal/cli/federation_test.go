package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/federation/fedtest"
	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// TestGitHubActionsRecipe runs the README's GitHub Actions recipe
// against a real server and a simulated runner: the trust policy made
// with the CLI, then, in the "job", `gatehouse token exchange
// --github-actions` with only the runner's variables, and the key used.
func TestGitHubActionsRecipe(t *testing.T) {
	iss := fedtest.New(t)
	e := servertest.Start(t, storetest.NewSQLite(t), func(c *config.Config) { c.OIDCAllowInsecureIssuers = true })
	const audience = "https://gatehouse.example.com"
	// The runner: ACTIONS_ID_TOKEN_REQUEST_URL answers {"value": ID token}
	// to the request token, for the audience asked.
	const requestToken = "runner-request-token"
	runner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+requestToken {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		claims := iss.Claims(e.App.Core.Clock().Now(), r.URL.Query().Get("audience"), map[string]any{
			"sub": "repo:acme/app:ref:refs/heads/main", "repository": "acme/app", "repository_id": "89012345",
			"repository_owner": "acme", "repository_owner_id": "1234567", "ref": "refs/heads/main", "event_name": "push",
			"workflow_ref":     "acme/app/.github/workflows/deploy.yml@refs/heads/main",
			"job_workflow_ref": "acme/app/.github/workflows/deploy.yml@refs/heads/main"})
		_ = json.NewEncoder(w).Encode(map[string]string{"count": "1", "value": iss.Sign(t, claims)})
	}))
	t.Cleanup(runner.Close)

	admin := map[string]string{EnvServer: e.URL, EnvAPIToken: servertest.AdminToken}
	// The administrator's side of the recipe.
	runEnv(t, admin, "service-account", "create", "deployer", "--token-intent", "none").wantCode(t, 0)
	runEnv(t, admin, "oidc-issuer", "create", "github", "--kind", "github", "--issuer-url", iss.URL).wantCode(t, 0)
	r := runEnv(t, admin, "trust-policy", "create", "deploy-app", "--issuer", "github", "--service-account", "deployer",
		"--audience", audience, "--condition", "repository_owner_id=1234567", "--condition", "repository_id=89012345",
		"--condition", "ref=refs/heads/main", "--condition", "event_name=push", "--ttl", "15m")
	r.wantCode(t, 0)
	// Not pinned: refused.
	runEnv(t, admin, "trust-policy", "create", "loose", "--issuer", "github", "--service-account", "deployer",
		"--audience", audience, "--condition", "repository=acme/app").wantCode(t, 1)

	// The job: nothing stored, only the runner's variables.
	job := map[string]string{EnvServer: e.URL, "ACTIONS_ID_TOKEN_REQUEST_URL": runner.URL + "/token?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": requestToken}
	r = runEnv(t, job, "token", "exchange", "--service-account", "deployer", "--github-actions", "--audience", audience)
	if r.code != 0 {
		t.Log(string(e.Admin("GET", "/api/v1/events?action=token_exchange_denied", nil).Body))
	}
	r.wantCode(t, 0)
	key := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(key, "gat_") || strings.Contains(key, "\n") {
		t.Fatalf("stdout is not the key alone: %q", r.stdout)
	}
	who := runEnv(t, map[string]string{EnvServer: e.URL, EnvAPIToken: key}, "whoami", "-o", "json")
	who.wantCode(t, 0)
	if !strings.Contains(who.stdout, `"deployer"`) {
		t.Fatalf("whoami: %s", who.stdout)
	}
	// The wrong audience: a bare invalid_grant, and the tester says why.
	r = runEnv(t, job, "token", "exchange", "--service-account", "deployer", "--github-actions", "--audience", "other")
	r.wantCode(t, 1)
	if !strings.Contains(r.stderr, "invalid_grant") {
		t.Fatalf("stderr: %s", r.stderr)
	}
	// The minted token's provenance shows in token views.
	list := runEnv(t, admin, "token", "list", "--user", "deployer", "-o", "json")
	if !strings.Contains(list.stdout, `"policy": "deploy-app"`) {
		t.Fatalf("token list: %s", list.stdout)
	}
	// Deleting the policy revokes the minted key at once.
	runEnv(t, admin, "trust-policy", "delete", "deploy-app").wantCode(t, 0)
	runEnv(t, map[string]string{EnvServer: e.URL, EnvAPIToken: key}, "whoami").wantCode(t, 1)
}

// TestGitLabRecipe runs the README's GitLab CI recipe: the id_tokens
// variable handed to `gatehouse token exchange --id-token-env`, the
// policy pinning the namespace and project by ID.
func TestGitLabRecipe(t *testing.T) {
	iss := fedtest.New(t)
	e := servertest.Start(t, storetest.NewSQLite(t), func(c *config.Config) { c.OIDCAllowInsecureIssuers = true })
	const audience = "https://gatehouse.example.com"
	admin := map[string]string{EnvServer: e.URL, EnvAPIToken: servertest.AdminToken}
	runEnv(t, admin, "service-account", "create", "deployer", "--token-intent", "none").wantCode(t, 0)
	// The recipe's issuer is gitlab.com; the test's stands in for it.
	runEnv(t, admin, "oidc-issuer", "create", "gitlab", "--kind", "gitlab", "--issuer-url", iss.URL).wantCode(t, 0)
	runEnv(t, admin, "trust-policy", "create", "deploy-gl", "--issuer", "gitlab", "--service-account", "deployer",
		"--audience", audience, "--condition", "namespace_id=4242", "--condition", "project_id=777",
		"--condition", "ref=main", "--condition", "ref_type=branch", "--condition", "ref_protected=true").wantCode(t, 0)
	idToken := iss.Sign(t, iss.Claims(e.App.Core.Clock().Now(), audience, map[string]any{
		"sub": "project_path:acme/app:ref_type:branch:ref:main", "namespace_id": "4242", "namespace_path": "acme",
		"project_id": "777", "project_path": "acme/app", "ref": "main", "ref_type": "branch", "ref_protected": "true"}))
	job := map[string]string{EnvServer: e.URL, "GATEHOUSE_ID_TOKEN": idToken}
	r := runEnv(t, job, "token", "exchange", "--service-account", "deployer", "--id-token-env", "GATEHOUSE_ID_TOKEN")
	r.wantCode(t, 0)
	key := strings.TrimSpace(r.stdout)
	runEnv(t, map[string]string{EnvServer: e.URL, EnvAPIToken: key}, "whoami").wantCode(t, 0)
	// The same ID token is good for one exchange.
	runEnv(t, job, "token", "exchange", "--service-account", "deployer", "--id-token-env", "GATEHOUSE_ID_TOKEN").wantCode(t, 1)
	// Another project in the same namespace: refused.
	other := iss.Sign(t, iss.Claims(e.App.Core.Clock().Now(), audience, map[string]any{
		"namespace_id": "4242", "project_id": "778", "ref": "main", "ref_type": "branch", "ref_protected": "true"}))
	runEnv(t, map[string]string{EnvServer: e.URL, "GATEHOUSE_ID_TOKEN": other},
		"token", "exchange", "--service-account", "deployer", "--id-token-env", "GATEHOUSE_ID_TOKEN").wantCode(t, 1)
}

// TestKubernetesRecipe runs the README's Kubernetes recipe: the cluster's
// keys given inline (nothing fetched, no insecure setting), the projected
// token read from a file by `gatehouse token exchange --id-token-file`.
func TestKubernetesRecipe(t *testing.T) {
	iss := fedtest.New(t)
	e := servertest.Start(t, storetest.NewSQLite(t))
	const audience = "https://gatehouse.example.com"
	const clusterIssuer = "https://kubernetes.default.svc.cluster.local"
	admin := map[string]string{EnvServer: e.URL, EnvAPIToken: servertest.AdminToken}
	dir := t.TempDir()
	jwks := filepath.Join(dir, "cluster-jwks.json")
	if err := os.WriteFile(jwks, []byte(iss.JWKS()), 0o600); err != nil {
		t.Fatal(err)
	}
	runEnv(t, admin, "service-account", "create", "reporter", "--token-intent", "none").wantCode(t, 0)
	runEnv(t, admin, "oidc-issuer", "create", "prod-cluster", "--kind", "kubernetes",
		"--issuer-url", clusterIssuer, "--jwks-file", jwks).wantCode(t, 0)
	runEnv(t, admin, "trust-policy", "create", "prod-reporter", "--issuer", "prod-cluster", "--service-account", "reporter",
		"--audience", audience, "--condition", "sub=system:serviceaccount:reports:reporter", "--ttl", "10m").wantCode(t, 0)
	// The kubelet's projected token, in the pod's volume.
	token := filepath.Join(dir, "token")
	claims := iss.Claims(e.App.Core.Clock().Now(), audience, map[string]any{"iss": clusterIssuer, "sub": "system:serviceaccount:reports:reporter"})
	if err := os.WriteFile(token, []byte(iss.Sign(t, claims)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runEnv(t, map[string]string{EnvServer: e.URL}, "token", "exchange", "--service-account", "reporter", "--id-token-file", token)
	r.wantCode(t, 0)
	who := runEnv(t, map[string]string{EnvServer: e.URL, EnvAPIToken: strings.TrimSpace(r.stdout)}, "whoami", "-o", "json")
	who.wantCode(t, 0)
	if !strings.Contains(who.stdout, `"reporter"`) {
		t.Fatalf("whoami: %s", who.stdout)
	}
	// Another namespace's account: refused.
	claims = iss.Claims(e.App.Core.Clock().Now(), audience, map[string]any{"iss": clusterIssuer, "sub": "system:serviceaccount:other:reporter"})
	if err := os.WriteFile(token, []byte(iss.Sign(t, claims)), 0o600); err != nil {
		t.Fatal(err)
	}
	runEnv(t, map[string]string{EnvServer: e.URL}, "token", "exchange", "--service-account", "reporter", "--id-token-file", token).wantCode(t, 1)
}
