// Package client is the Go client of the gatehouse REST API (/api/v1):
// the one package that the gatehouse CLI, its LDAP outposts, its
// benchmark tool and its Terraform provider talk to a server with, and
// that any Go program may import.
//
// A Client is made for one server and one set of credentials:
//
//	c, err := client.New("https://gatehouse.example.com", client.WithToken(key))
//	// or, from GATEHOUSE_SERVER and GATEHOUSE_API_TOKEN(_FILE):
//	c, err := client.FromEnv()
//
// Calls are grouped by the collection they act on, take a context first
// and return the API's wire types:
//
//	sa, err := c.ServiceAccounts.Create(ctx, client.ServiceAccountCreate{
//		Username:    "ci-deploy",
//		CreateGroup: true,
//		TokenIntent: client.IntentAPI,
//	})
//	fmt.Println(sa.Token.Key) // shown this once
//
// Lists come a page at a time (List, with Page.NextPageToken), all at once
// (ListAll), or as an iterator over every page (All).
//
// A non-2xx answer is an *Error holding the server's problem document
// (RFC 9457): status, title, detail, the bad fields, and Retry-After. It
// matches ErrNotFound, ErrConflict, ErrForbidden, ErrUnauthorized and
// ErrTooManyRequests through errors.Is:
//
//	if _, err := c.Groups.Get(ctx, "ops"); errors.Is(err, client.ErrNotFound) {
//		// deleted by someone else: create it again
//	}
//
// Neither an Error nor any other error of this package holds a
// credential, a key or a request body.
//
// Request types mark optional fields with pointers: a nil field is not
// sent, so a PATCH changes only what is set. The package's generic Do,
// List and All reach endpoints the typed calls do not cover.
package client
