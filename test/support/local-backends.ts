import { createAwsClients, destroyAwsClients, type AwsClients } from '../../functions/_lib/adapters/aws-clients.js';
import { startLocalBackends, type LocalBackends, type StartLocalBackendsOptions } from '../../infra/local/backends.js';

export { startLocalBackends, type LocalBackends, type StartLocalBackendsOptions } from '../../infra/local/backends.js';

export interface LocalBackendsHarness {
  backends: LocalBackends;
  /** Clients pointed at the backends (explicit endpoints, local credentials). */
  clients: AwsClients;
  /** Destroys the clients, then stops the backends. */
  stop(): Promise<void>;
}

/**
 * Starts dynalite and fauxqs on loopback for one test file, with clients for them. Defaults to keeping nothing on
 * disk. Call `stop()` in `afterAll`.
 *
 * ```ts
 * let local: LocalBackendsHarness;
 * beforeAll(async () => { local = await withLocalBackends(); });
 * afterAll(() => local.stop());
 * ```
 */
export async function withLocalBackends(options?: Partial<StartLocalBackendsOptions>): Promise<LocalBackendsHarness> {
  const backends = await startLocalBackends({ dataDir: ':memory:', ...options });
  const clients = clientsFor(backends);
  return {
    backends,
    clients,
    stop: async () => {
      destroyAwsClients(clients);
      await backends.stop();
    },
  };
}

/** Clients for already started backends; destroy them with `destroyAwsClients`. */
export function clientsFor(backends: LocalBackends, options?: { maxAttempts?: number }): AwsClients {
  return createAwsClients({
    region: backends.region,
    endpoints: { dynamodb: backends.dynamodbEndpoint, sqs: backends.sqsEndpoint },
    credentials: backends.credentials,
    ...(options?.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
  });
}
