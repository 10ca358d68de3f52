# GitHub Actions deploys without a stored secret (workload identity
# federation): the workflow trades the ID token GitHub gives every job for
# a 15-minute API token of a service account. Only main of one repository
# of one organisation qualifies, pinned by the organisation's immutable ID
# (a renamed or re-registered organisation cannot inherit the policy).
#
#   export GATEHOUSE_SERVER=https://gatehouse.example.com GATEHOUSE_API_TOKEN=gat_...
#   tofu apply
#
# In the workflow (permissions: id-token: write):
#
#   GATEHOUSE_API_TOKEN=$(gatehouse token exchange --github-actions \
#     --audience https://gatehouse.example.com --service-account gha-site-deploy)
#
# The issuer's keys are fetched from GitHub at the first exchange, not
# when it is created.

terraform {
  required_providers {
    gatehouse = { source = "gatehouse/gatehouse" }
  }
}

provider "gatehouse" {}

variable "github_owner_id" {
  description = "The organisation's numeric ID (repository_owner_id): gh api orgs/ORG --jq .id"
  type        = string
  default     = "1234567"
}

resource "gatehouse_role" "deploy" {
  name        = "gha-site-deployer"
  description = "What the site's deploy workflow needs"
  permissions = ["applications.read@application/site", "applications.write@application/site"]
}

resource "gatehouse_service_account" "deploy" {
  username    = "gha-site-deploy"
  description = "GitHub Actions: deploys the web site (federated, no stored key)"
  roles       = [gatehouse_role.deploy.name]
}

# kind = "github" presets the issuer URL (https://token.actions.githubusercontent.com),
# shared = true and the tenant claims (repository_owner_id, repository_id).
resource "gatehouse_oidc_issuer" "github" {
  name = "github-actions"
  kind = "github"
}

resource "gatehouse_trust_policy" "site_main" {
  name            = "site-main-deploy"
  description     = "acme/site, main branch, production environment"
  issuer          = gatehouse_oidc_issuer.github.name
  service_account = gatehouse_service_account.deploy.username
  audience        = "https://gatehouse.example.com"
  conditions = {
    repository_owner_id = [var.github_owner_id]
    repository          = ["acme/site"]
    ref                 = ["refs/heads/main"]
    environment         = ["production"]
  }
  # Least privilege: the minted tokens may only update the site, from
  # GitHub's hosted runners or yours (leave out for anywhere).
  permissions = ["applications.write@application/site"]
  ttl         = "15m"
}
