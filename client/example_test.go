package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gatehouse/gatehouse/client"
)

// exampleServer answers like a gatehouse server, for the examples.
func exampleServer() *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/service-accounts", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"user":{"username":"ci-deploy","type":"service_account","is_active":true},
			"group":{"name":"ci-deploy","members":["ci-deploy"]},
			"token":{"identifier":"ci-deploy-1a2b3c4d","user":"ci-deploy","intent":"api","key":"gat_example"}}`)
	})
	mux.HandleFunc("GET /api/v1/groups/{name}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"type":"about:blank","title":"Not Found","status":404,"detail":"group \"%s\" does not exist"}`, r.PathValue("name"))
	})
	mux.HandleFunc("GET /api/v1/users", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("page_token") == "" {
			fmt.Fprint(w, `{"items":[{"username":"admin"},{"username":"alice"}],"next_page_token":"p2"}`)
			return
		}
		fmt.Fprint(w, `{"items":[{"username":"ci-deploy"}],"next_page_token":""}`)
	})
	return httptest.NewServer(mux)
}

func Example() {
	srv := exampleServer()
	defer srv.Close()

	c, err := client.New(srv.URL, client.WithToken("an admin's API token"))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	created, err := c.ServiceAccounts.Create(ctx, client.ServiceAccountCreate{
		Username:    "ci-deploy",
		Description: "deploys main",
		CreateGroup: true,
		TokenIntent: client.IntentAPI,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(created.User.Username, created.Group.Name, created.Token.Key)
	// Output: ci-deploy ci-deploy gat_example
}

func ExampleError() {
	srv := exampleServer()
	defer srv.Close()

	c, _ := client.New(srv.URL, client.WithToken("an admin's API token"))
	_, err := c.Groups.Get(context.Background(), "ops")
	if errors.Is(err, client.ErrNotFound) {
		fmt.Println("gone:", err)
	}
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.Status, apiErr.Detail)
	}
	// Output:
	// gone: 404 Not Found: group "ops" does not exist
	// 404 group "ops" does not exist
}

func ExampleUsers_All() {
	srv := exampleServer()
	defer srv.Close()

	c, _ := client.New(srv.URL, client.WithToken("an admin's API token"))
	for u, err := range c.Users.All(context.Background(), client.UserFilter{}, client.ListOptions{}) {
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Println(u.Username)
	}
	// Output:
	// admin
	// alice
	// ci-deploy
}
