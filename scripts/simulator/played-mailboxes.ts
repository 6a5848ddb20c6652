import { createHash } from 'node:crypto';

/** Which of a mailbox's subscriptions a played server delivers on: the newest, or the one before it (superseded). */
export type Which = 'current' | 'previous';

/** The played servers' mailboxes by address, each created on first use, with their subscriptions oldest first. */
export class MailboxBook<M extends { subscriptions: readonly unknown[] }> {
  private readonly mailboxes = new Map<string, M>();

  constructor(private readonly create: () => M) {}

  get(address: string): M {
    let mailbox = this.mailboxes.get(address);
    if (!mailbox) {
      mailbox = this.create();
      this.mailboxes.set(address, mailbox);
    }
    return mailbox;
  }

  all(): IterableIterator<M> {
    return this.mailboxes.values();
  }

  subscription(address: string, which: Which): M['subscriptions'][number] | undefined {
    const list = this.get(address).subscriptions;
    return list[which === 'current' ? list.length - 1 : list.length - 2];
  }
}

/** `bytes` bytes of hashes of the seed and `label`: the played servers' ids, the same for the same seed. */
export function seededDigest(seed: number, label: string, bytes: number): Buffer {
  const out: Buffer[] = [];
  for (let block = 0; out.length * 32 < bytes; block++) out.push(createHash('sha256').update(`${seed}:${label}:${block}`).digest());
  return Buffer.concat(out).subarray(0, bytes);
}
