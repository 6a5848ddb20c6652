import type { RegistrationSeal } from '../../shared/queue/carried-registration.js';
import type { EventQueue } from '../../shared/queue/queue-messages.js';
import type { RelayRuntime } from '../_lib/relay-runtime.js';
import type { GraphCallbackDeps } from './accept-graph-notifications.js';

/** The device ports the callback uses. */
export type ExchangeCallbackPorts = 'callbacks' | 'devices' | 'supervision';

/** The callback's deps (EWS and Graph), for the Lambda entry and the local runtime alike. */
export function buildExchangeCallbackDeps(
  runtime: RelayRuntime<ExchangeCallbackPorts, 'decisions'>,
  options: { queue: EventQueue; registrationSeal?: RegistrationSeal | undefined },
): GraphCallbackDeps {
  const { callbacks, devices, supervision } = runtime.ports;
  return {
    callbacks,
    devices,
    supervision,
    decisions: runtime.decisions,
    queue: options.queue,
    ...(options.registrationSeal ? { registrationSeal: options.registrationSeal } : {}),
    now: runtime.now,
    logger: runtime.logger,
    counter: runtime.counter,
  };
}
