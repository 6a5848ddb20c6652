import path from 'node:path';
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { functionBundleOptions } from '../../infra/constructs/function-bundle.js';

/**
 * What a function's cold start loads (issue 15): its bundle is built as the stack builds it (code splitting,
 * infra/constructs/function-bundle.ts), and the modules reachable from its entry through static imports are what a
 * cold start parses and runs. Organization mode's mail-server clients and keyring, the relay's own subscription work,
 * the device API's JWT verifier (registrations only) and the direct-APNs gateway are imported on first use only; a static import of any of them (or of a module that
 * imports them) puts them back into every cold start, and fails this file. `npm run bench -- --only bundles`
 * measures the sizes and times.
 */
const LAZY_ONLY = [
  'functions/_lib/adapters/message-details-readers.ts',
  'functions/_lib/adapters/subscription-managers.ts',
  'functions/_lib/adapters/kms-org-keyring.ts',
  'functions/_lib/apns-runtime.ts',
  'functions/_lib/org-token.ts',
  'functions/device-api/relay-subscription.ts',
  'functions/dispatcher/managed-wiring.ts',
  'shared/ews/safe-xml.ts',
];

async function coldStartInputs(name: string): Promise<{ cold: Set<string>; all: Set<string> }> {
  const { metafile } = await build({ ...functionBundleOptions(`functions/${name}/handler.ts`, `/tmp/inbox-relay-bundle-test/${name}`), metafile: true, write: false, logLevel: 'silent' });
  const outputs: Metafile['outputs'] = metafile.outputs;
  const entry = Object.keys(outputs).find((file) => outputs[file]!.entryPoint !== undefined)!;
  const loaded = new Set<string>();
  const pending = [entry];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (loaded.has(file)) continue;
    loaded.add(file);
    for (const imported of outputs[file]!.imports) if (imported.kind === 'import-statement' && !imported.external) pending.push(imported.path);
  }
  const inputsOf = (files: Iterable<string>) => new Set([...files].flatMap((file) => Object.keys(outputs[file]!.inputs)).map((input) => path.relative(process.cwd(), path.resolve(input))));
  return { cold: inputsOf(loaded), all: inputsOf(Object.keys(outputs).filter((file) => file.endsWith('.mjs'))) };
}

describe('what a cold start loads', () => {
  it.each(['device-api', 'dispatcher', 'org-api'])('%s: organization mode and direct APNs only on first use', async (name) => {
    const { cold, all } = await coldStartInputs(name);
    const bundled = LAZY_ONLY.filter((module) => all.has(module));
    // The check below would pass for a module the function no longer bundles at all: each of these bundles some.
    expect(bundled.length).toBeGreaterThan(0);
    expect(bundled.filter((module) => cold.has(module))).toEqual([]);
  });

  it('exchange-callback: the XML reader is on its hot path, so it loads at cold start (the check above can fail)', async () => {
    const { cold } = await coldStartInputs('exchange-callback');
    expect(cold.has('shared/ews/safe-xml.ts')).toBe(true);
  });
});
