import { describe, expect, it } from 'vitest';
import { GraphMalformedError } from '../../../shared/graph/graph-errors.js';
import { initialDeltaPath, parseDeltaPage } from '../../../shared/graph/delta.js';

describe('parseDeltaPage', () => {
  it('reads messages, counts removed and malformed items, and gives the next link', () => {
    const page = parseDeltaPage(
      JSON.stringify({
        '@odata.nextLink': 'https://graph.microsoft.com/v1.0/users/a@b.c/mailFolders(\'inbox\')/messages/delta?$skiptoken=x',
        value: [
          { '@odata.type': '#microsoft.graph.message', id: 'AAMk1', receivedDateTime: '2026-12-07T02:59:01Z', isRead: false },
          { id: 'AAMk2', '@removed': { reason: 'deleted' } },
          { id: 'AAMk3', receivedDateTime: 'yesterday', isRead: false },
          { id: 'AAMk4' },
          42,
        ],
      }),
    );
    expect(page.messages).toEqual([{ id: 'AAMk1', receivedAt: Date.parse('2026-12-07T02:59:01Z'), isRead: false }]);
    expect(page.removed).toBe(1);
    expect(page.skipped).toBe(3);
    expect(page.next).toEqual({ kind: 'next', url: expect.stringContaining('$skiptoken=x') });
  });

  it('ends a pass at the delta link', () => {
    expect(parseDeltaPage('{"value": [], "@odata.deltaLink": "https://g/v1.0/d?$deltatoken=1"}').next).toEqual({ kind: 'delta', url: 'https://g/v1.0/d?$deltatoken=1' });
  });

  it('refuses a page with neither or both links, or no value', () => {
    for (const body of ['{"value": []}', '{"value": [], "@odata.nextLink": "a", "@odata.deltaLink": "b"}', '{"@odata.deltaLink": "b"}', '[]', 'garbage']) {
      expect(() => parseDeltaPage(body)).toThrow(GraphMalformedError);
    }
  });
});

describe('initialDeltaPath', () => {
  it('selects only what judges new mail and filters by receive time, as message delta allows', () => {
    const path = initialDeltaPath('ada@example.com', Date.parse('2026-12-07T02:00:00.123Z'));
    const url = new URL(path, 'https://graph.example');
    expect(url.pathname).toBe("/users/ada@example.com/mailFolders('inbox')/messages/delta");
    expect(url.searchParams.get('$select')).toBe('isRead,receivedDateTime');
    expect(url.searchParams.get('$filter')).toBe('receivedDateTime ge 2026-12-07T02:00:00Z');
  });
});
