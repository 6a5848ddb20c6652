import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApnsProviderToken } from '../../functions/_lib/adapters/apns-provider-token.js';
import { ApnsPushGateway } from '../../functions/_lib/adapters/apns-push-gateway.js';
import {
  generateApnsTestKey,
  generateLoopbackCertificate,
  startApnsSandbox,
  type ApnsSandbox,
} from '../../infra/local/apns-sandbox.js';
import { RetryableDeliveryError } from '../../shared/errors.js';
import type { PushMessage, PushTarget } from '../../shared/push/push-gateway.js';

/** APNs proper is h2 over TLS; a private APNs-compatible server is trusted through NODE_EXTRA_CA_CERTS (contract 1). */

const TOPIC = 'com.example.inboxrelay';
const KEY_ID = 'KEYID12345';
const TEAM_ID = 'TEAMID6789';
const key = generateApnsTestKey();
const certificate = generateLoopbackCertificate();
const target: PushTarget = { deviceId: 'device-1', pushToken: 'ab'.repeat(32), environment: 'production' };
const alert: PushMessage = { kind: 'alert', priority: 10, payload: { aps: { alert: 'You have new messages' } } };
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

let sandbox: ApnsSandbox;
let workDir: string;

beforeAll(async () => {
  sandbox = await startApnsSandbox({
    topic: TOPIC,
    keyId: KEY_ID,
    teamId: TEAM_ID,
    publicKeyPem: key.publicKeyPem,
    tls: certificate,
  });
  workDir = await mkdtemp(join(tmpdir(), 'apns-tls-'));
});
afterAll(async () => {
  await sandbox.stop();
  await rm(workDir, { recursive: true, force: true });
});

function token(): ApnsProviderToken {
  return new ApnsProviderToken({ keyId: KEY_ID, teamId: TEAM_ID, privateKeyPem: key.privateKeyPem });
}

describe('ApnsPushGateway over TLS', () => {
  it('delivers over h2 with TLS to a server whose certificate it trusts', async () => {
    sandbox.reset();
    const gateway = new ApnsPushGateway({ production: sandbox.url, sandbox: sandbox.url, topic: TOPIC, token: token(), ca: certificate.certPem });
    try {
      const result = await gateway.send(target, alert);

      expect(sandbox.url).toMatch(/^https:/);
      expect(result).toMatchObject({ outcome: 'delivered' });
      expect(sandbox.pushes()[0]?.headers[':scheme']).toBe('https');
    } finally {
      await gateway.close();
    }
  });

  it('refuses a server whose certificate it does not trust and leaves the push for a retry', async () => {
    sandbox.reset();
    const gateway = new ApnsPushGateway({
      production: sandbox.url,
      sandbox: sandbox.url,
      topic: TOPIC,
      token: token(),
      retry: { attempts: 2 },
      sleep: async () => undefined,
    });
    try {
      const failure = await gateway.send(target, alert).catch((error: unknown) => error);

      expect(failure).toBeInstanceOf(RetryableDeliveryError);
      expect((failure as RetryableDeliveryError).reason).toBe('ConnectionError');
      expect(sandbox.pushes()).toEqual([]);
    } finally {
      await gateway.close();
    }
  });

  it('trusts a certificate named by NODE_EXTRA_CA_CERTS', async () => {
    sandbox.reset();
    const caFile = join(workDir, 'sandbox-ca.pem');
    await writeFile(caFile, certificate.certPem);
    // NODE_EXTRA_CA_CERTS is read once at process start, so a fresh process sends the push.
    const script = join(workDir, 'send-one.mts');
    const module = (path: string): string => JSON.stringify(pathToFileURL(join(repoRoot, path)).href);
    await writeFile(
      script,
      `import { ApnsProviderToken } from ${module('functions/_lib/adapters/apns-provider-token.ts')};
       import { ApnsPushGateway } from ${module('functions/_lib/adapters/apns-push-gateway.ts')};
       const token = new ApnsProviderToken({ keyId: ${JSON.stringify(KEY_ID)}, teamId: ${JSON.stringify(TEAM_ID)}, privateKeyPem: process.env.TEST_APNS_KEY });
       const gateway = new ApnsPushGateway({ production: process.env.TEST_APNS_URL, sandbox: process.env.TEST_APNS_URL, topic: ${JSON.stringify(TOPIC)}, token, retry: { attempts: 1 } });
       const result = await gateway.send(${JSON.stringify(target)}, ${JSON.stringify(alert)}).catch((error) => ({ error: error.reason }));
       await gateway.close();
       process.stdout.write(JSON.stringify(result));`,
    );

    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script], {
      cwd: repoRoot,
      env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile, TEST_APNS_URL: sandbox.url, TEST_APNS_KEY: key.privateKeyPem },
    }).catch((error: { code?: number; signal?: string; stdout?: string; stderr?: string }) => {
      throw new Error(`child exited ${error.code} ${error.signal} stdout=${error.stdout} stderr=${error.stderr}`);
    });

    expect(JSON.parse(stdout)).toMatchObject({ outcome: 'delivered' });
    expect(sandbox.pushes()).toHaveLength(1);
  });
});
