// Generates the typed API client from the core's OpenAPI document (the contract flows one way:
// core -> openapi.json -> web/src/api/generated). Run `npm run generate:api` after the document changes.
import { defineConfig } from 'orval';

export default defineConfig({
  core: {
    input: { target: process.env.SR_OPENAPI ?? '../src/core/api/openapi.json' },
    output: {
      mode: 'split',
      client: 'fetch',
      target: './src/api/generated/core.ts',
      schemas: './src/api/generated/model',
      clean: true,
      prettier: false,
      override: {
        mutator: { path: './src/api/http.ts', name: 'apiFetch' },
        fetch: { includeHttpResponseReturnType: false },
      },
    },
  },
});
