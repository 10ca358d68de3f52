package audit

// Actions of the web interface's sessions and second factors.
const (
	ActionSessionsRevoked        = "sessions_revoked" // a user signed out their other browsers
	ActionTOTPEnabled            = "totp_enabled"
	ActionTOTPDisabled           = "totp_disabled"
	ActionRecoveryCodesGenerated = "recovery_codes_generated"
	ActionRecoveryCodeUsed       = "recovery_code_used"
)
