// Starts Swagger UI on /openapi.json; a file of its own so the page needs no inline script.
const root = document.getElementById("swagger-ui");
window.ui = window.SwaggerUIBundle({
  url: root.dataset.specUrl,
  dom_id: "#swagger-ui",
  deepLinking: true,
  layout: "BaseLayout",
  presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIStandalonePreset],
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
});
