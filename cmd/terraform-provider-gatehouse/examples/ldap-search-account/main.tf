# An LDAP search account, as authentik's documentation sets one up for
# applications that look users up over LDAP (a wiki, a NAS, Jenkins): an
# LDAP provider, a service account allowed to search its whole directory,
# and an app password for its binds.

terraform {
  required_providers {
    gatehouse = { source = "gatehouse/gatehouse" }
  }
}

provider "gatehouse" {}

resource "gatehouse_ldap_provider" "corp" {
  name       = "corp"
  base_dn    = "dc=example,dc=com"
  upn_domain = "example.com"
}

resource "gatehouse_role" "ldap_search" {
  name        = "ldap-search-corp"
  description = "Search the whole corp directory over LDAP"
  permissions = ["ldap.search_full_directory@ldap/${gatehouse_ldap_provider.corp.name}"]
}

resource "gatehouse_service_account" "ldapsearch" {
  username    = "ldapsearch"
  description = "Bind account of the wiki's LDAP login"
  roles       = [gatehouse_role.ldap_search.name]
}

resource "gatehouse_token" "ldapsearch" {
  user        = gatehouse_service_account.ldapsearch.username
  identifier  = "ldapsearch-wiki"
  intent      = "app_password"
  description = "The wiki's LDAP bind password"
  ttl         = "8760h"
}

output "bind_dn" {
  value = "cn=${gatehouse_service_account.ldapsearch.username},ou=users,${gatehouse_ldap_provider.corp.base_dn}"
}

output "bind_password" {
  value     = gatehouse_token.ldapsearch.key
  sensitive = true
}
