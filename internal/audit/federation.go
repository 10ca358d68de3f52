package audit

// Target kinds and actions of workload identity federation.
const (
	KindOIDCIssuer  = "oidc_issuer"
	KindTrustPolicy = "trust_policy"

	// ActionTokenExchanged: an ID token was traded for a minted token.
	ActionTokenExchanged = "token_exchanged"
	// ActionTokenExchangeDenied: an exchange was refused; the event says
	// exactly why (the answer does not).
	ActionTokenExchangeDenied = "token_exchange_denied"
)
