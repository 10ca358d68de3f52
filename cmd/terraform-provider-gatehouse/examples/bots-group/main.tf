# Bots governed by a group, as Kestra's documentation sets them up: the
# group holds the role, and each bot is a service account that is a
# member of the group. Adding a bot is one line in var.bots; changing
# what all bots may do is one change to the role.

terraform {
  required_providers {
    gatehouse = { source = "gatehouse/gatehouse" }
  }
}

provider "gatehouse" {}

variable "bots" {
  type    = set(string)
  default = ["etl-nightly", "report-builder"]
}

resource "gatehouse_role" "bots" {
  name        = "bots"
  description = "What every bot may do"
  permissions = ["applications.read", "users.read"]
}

resource "gatehouse_group" "bots" {
  name        = "bots"
  description = "Service accounts of the automation"
}

resource "gatehouse_role_assignment" "bots" {
  role  = gatehouse_role.bots.name
  group = gatehouse_group.bots.name
}

resource "gatehouse_service_account" "bot" {
  for_each    = var.bots
  username    = each.key
  description = "bot ${each.key}"
  # groups is left out: membership is the gatehouse_group_member below.
}

resource "gatehouse_group_member" "bot" {
  for_each = var.bots
  group    = gatehouse_group.bots.name
  username = gatehouse_service_account.bot[each.key].username
}

resource "gatehouse_token" "bot" {
  for_each    = var.bots
  user        = gatehouse_service_account.bot[each.key].username
  identifier  = "${each.key}-api"
  description = "API token of ${each.key}"
  ttl         = "2160h"
}

output "bot_tokens" {
  value     = { for name, t in gatehouse_token.bot : name => t.key }
  sensitive = true
}
