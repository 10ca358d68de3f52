package api

import (
	_ "embed"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/core"
)

// OpenAPIDocument is the OpenAPI 3.1 description of the API, kept by hand
// and checked against the route table by TestOpenAPIMatchesRoutes.
//
//go:embed openapi.json
var OpenAPIDocument []byte

func (s *Server) openapi(w http.ResponseWriter, r *http.Request, _ core.Actor) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(OpenAPIDocument)
}
