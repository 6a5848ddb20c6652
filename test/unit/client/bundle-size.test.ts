import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

/** docs/client.md states the client entry point's size; this keeps the statement from going stale unnoticed. */
describe('the documented client bundle size', () => {
  it('is within 5 % of what the documented esbuild command gives today', async () => {
    const docs = readFileSync('docs/client.md', 'utf8');
    const stated = /bundles to ([\d,]+) bytes minified,\s+([\d,]+) bytes gzipped/.exec(docs);
    expect(stated, 'docs/client.md no longer states the size in the form this test reads').not.toBeNull();
    const bytes = (figure: string) => Number(figure.replaceAll(',', ''));
    const [minified, gzipped] = [bytes(stated![1]!), bytes(stated![2]!)];

    // The command in docs/client.md: --bundle --minify --format=esm --platform=browser --target=es2022, then gzip -9.
    const result = await build({
      entryPoints: ['shared/client/index.ts'],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    });
    const code = result.outputFiles[0]!.contents;
    const measured = { minified: code.byteLength, gzipped: gzipSync(code, { level: 9 }).byteLength };

    const off = (statedBytes: number, actual: number) => Math.abs(actual - statedBytes) / actual;
    expect(off(minified, measured.minified), `minified is ${measured.minified} bytes, docs say ${minified}`).toBeLessThanOrEqual(0.05);
    expect(off(gzipped, measured.gzipped), `gzipped is ${measured.gzipped} bytes, docs say ${gzipped}`).toBeLessThanOrEqual(0.05);
  });
});
