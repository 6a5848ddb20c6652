import { createServer, STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { FleetProviderToken } from '../../functions/_lib/adapters/apns-fleet-token.js';
import { ApnsTokenSigner } from '../../functions/_lib/adapters/apns-provider-token.js';
import { ApnsPushGateway } from '../../functions/_lib/adapters/apns-push-gateway.js';
import { createAwsClients, destroyAwsClients, type AwsClients } from '../../functions/_lib/adapters/aws-clients.js';
import { DynamoDbDecisionLog } from '../../functions/_lib/adapters/dynamodb-decision-log.js';
import { DynamoDbDedupeStore } from '../../functions/_lib/adapters/dynamodb-dedupe-store.js';
import { DynamoDbSettlementLog } from '../../functions/_lib/adapters/dynamodb-settlement-log.js';
import { dynamoDbDevicePorts } from '../../functions/_lib/adapters/dynamodb-device-ports.js';
import { DynamoDbProviderTokenStore } from '../../functions/_lib/adapters/dynamodb-provider-token-store.js';
import { DEFAULT_MAX_DEVICES_PER_ORG } from '../../functions/_lib/config.js';
import { SqsEventQueue } from '../../functions/_lib/adapters/sqs-event-queue.js';
import { issueOrgToken } from '../../functions/_lib/org-token.js';
import { issueAdminToken } from '../../functions/_lib/admin-token.js';
import { DynamoDbOrgStore } from '../../functions/_lib/adapters/dynamodb-org-store.js';
import { DynamoDbManagedSubscriptions } from '../../functions/_lib/adapters/dynamodb-managed-subscriptions.js';
import { CachingOrgKeyring, LocalOrgKeyring } from '../../functions/_lib/adapters/local-org-keyring.js';
import { messageDetailsReaders } from '../../functions/_lib/adapters/message-details-readers.js';
import { createOrgApiHandler } from '../../functions/org-api/edge.js';
import type { OrgKeyring } from '../../shared/org/ports.js';
import { LOCAL_ADMIN_TOKEN_SECRET } from './local-defaults.js';
import { useCaseLogger, metricsCounter, type OutcomeCounter, type UseCaseLogger } from '../../functions/_lib/powertools.js';
import { CALLBACK_ROUTES, DEVICE_API_ROUTES, ORG_API_ROUTES } from '../../functions/_lib/routes.js';
import { createDeviceApiHandler } from '../../functions/device-api/edge.js';
import { createDispatcherHandler } from '../../functions/dispatcher/edge.js';
import { ephemeralRegistrationSeal } from '../../functions/_lib/registration-seal.js';
import { buildDispatcherDeps } from '../../functions/dispatcher/wiring.js';
import { buildDeviceApiDeps } from '../../functions/device-api/wiring.js';
import { buildExchangeCallbackDeps } from '../../functions/exchange-callback/wiring.js';
import { buildOrgApiDeps } from '../../functions/org-api/wiring.js';
import { buildSupervisorDeps } from '../../functions/supervisor/wiring.js';
import type { RelayRuntime } from '../../functions/_lib/relay-runtime.js';
import { createSupervisorHandler } from '../../functions/supervisor/edge.js';
import type { SweepReport } from '../../functions/supervisor/run-sweep.js';
import { createExchangeCallbackHandler } from '../../functions/exchange-callback/edge.js';
import { noEndpointRegistry, type PushGateway } from '../../shared/push/push-gateway.js';
import type { EventQueue } from '../../shared/queue/queue-messages.js';
import type { AlertBudget, DecisionLog, SettlementLog } from '../../shared/store/ports.js';
import { generateApnsTestKey, startApnsSandbox, type ApnsSandbox } from './apns-sandbox.js';
import { startLocalBackends, type LocalBackends } from './backends.js';
import { createHttpRouter, sendJson, type LocalExtraRoute } from './http-router.js';
import { localLambdaContext } from './lambda-context.js';
import { startSqsPoller, type SqsPoller } from './sqs-poller.js';
import { statusPageRoutes } from './status-page.js';

/** Used when ORG_TOKEN_SECRET is not set; `npm start` warns about it. Never deploy with it. */
export const LOCAL_ORG_TOKEN_SECRET = 'inbox-relay-local-org-token-secret-do-not-deploy';
export const LOCAL_APNS_TOPIC = 'com.example.inbox-relay.local';
/** The sandbox's provider-token identity; the signing key is generated on every start. */
export const LOCAL_APNS_KEY_ID = 'LOCALKEY01';
export const LOCAL_APNS_TEAM_ID = 'LOCALTEAM1';

export interface LocalApnsCredentials {
  url: string;
  keyId: string;
  teamId: string;
  privateKeyPem: string;
  topic: string;
}

export interface LocalServiceOptions {
  /** HTTP port on 127.0.0.1; 0 picks a free one. Default 8080. */
  port?: number;
  /** Base of the callback URLs; default `http://127.0.0.1:<port>`. */
  publicUrl?: string;
  /** Where DynamoDB data persists; `:memory:` keeps nothing. Default `.data`. */
  dataDir?: string;
  /** Devices one organization may register (MAX_DEVICES_PER_ORG under `npm start`); default as deployed. */
  maxDevicesPerOrg?: number;
  orgTokenSecret?: string;
  /** Signs operator (admin) tokens; default the fixed local one (contract section 1). */
  adminTokenSecret?: string;
  /**
   * Wraps organizations' data keys (organization mode). Default: a key kept in `DATA_DIR/org-secrets.key`, or in
   * memory with `:memory:`.
   */
  orgKeyring?: OrgKeyring;
  /** Send pushes to this APNs-compatible server instead of the embedded sandbox. */
  apns?: LocalApnsCredentials;
  /** The clock every use case reads; tests move it. */
  now?: () => number;
  /** Uniform in [0, 1) for schedule jitter; tests fix it. */
  random?: () => number;
  visibilityTimeoutSeconds?: number;
  /** How often the supervisor sweeps (default 15 s); 0 turns the timer off. */
  supervisorIntervalMs?: number;
  /** Burst coalescing budget of the dispatcher (default 3 alerts per 5 s per mailbox). */
  alertBudget?: AlertBudget;
  maxReceiveCount?: number;
  /** Replaces the push gateway (fault injection in tests). */
  wrapPushGateway?: (gateway: PushGateway) => PushGateway;
  /** Replaces the event queue (fault injection in tests). */
  wrapEventQueue?: (queue: EventQueue) => EventQueue;
  /** Replaces the decision log (`npm start` prints each decision as it is recorded). */
  wrapDecisionLog?: (decisions: DecisionLog) => DecisionLog;
  /** The same for the dispatcher's settlements (completions written with their decisions). */
  wrapSettlementLog?: (settlements: SettlementLog) => SettlementLog;
  logger?: UseCaseLogger;
  counter?: OutcomeCounter;
}

export interface LocalService {
  baseUrl: string;
  port: number;
  publicUrl: string;
  /** The embedded APNs sandbox, when no external APNs server is configured. */
  apnsSandbox: ApnsSandbox | undefined;
  backends: LocalBackends;
  /** Runs one supervisor sweep now (the timer runs it every `supervisorIntervalMs`). */
  runSupervisorSweep(): Promise<SweepReport>;
  /** The service's own AWS clients, e.g. to count calls with a middleware (`npm run bench`). */
  awsClients: AwsClients;
  orgToken(orgId: string): Promise<string>;
  /** An operator token for the org API (`npm run admin-token` does the same). */
  adminToken(operator: string): Promise<string>;
  /** Where organizations' secrets are kept, for the startup message (never the key). */
  orgSecretsKeptWith: string;
  stop(): Promise<void>;
}

/**
 * PUBLIC_URL is the base of every callback URL handed to devices, so a value that is not an absolute http(s) URL is
 * refused at start rather than handed out to Exchange.
 */
export function checkPublicUrl(value: string): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new Error(`PUBLIC_URL must be an absolute http:// or https:// URL, such as https://relay.example.com, not "${value}"`);
  }
  if (url.search || url.hash) throw new Error(`PUBLIC_URL must not have a query or a fragment, not "${value}"`);
}

/** The HTTP port is taken, usually by another `npm start`; the message says how to pick another. */
export class PortInUseError extends Error {
  constructor(readonly port: number, options?: { cause?: unknown }) {
    super(`port ${port} on 127.0.0.1 is already in use (another npm start?); stop that one, or choose another port: PORT=${port + 1} npm start`, options);
    this.name = 'PortInUseError';
  }
}

/**
 * The whole service on one machine: the same function handlers behind a local router, the SQS event source as a
 * poller, dynalite and fauxqs in-process on loopback, and an APNs sandbox unless an APNs server is given.
 */
export async function startLocalService(options: LocalServiceOptions = {}): Promise<LocalService> {
  if (options.publicUrl !== undefined) checkPublicUrl(options.publicUrl);
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const logger = options.logger ?? useCaseLogger;
  const counter = options.counter ?? metricsCounter;
  const orgTokenSecret = options.orgTokenSecret ?? LOCAL_ORG_TOKEN_SECRET;
  const adminTokenSecret = options.adminTokenSecret ?? LOCAL_ADMIN_TOKEN_SECRET;
  const maxReceiveCount = options.maxReceiveCount ?? 5;

  const visibilityTimeoutSeconds = options.visibilityTimeoutSeconds ?? 10;
  const backends = await startLocalBackends({ dataDir: options.dataDir ?? '.data', queueVisibilityTimeoutSeconds: visibilityTimeoutSeconds, maxReceiveCount });
  const cleanups: Array<() => Promise<void> | void> = [() => backends.stop()];
  try {
    let apnsSandbox: ApnsSandbox | undefined;
    let apns = options.apns;
    if (!apns) {
      const key = generateApnsTestKey();
      const sandboxCredentials = { keyId: LOCAL_APNS_KEY_ID, teamId: LOCAL_APNS_TEAM_ID, topic: LOCAL_APNS_TOPIC };
      apnsSandbox = await startApnsSandbox({ ...sandboxCredentials, publicKeyPem: key.publicKeyPem });
      cleanups.push(() => apnsSandbox?.stop());
      apns = { url: apnsSandbox.url, privateKeyPem: key.privateKeyPem, ...sandboxCredentials };
    }

    const clients = createAwsClients({
      region: backends.region,
      endpoints: { dynamodb: backends.dynamodbEndpoint, sqs: backends.sqsEndpoint },
      credentials: backends.credentials,
    });
    cleanups.push(() => destroyAwsClients(clients));
    const ports = dynamoDbDevicePorts(clients.documentClient, backends.tableName, { now });
    const dedupe = new DynamoDbDedupeStore(clients.documentClient, backends.tableName);
    const baseDecisions = new DynamoDbDecisionLog(clients.documentClient, backends.tableName, { now });
    const decisions = options.wrapDecisionLog ? options.wrapDecisionLog(baseDecisions) : baseDecisions;
    const baseSettlements = new DynamoDbSettlementLog(clients.documentClient, backends.tableName, { now });
    const settlements = options.wrapSettlementLog ? options.wrapSettlementLog(baseSettlements) : baseSettlements;
    const baseQueue = new SqsEventQueue(clients.sqs, backends.eventQueueUrl);
    const queue = options.wrapEventQueue ? options.wrapEventQueue(baseQueue) : baseQueue;

    // Provider tokens follow the real clock: APNs judges their age by its own time, not by a test's moved clock.
    // Kept in the table as in Lambda, so npm start runs the fleet token's code path; a token an earlier start stored
    // under another generated key does not open with this one and is replaced.
    const token = new FleetProviderToken({
      signer: new ApnsTokenSigner({ keyId: apns.keyId, teamId: apns.teamId, privateKeyPem: apns.privateKeyPem }),
      store: new DynamoDbProviderTokenStore(clients.documentClient, backends.tableName),
      onStoreError: (error) => logger.warn('APNs token store unavailable; this process signs its own token', { error: error as Error }),
    });
    const apnsGateway = new ApnsPushGateway({ production: apns.url, sandbox: apns.url, topic: apns.topic, token, logger });
    cleanups.push(() => apnsGateway.close());
    const push = options.wrapPushGateway ? options.wrapPushGateway(apnsGateway) : apnsGateway;

    const server: Server = createServer();
    // Node closes an idle keep-alive connection after 5 s by default, while a client (fetch/undici) may still hand it
    // the next request: on a loaded machine that race reset requests (the forged-callbacks suite's 8 connections
    // failed with ECONNRESET every run at load 15+). Longer than any client's idle timeout, as load balancers do.
    server.keepAliveTimeout = 65_000;
    // What Node refuses before a request reaches the router (headers over its 16 KB, a request that is not HTTP) gets
    // the contract's error body too (section 3), not Node's empty answer.
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex & { _httpMessage?: { headersSent?: boolean } }) => {
      // As Node's own handler: nothing more on a socket that is gone or already carries an answer.
      if (error.code === 'ECONNRESET' || !socket.writable || socket._httpMessage?.headersSent) {
        socket.destroy();
        return;
      }
      const [status, code, message] =
        error.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'headers_too_large', 'the request headers are larger than 16 KB']
          : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? [408, 'request_timeout', 'the request did not arrive in time']
            : error.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
              ? [413, 'payload_too_large', 'the chunk extensions are too large']
              : [400, 'malformed_request', 'the request is not valid HTTP/1.1'];
      const body = JSON.stringify({ error: { code, message } });
      socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    });
    const requestedPort = options.port ?? 8080;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          error.code === 'EADDRINUSE'
            ? new PortInUseError(requestedPort, { cause: error })
            : error,
        ),
      );
      server.listen(requestedPort, '127.0.0.1', () => resolve());
    });
    cleanups.push(() => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }));
    const port = (server.address() as AddressInfo).port;
    const baseUrl = `http://127.0.0.1:${port}`;
    const publicUrl = options.publicUrl ?? baseUrl;

    // Organization mode: secrets sealed under per-org data keys, wrapped by a key under DATA_DIR (KMS on AWS); only
    // `npm start` may reach mail servers on loopback (the played servers of tests and the simulator).
    const dataDir = options.dataDir ?? '.data';
    const keyring = new CachingOrgKeyring(options.orgKeyring ?? (dataDir === ':memory:' ? LocalOrgKeyring.inMemory() : await LocalOrgKeyring.underDataDir(dataDir)));
    const orgs = new DynamoDbOrgStore(clients.documentClient, backends.tableName);
    const policy = { allowLoopback: true };
    const readers = messageDetailsReaders(policy);

    // The same wiring as the Lambda entries (each function's wiring.ts), over the local adapters.
    const managed = new DynamoDbManagedSubscriptions(clients.documentClient, backends.tableName);
    const runtime: RelayRuntime = { ports, dedupe, decisions, settlements, orgs, managed, now, random, logger, counter };
    const deviceApi = createDeviceApiHandler(
      buildDeviceApiDeps(runtime, {
        endpoints: noEndpointRegistry,
        publicUrl,
        orgTokenSecret,
        maxDevicesPerOrg: options.maxDevicesPerOrg ?? DEFAULT_MAX_DEVICES_PER_ORG,
        keyring,
        readers,
        mailServerPolicy: policy,
        queue,
      }),
    );
    const orgApi = createOrgApiHandler(buildOrgApiDeps(runtime, { keyring, readers, policy, adminTokenSecret, queue }));
    // The queue-seal key lives in this process only: the callback and the dispatcher share it, as on AWS they share
    // the stack's secret; a message left in a persisted queue from an earlier run does not open and is read.
    // The registration the callback carries to the dispatcher (issue 15), sealed under a key generated for this process.
    const registrationSeal = ephemeralRegistrationSeal(logger);
    const callback = createExchangeCallbackHandler(buildExchangeCallbackDeps(runtime, { queue, registrationSeal }));
    const dispatcher = createDispatcherHandler(
      buildDispatcherDeps(runtime, {
        push,
        maxReceiveCount,
        queue,
        keyring,
        readers,
        mailServerPolicy: policy,
        publicUrl,
        registrationSeal,
        ...(options.alertBudget ? { alertBudget: options.alertBudget } : {}),
      }),
    );

    const extras: LocalExtraRoute[] = [
      (req, res, url) => {
        if (url.pathname !== '/health' || req.method !== 'GET') return false;
        sendJson(res, 200, { status: 'ok' });
        return true;
      },
      (req, res, url) => {
        if (url.pathname !== '/_local/apns/pushes' || req.method !== 'GET') return false;
        if (!apnsSandbox) sendJson(res, 404, { error: { code: 'not_found', message: 'pushes go to an external APNs server (APNS_URL)' } });
        else sendJson(res, 200, { pushes: apnsSandbox.pushes() });
        return true;
      },
      ...statusPageRoutes({
        documentClient: clients.documentClient,
        tableName: backends.tableName,
        apnsSandbox,
        now,
        queues: { sqs: clients.sqs, eventQueueUrl: backends.eventQueueUrl, deadLetterQueueUrl: backends.deadLetterQueueUrl },
      }),
    ];
    server.on(
      'request',
      createHttpRouter(
        [
          { functionName: 'device-api', routes: DEVICE_API_ROUTES, handler: deviceApi },
          { functionName: 'exchange-callback', routes: CALLBACK_ROUTES, handler: callback },
          { functionName: 'org-api', routes: ORG_API_ROUTES, handler: orgApi },
        ],
        extras,
      ),
    );

    const poller: SqsPoller = startSqsPoller({ sqs: clients.sqs, queueUrl: backends.eventQueueUrl, handler: dispatcher, logger, visibilityTimeoutSeconds });
    // Stop consuming before the clients and backends go away.
    cleanups.push(() => poller.stop());

    // EventBridge's one-minute schedule, as a timer; tests turn it off and call runSupervisorSweep themselves.
    const supervisor = createSupervisorHandler(buildSupervisorDeps(runtime, { push, managedWork: queue }));
    const sweep = () => supervisor({} as never, localLambdaContext('supervisor'));
    const sweepEveryMs = options.supervisorIntervalMs ?? 15_000;
    let sweeping: Promise<unknown> = Promise.resolve();
    const timer = sweepEveryMs > 0
      ? setInterval(() => {
          sweeping = sweeping.then(sweep).catch((error: unknown) => logger.warn('supervisor sweep failed', { error: error as Error }));
        }, sweepEveryMs)
      : undefined;
    cleanups.push(async () => {
      if (timer) clearInterval(timer);
      await sweeping;
    });

    return {
      baseUrl,
      port,
      publicUrl,
      apnsSandbox,
      backends,
      awsClients: clients,
      runSupervisorSweep: sweep,
      orgToken: (orgId) => issueOrgToken(orgId, orgTokenSecret),
      adminToken: (operator) => issueAdminToken(operator, adminTokenSecret),
      orgSecretsKeptWith: keyring.description,
      stop: () => runCleanups(cleanups),
    };
  } catch (error) {
    await runCleanups(cleanups);
    throw error;
  }
}

async function runCleanups(cleanups: Array<() => Promise<void> | void>): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch {
      // Shutting down: keep releasing the rest.
    }
  }
}
