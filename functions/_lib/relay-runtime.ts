import type { ManagedMailboxWrites } from '../../shared/org/managed-subscription.js';
import type { OrgStore } from '../../shared/org/ports.js';
import type { DecisionLog, DedupeStore, DevicePorts, SettlementLog } from '../../shared/store/ports.js';
import type { OutcomeCounter, UseCaseLogger } from './powertools.js';

/**
 * What every function's deps are built from: the table's adapters, built once per process, and the clock, randomness
 * and telemetry. The Lambda entries get it from `lambdaRuntime()` (lambda-runtime.ts); `npm start` and the tests that
 * run the local service build it over dynalite, with their fault wrappers applied once. Each function's
 * `build<Function>Deps(runtime, options)` (its wiring.ts) then picks what its use cases need, and takes what only some
 * functions have (a queue, the push gateway, the organizations' keyring) as options, so that a Lambda bundles only the
 * AWS clients its function uses; the Lambda and the local runtime run the same wiring.
 */
/** The table's stores besides the device ports. */
export interface TableStores {
  dedupe: DedupeStore;
  decisions: DecisionLog;
  /** The dispatcher's completions and decisions, written together. */
  settlements: SettlementLog;
  /** Organizations (organization mode) as stored in the table. */
  orgs: OrgStore;
  /** The relay's own subscription fields and secrets on mailboxes (contract section 9), written only while it manages them. */
  managed: ManagedMailboxWrites;
}

/**
 * A function's runtime: the device ports `P` and stores `S` it uses (a Lambda's runtime has only those, see
 * lambda-runtime.ts; the local runtime has all), and the clock, randomness and telemetry.
 */
export type RelayRuntime<P extends keyof DevicePorts = keyof DevicePorts, S extends keyof TableStores = keyof TableStores> = {
  ports: Pick<DevicePorts, P>;
  now: () => number;
  random: () => number;
  logger: UseCaseLogger;
  counter: OutcomeCounter;
} & Pick<TableStores, S>;
