import { describe, expect, it } from 'vitest';
import { decisionLine, printingDecisions, printingPushes, pushLine } from '../../infra/local/activity-lines.js';
import type { Decision } from '../../shared/device/device-schemas.js';
import type { PushGateway, PushMessage, PushTarget } from '../../shared/push/push-gateway.js';
import type { DecisionLog } from '../../shared/store/ports.js';

const AT = Date.parse('2026-12-07T09:30:05.250Z');
const TOKEN = 'ab'.repeat(32);
const target: PushTarget = { deviceId: '8759fb25-2e4a-487d-b224-749642c68e32', pushToken: TOKEN, environment: 'sandbox' };
const alert: PushMessage = { kind: 'alert', priority: 10, payload: { aps: { alert: 'You have new messages' }, mailbox: 'me' } };
const pushed: Decision = { at: '2026-12-07T09:30:05.000Z', mailbox: 'me', outcome: 'pushed', reason: 'apns:delivered' };

describe('npm start\'s readable lines', () => {
  it('says one decision per line, in UTC, with a short device id', () => {
    expect(decisionLine(target.deviceId, pushed, AT)).toBe('09:30:05Z decision pushed        device 8759fb25… mailbox me (apns:delivered)');
  });

  it('says one push per line and how it ended, never the token (not even a part of it) or the payload', () => {
    const delivered = pushLine(target, alert, { outcome: 'delivered' }, AT);
    expect(delivered).toBe('09:30:05Z push     alert         to device 8759fb25…: delivered');
    expect(pushLine(target, alert, { outcome: 'token-invalid', status: 410, reason: 'Unregistered' }, AT)).toMatch(/token-invalid \(410 Unregistered\)$/);
    expect(pushLine(target, alert, new Error('APNs 503'), AT)).toMatch(/not sent yet \(APNs 503\); the queue retries$/);
    expect(delivered).not.toContain(TOKEN.slice(0, 4));
    expect(delivered).not.toContain('You have new messages');
  });

  it('prints a decision once it is recorded, and a push also when it fails (the error still reaches the caller)', async () => {
    const lines: string[] = [];
    const recorded: Decision[] = [];
    const log: DecisionLog = { record: async (_id, decision) => void recorded.push(decision), list: async () => recorded };
    await printingDecisions(log, (line) => lines.push(line), () => AT).record(target.deviceId, pushed);
    expect(recorded).toEqual([pushed]);

    const failing: PushGateway = { send: async () => Promise.reject(new Error('connection reset')) };
    await expect(printingPushes(failing, (line) => lines.push(line), () => AT).send(target, alert)).rejects.toThrow('connection reset');
    expect(lines).toEqual([
      '09:30:05Z decision pushed        device 8759fb25… mailbox me (apns:delivered)',
      '09:30:05Z push     alert         to device 8759fb25…: not sent yet (connection reset); the queue retries',
    ]);
  });
});
