import type { PushGateway, PushMessage, PushResult, PushTarget } from '../../shared/push/push-gateway.js';
import type { OutcomeCounter, UseCaseLogger } from '../../functions/_lib/powertools.js';

/** A push gateway that records what it was asked to send and answers from a script (default: delivered). */
export class RecordingPushGateway implements PushGateway {
  readonly sent: Array<{ target: PushTarget; message: PushMessage }> = [];
  private readonly script: Array<PushResult | Error> = [];

  /** Queues answers for the next sends; an Error is thrown instead of answered. */
  answerNext(...answers: Array<PushResult | Error>): this {
    this.script.push(...answers);
    return this;
  }

  async send(target: PushTarget, message: PushMessage): Promise<PushResult> {
    const answer = this.script.shift() ?? { outcome: 'delivered', apnsId: `apns-${this.sent.length + 1}` };
    if (answer instanceof Error) throw answer;
    this.sent.push({ target, message });
    return answer;
  }
}

export class RecordingLogger implements UseCaseLogger {
  readonly lines: Array<{ level: string; message: string; extra?: Record<string, unknown> }> = [];
  debug(message: string, extra?: Record<string, unknown>) {
    this.lines.push({ level: 'debug', message, ...(extra ? { extra } : {}) });
  }
  info(message: string, extra?: Record<string, unknown>) {
    this.lines.push({ level: 'info', message, ...(extra ? { extra } : {}) });
  }
  warn(message: string, extra?: Record<string, unknown>) {
    this.lines.push({ level: 'warn', message, ...(extra ? { extra } : {}) });
  }
  error(message: string, extra?: Record<string, unknown>) {
    this.lines.push({ level: 'error', message, ...(extra ? { extra } : {}) });
  }
}

/** One logger that writes each line to all of `loggers` (a recorder for a scan, and Powertools for real output). */
export function teeLogger(...loggers: UseCaseLogger[]): UseCaseLogger {
  return {
    debug: (message, extra) => loggers.forEach((logger) => logger.debug(message, extra)),
    info: (message, extra) => loggers.forEach((logger) => logger.info(message, extra)),
    warn: (message, extra) => loggers.forEach((logger) => logger.warn(message, extra)),
    error: (message, extra) => loggers.forEach((logger) => logger.error(message, extra)),
  };
}

export class RecordingCounter implements OutcomeCounter {
  readonly counts = new Map<string, number>();
  count(name: string, value = 1) {
    this.counts.set(name, (this.counts.get(name) ?? 0) + value);
  }
}

/** A clock tests move by hand. */
export class ManualClock {
  constructor(public nowMs: number) {}
  readonly now = () => this.nowMs;
  advance(ms: number) {
    this.nowMs += ms;
  }
}
