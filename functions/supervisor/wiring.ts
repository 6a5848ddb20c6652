import type { RelayRuntime } from '../_lib/relay-runtime.js';
import type { SupervisorDeps } from './run-sweep.js';

/** The device ports the supervisor uses. */
export type SupervisorPorts = 'devices' | 'registry' | 'supervision' | 'retirement' | 'actionLimit';

/** The supervisor's deps, for the Lambda entry and the local runtime alike. */
export function buildSupervisorDeps(
  runtime: RelayRuntime<SupervisorPorts, 'decisions' | 'managed'>,
  options: Pick<SupervisorDeps, 'push'> & Required<Pick<SupervisorDeps, 'managedWork'>>,
): SupervisorDeps {
  const { devices, registry, supervision, retirement, actionLimit } = runtime.ports;
  return {
    devices,
    registry,
    supervision,
    retirement,
    actionLimit,
    decisions: runtime.decisions,
    push: options.push,
    now: runtime.now,
    logger: runtime.logger,
    counter: runtime.counter,
    managedWork: options.managedWork,
    managed: runtime.managed,
  };
}
