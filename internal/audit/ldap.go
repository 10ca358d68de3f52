package audit

// Target kinds and actions of LDAP providers and outposts.
const (
	KindLDAPProvider = "ldap_provider"
	KindOutpost      = "outpost"

	// ActionTokenExpiring warns that a token gatehouse manages (an
	// outpost's) is close to expiry and has not been rotated.
	ActionTokenExpiring = "token_expiring"
)
