import type { RecordedPush } from '../../infra/local/apns-sandbox.js';

/**
 * The relay the simulation talks to: one already running (`npm start`, `--url`) or one started in-process with
 * embedded backends and the APNs sandbox. Either way the simulation reaches it over HTTP only; the in-process one is
 * merely started and stopped here.
 */

/** A push as the APNs sandbox recorded it (`GET /_local/apns/pushes`), as far as the simulation reads it. */
export type ObservedPush = Pick<RecordedPush, 'at' | 'token' | 'headers' | 'payload' | 'status' | 'reason'>;

export interface RelayTarget {
  kind: 'in-process' | 'external';
  baseUrl: string;
  orgToken: string;
  /** An operator token (organization mode); only for the in-process relay, whose admin secret is known. */
  adminToken?: string;
  /** Organization tokens of other orgs; only for the in-process relay. */
  orgTokenFor?: (orgId: string) => Promise<string>;
  /** What reached the APNs sandbox so far, or undefined when pushes go to a real APNs server the relay was pointed at. */
  pushes(): Promise<ObservedPush[] | undefined>;
  stop(): Promise<void>;
}

const QUIET_LOGGER = { debug() {}, info() {}, warn() {}, error() {} };

/** Starts the whole service in this process: dynalite, fauxqs, the APNs sandbox, on loopback, keeping nothing. */
export async function startInProcessRelay(organizationId: string): Promise<RelayTarget> {
  // Powertools logs INFO to stdout, where the summary goes: keep the service's warnings and errors (stderr) only,
  // unless the caller chose a level. Set before the import, since the logger reads it when it is built.
  if (!process.env.POWERTOOLS_LOG_LEVEL && !process.env.AWS_LAMBDA_LOG_LEVEL && !process.env.LOG_LEVEL) process.env.POWERTOOLS_LOG_LEVEL = 'WARN';
  // Loaded only here, so that driving an external relay does not load the AWS SDK and the backends.
  const { startLocalService } = await import('../../infra/local/service.js');
  // The service's own logs and metrics would drown the simulator's output; what it decided is read from its API.
  const service = await startLocalService({ port: 0, dataDir: ':memory:', logger: QUIET_LOGGER, counter: { count() {} } });
  return {
    kind: 'in-process',
    baseUrl: service.baseUrl,
    orgToken: await service.orgToken(organizationId),
    adminToken: await service.adminToken('simulator'),
    orgTokenFor: (orgId) => service.orgToken(orgId),
    pushes: async () =>
      service.apnsSandbox?.pushes().map(({ at, token, headers, payload, status, reason }) => ({ at, token, headers, payload, status, ...(reason ? { reason } : {}) })),
    stop: () => service.stop(),
  };
}

/** A relay already running at `baseUrl`, checked with `GET /health` first so that a wrong URL fails clearly. */
export async function connectToRelay(baseUrl: string, orgToken: string): Promise<RelayTarget> {
  const base = baseUrl.replace(/\/+$/, '');
  let health: Response;
  try {
    health = await fetch(`${base}/health`);
  } catch (error) {
    throw new Error(`no relay answers at ${base} (is \`npm start\` running?)`, { cause: error });
  }
  if (health.status !== 200) throw new Error(`${base}/health answered ${health.status}; is this an inbox-relay?`);
  return {
    kind: 'external',
    baseUrl: base,
    orgToken,
    pushes: async () => {
      const response = await fetch(`${base}/_local/apns/pushes`);
      // 404: the relay sends to an APNs server of its own (APNS_URL), whose pushes are not visible from here.
      if (response.status === 404) return undefined;
      if (response.status !== 200) throw new Error(`${base}/_local/apns/pushes answered ${response.status}`);
      const body = (await response.json()) as { pushes?: unknown };
      if (!Array.isArray(body.pushes)) throw new Error(`${base}/_local/apns/pushes did not list pushes`);
      return body.pushes as ObservedPush[];
    },
    stop: async () => {},
  };
}
