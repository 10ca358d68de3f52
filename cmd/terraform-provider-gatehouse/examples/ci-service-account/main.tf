# A CI pipeline's identity: a service account and its API token, whose
# key goes to the CI system's secret store (here an output). The key is a
# deploy key of least privilege: it may only update the site's
# application, and only from the CI runners' network, whatever else the
# account's roles allow.
#
#   export GATEHOUSE_SERVER=https://gatehouse.example.com GATEHOUSE_API_TOKEN=gat_...
#   tofu apply && tofu output -raw ci_token | gh secret set GATEHOUSE_TOKEN
#
# The key is kept in the state: keep the state encrypted and private.

terraform {
  required_providers {
    gatehouse = { source = "gatehouse/gatehouse" }
  }
}

provider "gatehouse" {}

resource "gatehouse_role" "deploy" {
  name        = "site-deployer"
  description = "What the site's deploy job needs"
  permissions = ["applications.read@application/site", "applications.write@application/site", "groups.read@group/site-editors"]
}

resource "gatehouse_service_account" "ci" {
  username    = "ci-deploy"
  description = "GitHub Actions: deploys the web site"
  roles       = [gatehouse_role.deploy.name]
}

resource "gatehouse_token" "ci" {
  user        = gatehouse_service_account.ci.username
  identifier  = "ci-deploy-github"
  description = "GitHub Actions secret GATEHOUSE_TOKEN"
  ttl         = "720h"
  # Bump the generation to rotate the key; the old one keeps working for
  # an hour, while the secret store is updated.
  rotate_triggers = { generation = "1" }
  rotation_grace  = "1h"
  # Least privilege: of the account's permissions, the key may use only
  # this one, and only from the runners' network (a use from elsewhere is
  # refused like a bad key). The server fixes both for the token's life:
  # changing them replaces the token (a new key).
  permissions   = ["applications.write@application/site"]
  allowed_cidrs = ["10.20.0.0/16"]
}

output "ci_token" {
  value     = gatehouse_token.ci.key
  sensitive = true
}
