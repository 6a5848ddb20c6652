import type { Settlement, SettlementLog } from '../../shared/store/ports.js';

/** BatchWriteItem's limit: a batch this full is written at once. */
const FULL_BATCH_ITEMS = 25;

/**
 * The settlements of one dispatcher invocation's mailbox groups, written together. The groups run in parallel and
 * most end by settling their records at about the same time; instead of one write each, a settlement waits until
 * every group still at work is waiting to settle too (or has finished), until a batch is full, or at most
 * `maxWaitMs` (a group waiting on APNs does not hold the others' completions back longer). A crash in that short
 * wait pushes those records at most once more on redelivery, as a crash between a push and its completion always
 * could.
 */
export class SettlementBatch implements SettlementLog {
  private pending: Array<{ settlements: Settlement[]; resolve: () => void; reject: (error: unknown) => void }> = [];
  private busy = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly log: SettlementLog,
    private readonly maxWaitMs = 20,
  ) {}

  /** A group starts its work. */
  working(): void {
    this.busy++;
  }

  /** A group is done: if every other one waits to settle, they need not wait for it. */
  resting(): void {
    this.busy--;
    this.flushWhenReady();
  }

  async settle(settlements: Settlement[]): Promise<void> {
    if (settlements.length === 0) return;
    this.busy--;
    try {
      await new Promise<void>((resolve, reject) => {
        this.pending.push({ settlements, resolve, reject });
        this.flushWhenReady();
      });
    } finally {
      this.busy++;
    }
  }

  private flushWhenReady(): void {
    if (this.pending.length === 0) return;
    const items = this.pending.reduce((sum, entry) => sum + entry.settlements.reduce((n, s) => n + s.keys.length + 1, 0), 0);
    if (this.busy <= 0 || items >= FULL_BATCH_ITEMS) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.maxWaitMs);
  }

  private async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    try {
      await this.log.settle(batch.flatMap((entry) => entry.settlements));
      for (const entry of batch) entry.resolve();
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    }
  }
}
