import type { Decision } from '../../shared/device/device-schemas.js';
import type { PushGateway, PushMessage, PushResult, PushTarget } from '../../shared/push/push-gateway.js';
import type { DecisionLog, SettlementLog } from '../../shared/store/ports.js';

/**
 * `npm start`'s default output while it runs: one human-readable line per push and per decision, instead of the
 * Powertools JSON logs and metrics lines (`npm start -- --json-logs` brings those back). A line shows an 8-character
 * prefix of ids and never a push token (not even a part of one: contract section 10 logs no token), a secret, an
 * address or mail content.
 */

const short = (value: string): string => (value.length > 8 ? `${value.slice(0, 8)}…` : value);

/** `HH:MM:SSZ`: UTC, as everywhere in the local runtime's output and on the status page. */
function clock(ms: number): string {
  return `${new Date(ms).toISOString().slice(11, 19)}Z`;
}

/** `10:00:01Z decision pushed       device 8759fb25… mailbox me (apns:delivered)` */
export function decisionLine(deviceId: string, decision: Decision, now: number): string {
  return `${clock(now)} decision ${decision.outcome.padEnd(13)} device ${short(deviceId)} mailbox ${decision.mailbox} (${decision.reason})`;
}

/** `10:00:01Z push     alert         to device 8759fb25…: delivered` */
export function pushLine(target: PushTarget, message: PushMessage, answer: PushResult | Error, now: number): string {
  const outcome = answer instanceof Error
    ? `not sent yet (${answer.message}); the queue retries`
    : answer.outcome === 'delivered'
      ? 'delivered'
      : `${answer.outcome} (${answer.status} ${answer.reason})`;
  return `${clock(now)} push     ${message.kind.padEnd(13)} to device ${short(target.deviceId)}: ${outcome}`;
}

/** The decision log, printing a line for each decision once it is recorded. */
export function printingDecisions(decisions: DecisionLog, print: (line: string) => void, now: () => number): DecisionLog {
  return {
    record: async (deviceId, decision) => {
      await decisions.record(deviceId, decision);
      print(decisionLine(deviceId, decision, now()));
    },
    list: (deviceId, since, limit) => decisions.list(deviceId, since, limit),
  };
}

/** The dispatcher's settlements, printing a line for each decision once it is recorded. */
export function printingSettlements(settlements: SettlementLog, print: (line: string) => void, now: () => number): SettlementLog {
  return {
    settle: async (settled) => {
      await settlements.settle(settled);
      for (const { deviceId, decision } of settled) print(decisionLine(deviceId, decision, now()));
    },
  };
}

/** The push gateway, printing a line for each push attempt and how it ended. */
export function printingPushes(gateway: PushGateway, print: (line: string) => void, now: () => number): PushGateway {
  return {
    send: async (target, message) => {
      try {
        const result = await gateway.send(target, message);
        print(pushLine(target, message, result, now()));
        return result;
      } catch (error) {
        print(pushLine(target, message, error instanceof Error ? error : new Error(String(error)), now()));
        throw error;
      }
    },
  };
}
