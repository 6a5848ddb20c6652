import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** Facts README repeats from the code, read from both so that they cannot drift apart again. */
describe('README', () => {
  const readme = readFileSync('README.md', 'utf8');

  it('gives the simulator\'s real defaults (README said 100 devices and seed 1; they are 20 and random)', () => {
    const usage = readFileSync('scripts/simulate.ts', 'utf8');
    const devices = /--devices N\s.*\(default (\d+)\)/.exec(usage)?.[1];
    expect(devices).toBeDefined();
    expect(usage).toMatch(/--seed S\s.*\(default: random/);
    const row = readme.split('\n').find((line) => line.startsWith('| `npm run simulate'));
    expect(row).toContain(`N devices (default ${devices})`);
    expect(row).toContain('the seed is random unless given');
  });

  it('defines the terms it uses before the Quick start', () => {
    const glossary = readme.slice(readme.indexOf('## Words used here'), readme.indexOf('## Quick start'));
    for (const term of ['Default mode', 'Organization mode', '`vipAfterHours`', '`shared/`']) expect(glossary).toContain(`**${term}**`);
  });
});
