import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { issueOrgToken } from '../../functions/_lib/org-token.js';
import { createServer } from 'node:net';
import { execFile } from 'node:child_process';
import { LOCAL_APNS_TOPIC, LOCAL_ORG_TOKEN_SECRET, PortInUseError, startLocalService } from '../../infra/local/service.js';
import { api, eventually, PUSH_TOKEN_A } from '../support/device-api.js';
import { newMailBody, postNotification } from '../support/exchange.js';

/**
 * `npm start` as contract section 1 describes it: the real entry point (infra/local/main.ts) in its own process,
 * configured only through environment variables, ready when it prints the base URL and /health answers 200.
 */
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Started {
  child: ChildProcess;
  baseUrl: string;
  output: () => string;
}

const running: ChildProcess[] = [];

async function npmStart(env: Record<string, string>, command: 'entry point' | 'npm' = 'entry point'): Promise<Started> {
  const [file, args] = command === 'npm' ? ['npm', ['start']] : [process.execPath, ['--import', 'tsx', 'infra/local/main.ts']];
  const child = spawn(file, args, {
    cwd: REPO,
    // Only what the test sets: none of the contract's variables leak in from the developer's shell.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', DATA_DIR: ':memory:', POWERTOOLS_LOG_LEVEL: 'SILENT', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const baseUrl = await eventually(() => {
    if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}:\n${output}`);
    return /inbox-relay is running at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
  }, 30_000);
  // The whole banner, up to its last line ("kill <pid>"): on a loaded machine its lines arrive in several chunks.
  await eventually(() => (/kill \d+/.test(output) ? true : undefined), 30_000);
  return { child, baseUrl, output: () => output };
}

/**
 * The service's pid, from the "kill <pid>" line it prints a few lines after the one `npmStart` waits for: on a loaded
 * machine that line can arrive in a later chunk of the pipe.
 */
async function servicePidOf(started: Started): Promise<number> {
  return Number(await eventually(() => /kill (\d+)/.exec(started.output())?.[1], 30_000));
}

/** Whether the process is alive; an exited one its new parent has not reaped yet (a zombie) is not. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map(stop));
});

describe('npm start', () => {
  it('runs with no configuration at all: prints the base URL once /health answers, warns about the org-token secret, stops on SIGTERM', async () => {
    const { child, baseUrl, output } = await npmStart({});

    expect((await fetch(`${baseUrl}/health`)).status).toBe(200);
    expect(output()).toContain('warning: ORG_TOKEN_SECRET is not set');
    expect(output()).toContain(`APNs sandbox:`);
    const registered = await api(baseUrl, 'POST', '/v1/devices', {
      token: await issueOrgToken('org-start', LOCAL_ORG_TOKEN_SECRET),
      body: { pushToken: PUSH_TOKEN_A, mailboxes: [{ id: 'me', kind: 'primary' }] },
    });
    expect(registered.status).toBe(201);
    expect(registered.body.mailboxes[0].callbackUrl).toMatch(new RegExp(`^${baseUrl}/v1/callbacks/[A-Za-z0-9_-]{22,}$`));

    expect(await stop(child)).toBe(0);
  });

  it('honours ORG_TOKEN_SECRET and PUBLIC_URL, and sends to APNS_URL with the sandbox credentials when none are given', async () => {
    const received: Array<{ headers: http2.IncomingHttpHeaders; body: string }> = [];
    const peer = http2.createServer();
    const sessions = new Set<http2.ServerHttp2Session>();
    peer.on('session', (session) => sessions.add(session));
    peer.on('stream', (stream, headers) => {
      let body = '';
      stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
      stream.on('end', () => {
        received.push({ headers, body });
        stream.respond({ ':status': 200, 'apns-id': '00000000-0000-0000-0000-000000000001' });
        stream.end();
      });
    });
    await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
    try {
      const peerUrl = `http://127.0.0.1:${(peer.address() as AddressInfo).port}`;
      const { baseUrl, output } = await npmStart({
        ORG_TOKEN_SECRET: 'a-secret-only-this-test-knows',
        PUBLIC_URL: 'https://relay.example.test/base/',
        APNS_URL: peerUrl,
      });

      expect(output()).toContain('warning: APNS_URL is set without APNS_KEY_ID, APNS_TEAM_ID, APNS_PRIVATE_KEY');
      expect(output()).toContain('callback URLs start with https://relay.example.test/base/v1/callbacks/\n');
      const refused = await api(baseUrl, 'POST', '/v1/devices', {
        token: await issueOrgToken('org-start', LOCAL_ORG_TOKEN_SECRET),
        body: { pushToken: PUSH_TOKEN_A, mailboxes: [{ id: 'me', kind: 'primary' }] },
      });
      expect(refused.status).toBe(401);
      const registered = await api(baseUrl, 'POST', '/v1/devices', {
        token: await issueOrgToken('org-start', 'a-secret-only-this-test-knows'),
        body: { pushToken: PUSH_TOKEN_A, mailboxes: [{ id: 'me', kind: 'primary' }] },
      });
      expect(registered.status).toBe(201);
      const callbackUrl: string = registered.body.mailboxes[0].callbackUrl;
      expect(callbackUrl).toMatch(/^https:\/\/relay\.example\.test\/base\/v1\/callbacks\/[A-Za-z0-9_-]{22,}$/);

      // The public URL is not this process: deliver to the same path on the local port, as a reverse proxy would.
      const answer = await postNotification(`${baseUrl}${new URL(callbackUrl).pathname.replace(/^\/base/, '')}`, newMailBody('sub-1', [{ itemId: 'AAMk-start-1' }]));
      expect(answer.subscriptionStatus).toBe('OK');

      const [push] = await eventually(() => (received.length > 0 ? received : undefined));
      expect(push!.headers[':path']).toBe(`/3/device/${PUSH_TOKEN_A}`);
      expect(push!.headers['apns-topic']).toBe(LOCAL_APNS_TOPIC);
      expect(push!.headers['apns-push-type']).toBe('alert');
      const jwtHeader = JSON.parse(Buffer.from(String(push!.headers.authorization).replace(/^bearer /, '').split('.')[0]!, 'base64url').toString());
      expect(jwtHeader).toEqual({ alg: 'ES256', kid: 'LOCALKEY01' });

      // What a person reads while it runs: a line per push and per decision, no JSON metrics lines.
      await eventually(() => (/decision pushed +device [0-9a-f]{8}… mailbox me \(apns:delivered\)/.test(output()) ? true : undefined));
      expect(output()).toMatch(/push +alert +to device [0-9a-f]{8}…: delivered/);
      expect(output()).not.toContain('aaaaaaaa');
      expect(output()).not.toContain('"_aws"');
      expect(output()).not.toContain(PUSH_TOKEN_A);
    } finally {
      for (const session of sessions) session.destroy();
      await new Promise((resolve) => peer.close(resolve));
    }
  });
});

describe('npm start, stopped through the process npm started', () => {
  it('stops the whole service on a TERM to npm, and when npm itself is killed outright', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'inbox-relay-npm-start-'));
    try {
      const first = await npmStart({ DATA_DIR: dataDir }, 'npm');
      const servicePid = await servicePidOf(first);
      expect(isRunning(servicePid)).toBe(true);
      const npmExited = new Promise((resolve) => first.child.once('exit', resolve));
      first.child.kill('SIGTERM');
      await npmExited;
      await eventually(() => (isRunning(servicePid) ? undefined : true), 30_000);
      expect(first.output()).toContain('SIGTERM: stopping');

      // The data directory was released: a second start on it works (it used to fail with "DATA_DIR is in use").
      const second = await npmStart({ DATA_DIR: dataDir }, 'npm');
      const secondPid = await servicePidOf(second);
      expect((await fetch(`${second.baseUrl}/health`)).status).toBe(200);
      second.child.kill('SIGKILL');
      // The service writes to the pipe npm handed down, which stays open after npm is gone.
      await eventually(() => (second.output().includes('parent process gone: stopping') ? true : undefined), 30_000);
      await eventually(() => (isRunning(secondPid) ? undefined : true), 30_000);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('npm start, refusing a configuration it cannot run with', () => {
  it('refuses a PUBLIC_URL that is not an absolute http(s) URL before starting anything', async () => {
    for (const publicUrl of ['not-a-url', 'ftp://relay.example.com', 'https://relay.example.com/?x=1']) {
      await expect(startLocalService({ port: 0, dataDir: ':memory:', publicUrl })).rejects.toThrow(/PUBLIC_URL must/);
    }
  });

  it('says a taken port is taken and how to choose another', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const port = (squatter.address() as AddressInfo).port;
    try {
      const started = startLocalService({ port, dataDir: ':memory:', supervisorIntervalMs: 0 });
      await expect(started).rejects.toBeInstanceOf(PortInUseError);
      await expect(started).rejects.toThrow(`PORT=${port + 1} npm start`);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it('answers org-token --help with its usage and exit 0', async () => {
    const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = execFile(process.execPath, ['--import', 'tsx', 'infra/local/org-token.ts', '--help'], { cwd: REPO }, (_error, out) =>
        resolve({ code: child.exitCode, stdout: out }),
      );
    });
    expect(code).toBe(0);
    expect(stdout).toContain('usage: npm run org-token -- <orgId>');
  });
});
