package federation

import (
	"encoding/json"
	"slices"
	"strconv"
)

// ClaimValue renders a claim for an exact comparison: a string as it is,
// a number as its JSON text (GitHub sends repository_id as a string,
// others send numbers), a boolean as true or false. Lists, objects and
// null have no value: a condition on them never matches.
func ClaimValue(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// Match checks claims against a policy's conditions: every named claim
// must be present and equal one of its values, exactly. It returns the
// first condition (in name order) that fails, "" when all hold. No
// conditions never match: a policy without any would trust every token
// of the issuer.
func Match(conditions map[string][]string, claims map[string]any) (failed string, ok bool) {
	if len(conditions) == 0 {
		return "", false
	}
	names := make([]string, 0, len(conditions))
	for k := range conditions {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, name := range names {
		raw, present := claims[name]
		if !present {
			return name, false
		}
		v, ok := ClaimValue(raw)
		if !ok || !slices.Contains(conditions[name], v) {
			return name, false
		}
	}
	return "", true
}

// ReservedClaims are checked by the exchange itself and cannot be
// conditions.
var ReservedClaims = []string{"iss", "aud", "exp", "nbf", "iat", "jti"}
