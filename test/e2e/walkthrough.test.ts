import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalService, type LocalService } from '../../infra/local/service.js';

/**
 * README's walkthrough, run as a new user would: examples/walkthrough.sh under POSIX `sh` (dash here, so a bashism
 * such as `{1..32}` fails it) against the running local service, ending with the push, its decision and the page.
 */
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCRIPT = path.join(REPO, 'examples/walkthrough.sh');

describe('the README walkthrough', () => {
  let service: LocalService;

  beforeAll(async () => {
    service = await startLocalService({ port: 0, dataDir: ':memory:', supervisorIntervalMs: 0 });
  }, 60_000);
  afterAll(async () => {
    await service?.stop();
  });

  it('shows README the same commands the script runs', () => {
    const script = readFileSync(SCRIPT, 'utf8');
    const pasted = script.slice(script.indexOf('BASE=${BASE'));
    expect(pasted.length).toBeGreaterThan(500);
    expect(readFileSync(path.join(REPO, 'README.md'), 'utf8')).toContain(`\`\`\`sh\n${pasted}\`\`\``);
  });

  it('ends with a new-mail alert at the APNs sandbox, its pushed decision and the status page', async () => {
    const { stdout } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      execFile(
        'sh',
        [SCRIPT],
        // What a new user's shell has: no ORG_TOKEN_SECRET, so the script's token and the service share the local default.
        { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BASE: service.baseUrl }, timeout: 60_000 },
        (error, out, err) => (error ? reject(new Error(`${error.message}\n${out}\n${err}`)) : resolve({ stdout: out, stderr: err })),
      );
    });

    expect(stdout).toContain('<m:SubscriptionStatus>OK</m:SubscriptionStatus>');
    const pushes = service.apnsSandbox!.pushes();
    expect(pushes).toHaveLength(1);
    expect(pushes[0]!.headers['apns-push-type']).toBe('alert');
    expect(stdout).toContain(`"pushType": "alert"`);
    expect(stdout).toContain('"mailbox": "me"');
    expect(stdout).toMatch(/"outcome":"pushed","reason":"apns:delivered"/);
    expect(stdout.trimEnd().split('\n').at(-1)).toBe(`--- the status page: ${service.baseUrl}/status`);
  }, 90_000);
});
