import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

// Devices run the client in JavaScriptCore/Hermes, not Node: the bundle must resolve on the neutral platform, where
// Node built-ins do not exist, and must not touch Node globals.
async function bundle(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

describe('the client library', () => {
  it.each(['index', 'app-config', 'relay-client', 'subscriptions', 'graph-subscriptions', 'incoming-push', 'delegation', 'alert-key'])(
    'bundles %s for a runtime without Node built-ins',
    async (module) => {
      const code = await bundle(`shared/client/${module}.ts`);
      expect(code).not.toMatch(/from\s*["']node:|require\(["']/);
      expect(code).not.toMatch(/\bprocess\.(env|versions|platform)\b/);
    },
  );

  it('keeps the permission model free of dependencies', async () => {
    const code = await bundle('shared/client/delegation.ts');
    expect(code).not.toContain('node_modules');
  });
});
