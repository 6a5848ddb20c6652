import type { BuildOptions } from 'esbuild';

/**
 * How every Lambda function is bundled: one esbuild build per function (ESM, node22, minified, `@aws-sdk/*` left to the
 * runtime, source maps without sources), split into chunks so that what a function imports lazily (organization mode,
 * relay-managed subscriptions, the direct-APNs gateway in an SNS deployment) is a chunk of its own, loaded on first
 * use rather than at every cold start (issue 15). `index.mjs` is the entry Lambda runs; the chunks sit beside it.
 *
 * RelayFunction (relay-function.ts) bundles with these options, and `npm run bench` group 5 (bench/bundles.bench.ts)
 * measures bundles built with them, so the figures are those of what is deployed.
 */
export const FUNCTION_BUNDLE_OPTIONS = {
  bundle: true,
  splitting: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  mainFields: ['module', 'main'],
  minify: true,
  sourcemap: true,
  // Stack traces need file and line only; the sources would double the upload for nothing.
  sourcesContent: false,
  // The Node.js 22 runtime ships the AWS SDK v3; bundling it would only slow cold starts.
  external: ['@aws-sdk/*'],
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  // ESM bundles have no `require`; CommonJS dependencies inlined by esbuild still call it for Node built-ins.
  banner: { js: "import { createRequire as __relayCreateRequire } from 'node:module'; const require = __relayCreateRequire(import.meta.url);" },
  logLevel: 'warning',
} as const satisfies BuildOptions;

/** The build options for one function: its handler file as `index` in `outdir`. */
export function functionBundleOptions(entry: string, outdir: string): BuildOptions {
  return { ...FUNCTION_BUNDLE_OPTIONS, entryPoints: { index: entry }, outdir };
}
