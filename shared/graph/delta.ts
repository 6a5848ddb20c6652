import * as z from '../zod.js';
import { GraphMalformedError } from './graph-errors.js';
import { readJsonDocument } from './safe-json.js';

/**
 * The delta query on a mailbox's inbox (GRAPH message-delta): `GET /users/{address}/mailFolders('inbox')/messages/delta`
 * answers pages of changed messages, each page ending in either `@odata.nextLink` (more to read) or
 * `@odata.deltaLink` (the cursor of the next pass). A message deleted or moved out of the folder comes back as
 * `{"id", "@removed": {"reason"}}`. Only `$filter=receivedDateTime ge <t>` is supported for messages, which is how a
 * first pass (or a resync after 410) is bounded.
 */

/** The fields the relay selects: enough to judge "unread mail received since the gap began", nothing personal. */
export const DELTA_SELECT = 'isRead,receivedDateTime';
/** Messages per page the relay asks for (`Prefer: odata.maxpagesize`); Graph's default is 10. */
export const DELTA_PAGE_SIZE = 100;

const deltaItemSchema = z.object({
  id: z.string().check(z.minLength(1), z.maxLength(512)),
  receivedDateTime: z.optional(z.iso.datetime({ offset: true })),
  isRead: z.optional(z.boolean()),
  '@removed': z.optional(z.object({ reason: z.optional(z.string().check(z.maxLength(64))) })),
});

const deltaPageSchema = z.object({
  value: z.array(z.unknown()).check(z.maxLength(1_000)),
  '@odata.nextLink': z.optional(z.string().check(z.minLength(1), z.maxLength(4096))),
  '@odata.deltaLink': z.optional(z.string().check(z.minLength(1), z.maxLength(4096))),
}).check(
  z.refine(
    (page) => (page['@odata.nextLink'] === undefined) !== (page['@odata.deltaLink'] === undefined),
    'one of nextLink and deltaLink',
  ),
);

/** One page of a delta answer. */
export interface DeltaPage {
  /** Messages present in the folder (added or changed), with what the relay selected. */
  messages: Array<{ id: string; receivedAt: number; isRead: boolean }>;
  /** Ids of items reported removed, and items too malformed to judge, are only counted. */
  removed: number;
  skipped: number;
  next: { kind: 'next'; url: string } | { kind: 'delta'; url: string };
}

/**
 * Reads one delta page. Items are judged one by one (a malformed item is skipped, beside good ones), but a page
 * without exactly one of the two links is malformed as a whole: it would leave the pass without a cursor.
 *
 * @throws GraphMalformedError, GraphBodyTooLargeError.
 */
export function parseDeltaPage(body: Uint8Array | string): DeltaPage {
  const page = deltaPageSchema.safeParse(readJsonDocument(body));
  if (!page.success) throw new GraphMalformedError('the answer is not a delta page');
  const messages: DeltaPage['messages'] = [];
  let removed = 0;
  let skipped = 0;
  for (const raw of page.data.value) {
    const item = deltaItemSchema.safeParse(raw);
    if (!item.success) {
      skipped++;
    } else if (item.data['@removed'] !== undefined) {
      removed++;
    } else if (item.data.receivedDateTime === undefined || item.data.isRead === undefined) {
      skipped++;
    } else {
      messages.push({ id: item.data.id, receivedAt: Date.parse(item.data.receivedDateTime), isRead: item.data.isRead });
    }
  }
  const nextLink = page.data['@odata.nextLink'];
  return {
    messages,
    removed,
    skipped,
    next: nextLink !== undefined ? { kind: 'next', url: nextLink } : { kind: 'delta', url: page.data['@odata.deltaLink'] as string },
  };
}

/** The first request of a pass without a kept link: messages received at or after `receivedSince`. */
export function initialDeltaPath(address: string, receivedSince: number): string {
  const since = new Date(receivedSince).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const query = new URLSearchParams({ $select: DELTA_SELECT, $filter: `receivedDateTime ge ${since}` });
  return `/users/${address}/mailFolders('inbox')/messages/delta?${query.toString()}`;
}
