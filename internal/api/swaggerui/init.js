// gatehouse's own start of Swagger UI (not vendored): the API reference
// page at /api/docs, rendering the server's own OpenAPI document. A file
// of its own, since the page's Content-Security-Policy allows no inline
// script.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "v1/openapi.json", // relative to /api/docs: /api/v1/openapi.json
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null, // never ask swagger.io to validate the document
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
