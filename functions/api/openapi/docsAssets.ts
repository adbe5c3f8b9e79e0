/**
 * The browsable reference at /docs: Swagger UI from the swagger-ui-dist package (no CDN), served
 * by the api handler itself so it works wherever the API does. The page loads only its own
 * files (`docs/…`) and the document (`openapi.json`), relative to where it is served.
 *
 * Locally the files are read from node_modules; in Lambda the bundle carries copies
 * (lib/functions/lambdaBundling.ts) and WEFT_DOCS_ASSETS_DIR points at them.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Files of swagger-ui-dist the page needs (copied into the Lambda bundle). */
export const SWAGGER_UI_FILES = ['swagger-ui.css', 'swagger-ui-bundle.js'] as const;

const INIT_JS = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: 'openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
});
`;

export const DOCS_ASSETS: Record<string, { contentType: string; file?: (typeof SWAGGER_UI_FILES)[number]; text?: string }> = {
  'swagger-ui.css': { contentType: 'text/css', file: 'swagger-ui.css' },
  'swagger-ui-bundle.js': { contentType: 'text/javascript', file: 'swagger-ui-bundle.js' },
  'init.js': { contentType: 'text/javascript', text: INIT_JS },
};

export const DOCS_PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>Weft API</title>
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="docs/swagger-ui.css">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="docs/swagger-ui-bundle.js"></script>
    <script src="docs/init.js"></script>
  </body>
</html>
`;

/** Only this origin's files and the document; Swagger UI styles some elements inline. */
export const DOCS_CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const swaggerUiDir = (env: NodeJS.ProcessEnv = process.env): string =>
  env.WEFT_DOCS_ASSETS_DIR ?? dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const cache = new Map<string, string>();

/** The asset's bytes as text, or undefined for a name that is not one. */
export const readDocsAsset = (name: string): { contentType: string; body: string } | undefined => {
  const asset = Object.hasOwn(DOCS_ASSETS, name) ? DOCS_ASSETS[name] : undefined;
  if (!asset) return undefined;
  if (asset.text !== undefined) return { contentType: asset.contentType, body: asset.text };
  const path = join(swaggerUiDir(), asset.file!);
  let body = cache.get(path);
  if (body === undefined) {
    body = readFileSync(path, 'utf8');
    cache.set(path, body);
  }
  return { contentType: asset.contentType, body };
};
