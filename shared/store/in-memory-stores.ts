import { InMemoryDecisionLog } from './in-memory-decision-log.js';
import { InMemoryDedupeStore } from './in-memory-dedupe-store.js';
import { InMemoryDeviceStore } from './in-memory-device-store.js';
import { InMemorySettlementLog } from './in-memory-settlement-log.js';
import { InMemoryStoreState } from './in-memory-store-state.js';
import type { DevicePorts } from './ports.js';

export interface InMemoryStores {
  devices: InMemoryDeviceStore;
  /** `devices` in the place of every device port, to spread into a use case's deps. */
  ports: DevicePorts;
  dedupe: InMemoryDedupeStore;
  decisions: InMemoryDecisionLog;
  /** Completions and decisions written together, over `dedupe` and `decisions`. */
  settlements: InMemorySettlementLog;
  /** The shared state, for assertions on what is stored. */
  state: InMemoryStoreState;
}

/**
 * The in-memory stores over one shared state, as the DynamoDB adapters share one table: deleting a device
 * drops its dedupe keys and decisions too. `now` is the clock for expiry of decisions (default `Date.now`).
 */
export function createInMemoryStores(options?: { now?: () => number }): InMemoryStores {
  const state = new InMemoryStoreState();
  const devices = new InMemoryDeviceStore({ state });
  const dedupe = new InMemoryDedupeStore({ state });
  const decisions = new InMemoryDecisionLog({ state, ...(options?.now ? { now: options.now } : {}) });
  return { devices, ports: devices.ports(), dedupe, decisions, settlements: new InMemorySettlementLog(dedupe, decisions, options?.now), state };
}
