import { spawn } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { newMailBody, statusEventBody } from '../../test/support/exchange.js';
import { graphBody, messageItem } from '../../test/support/graph.js';
import { fleetCallbackUrl, fleetGraphNotificationUrl, fleetMember } from './fleet.js';
import { summarizeLatencies, type LatencySummary } from './stats.js';

/**
 * The load generators, run in a process of their own so that they do not share the service's event loop (the
 * machine has two cores: one for the service, one for the load). The parent calls `runLoad(job)`; this file, run as a
 * script, executes the job and prints its result as JSON on stdout.
 *
 * - `closed-loop`: autocannon with a fixed number of connections, each sending the next request as soon as the last
 *   one is answered: the callback's sustained requests/s. Latencies are taken from autocannon's per-response event
 *   (sub-millisecond), not from its histogram, which keeps whole milliseconds only.
 * - `open-loop`: requests at a fixed rate whatever the answers do, each one timed from when it was due, so a slow
 *   server shows up as latency rather than as a lower request rate (no coordinated omission).
 *
 * Every request is a notification for a fleet mailbox (fleet.ts); new mail carries an item id never sent before.
 */

/** EWS NewMail or StatusEvent to the callback URL, or a Graph `created` message to the Graph notification URL. */
export type NotificationKind = 'new-mail' | 'status' | 'graph-new-mail';

interface FleetTarget {
  publicUrl: string;
  salt: string;
  /** Fleet indexes to send to, in order (cycled when there are more requests than indexes). */
  indexes: number[];
  kind: NotificationKind;
  /** Distinguishes item ids between runs on the same fleet. */
  runTag: string;
}

export interface ClosedLoopJob extends FleetTarget {
  mode: 'closed-loop';
  connections: number;
  seconds: number;
}

export interface ClosedLoopResult {
  ok: number;
  failed: number;
  seconds: number;
  requestsPerSecond: number;
  latencyMs: LatencySummary;
  /** Epoch ms when the run started and ended. */
  startedAt: number;
  endedAt: number;
}

export interface OpenLoopJob extends FleetTarget {
  mode: 'open-loop';
  rate: number;
  count: number;
  /** Sockets the generator may keep open (requests beyond them wait for one, and that wait counts as latency). */
  maxSockets: number;
}

export interface OpenLoopResult {
  /** Epoch ms each request was due, in send order. */
  dueAt: number[];
  /** Milliseconds from due to the complete answer; -1 when no answer came. */
  answerMs: number[];
  status: number[];
  /** Requests per second actually offered (count over the span of due times). */
  offeredRate: number;
}

export type LoadJob = ClosedLoopJob | OpenLoopJob;
type LoadResult<J> = J extends ClosedLoopJob ? ClosedLoopResult : OpenLoopResult;

const SCRIPT = fileURLToPath(import.meta.url);

/** Runs a job in a child process and returns its result. */
export function runLoad<J extends LoadJob>(job: J): Promise<LoadResult<J>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, JSON.stringify(job)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`load generator exited with ${code}`));
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as LoadResult<J>);
      } catch (error) {
        reject(new Error('load generator printed no result', { cause: error }));
      }
    });
  });
}

function requestFor(target: FleetTarget, sequence: number): { path: string; body: string; headers: Record<string, string> } {
  const index = target.indexes[sequence % target.indexes.length]!;
  const member = fleetMember(target.salt, index);
  if (target.kind === 'graph-new-mail') {
    const url = new URL(fleetGraphNotificationUrl(target.publicUrl, member));
    const body = graphBody([messageItem({ subscriptionId: member.subscriptionId, clientState: member.clientState, messageId: `AAMkBench-${target.runTag}-${sequence}` })]);
    return { path: url.pathname, body, headers: JSON_HEADERS };
  }
  const url = new URL(fleetCallbackUrl(target.publicUrl, member));
  const body =
    target.kind === 'new-mail'
      ? newMailBody(member.subscriptionId, [{ itemId: `AAMkBench-${target.runTag}-${sequence}` }])
      : statusEventBody(member.subscriptionId);
  return { path: url.pathname, body, headers: HEADERS };
}

const HEADERS = { 'content-type': 'text/xml; charset=utf-8' };
const JSON_HEADERS = { 'content-type': 'application/json' };

async function closedLoop(job: ClosedLoopJob): Promise<ClosedLoopResult> {
  let sequence = 0;
  const latencies: number[] = [];
  const startedAt = Date.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: job.publicUrl,
        connections: job.connections,
        duration: job.seconds,
        headers: job.kind === 'graph-new-mail' ? JSON_HEADERS : HEADERS,
        requests: [
          {
            method: 'POST',
            setupRequest: (request) => ({ ...request, ...requestFor(job, sequence++) }),
          },
        ],
      },
      (error, done) => (error ? reject(error) : resolve(done)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
  });
  const ok = latencies.length;
  return {
    ok,
    failed: result.non2xx + result.errors + result.timeouts,
    seconds: result.duration,
    requestsPerSecond: ok / result.duration,
    latencyMs: summarizeLatencies(latencies),
    startedAt,
    endedAt: Date.now(),
  };
}

async function openLoop(job: OpenLoopJob): Promise<OpenLoopResult> {
  const target = new URL(job.publicUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.maxSockets });
  const interval = 1000 / job.rate;
  // Both clocks are read once: due times are exact multiples of the interval from here.
  const startPerf = performance.now() + 20;
  const startEpoch = Date.now() + 20;
  const dueAt = Array.from({ length: job.count }, (_, k) => startEpoch + k * interval);
  const answerMs = new Array<number>(job.count).fill(-1);
  const status = new Array<number>(job.count).fill(0);
  let answered = 0;

  await new Promise<void>((resolve) => {
    let next = 0;
    const lastDue = startPerf + (job.count - 1) * interval;
    // Requests still unanswered this long after the last one was due are given up on (a bounded run).
    const giveUpAt = lastDue + 60_000;
    const send = (k: number) => {
      const due = startPerf + k * interval;
      const { path, body, headers } = requestFor(job, k);
      const request = http.request(
        { agent, host: target.hostname, port: target.port, method: 'POST', path, headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
        (response) => {
          response.resume();
          response.on('end', () => {
            answerMs[k] = performance.now() - due;
            status[k] = response.statusCode ?? 0;
            answered++;
          });
        },
      );
      request.on('error', () => {
        status[k] = -1;
        answered++;
      });
      request.end(body);
    };
    const tick = () => {
      const now = performance.now();
      while (next < job.count && startPerf + next * interval <= now) send(next++);
      if (answered === job.count || now > giveUpAt) return resolve();
      setTimeout(tick, next < job.count ? 1 : 5);
    };
    setTimeout(tick, 20);
  });
  agent.destroy();
  const span = job.count > 1 ? ((job.count - 1) * interval) / 1000 : 1;
  return { dueAt, answerMs, status, offeredRate: (job.count - 1) / span };
}

if (process.argv[1] === SCRIPT) {
  const job = JSON.parse(process.argv[2] ?? '{}') as LoadJob;
  const result = job.mode === 'closed-loop' ? await closedLoop(job) : await openLoop(job);
  process.stdout.write(JSON.stringify(result));
}
