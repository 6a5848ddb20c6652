import { describe, expect, it } from 'vitest';
import {
  GraphBodyTooLargeError,
  GraphMalformedError,
  MAX_GRAPH_BODY_BYTES,
  isMessageNotification,
  isNewMessageNotification,
  messageIdOfResource,
  messageKeyOf,
  parseChangeNotifications,
  parseLifecycleNotifications,
  type GraphChangeNotification,
} from '../../../shared/graph/index.js';

/** Synthetic Graph bodies: the shapes the published samples do not show. */
const created = (id: string, overrides: Record<string, unknown> = {}) => ({
  subscriptionId: 'sub-1',
  subscriptionExpirationDateTime: '2026-12-10T00:00:00Z',
  changeType: 'created',
  clientState: 'state-1',
  resource: `Users/u1/Messages/${id}`,
  tenantId: 't1',
  resourceData: { '@odata.type': '#Microsoft.Graph.Message', '@odata.id': `Users/u1/Messages/${id}`, '@odata.etag': 'W/"x"', id },
  ...overrides,
});
const body = (value: unknown) => JSON.stringify({ value });
const thrown = (read: () => unknown) => {
  try {
    read();
  } catch (error) {
    return error;
  }
  throw new Error('did not throw');
};

describe('parseChangeNotifications', () => {
  it('reads a batch across subscriptions and keeps each item with its own subscription and clientState', () => {
    const { items, skipped } = parseChangeNotifications(body([created('m1'), created('m2', { subscriptionId: 'sub-2', clientState: 'state-2' })]));
    expect(skipped).toBe(0);
    expect(items.map((item) => [item.subscriptionId, item.clientState, messageKeyOf(item)])).toEqual([
      ['sub-1', 'state-1', 'm1'],
      ['sub-2', 'state-2', 'm2'],
    ]);
  });

  it('skips malformed items beside well-formed ones and counts them', () => {
    const { items, skipped } = parseChangeNotifications(
      body([
        created('m1'),
        { changeType: 'created', resource: 'Users/u1/Messages/x' },
        { subscriptionId: 'sub-1', changeType: 'created' },
        { subscriptionId: 7, changeType: 'created', resource: 'r' },
        'a string',
        null,
        [],
        created('m2'),
      ]),
    );
    expect(items.map(messageKeyOf)).toEqual(['m1', 'm2']);
    expect(skipped).toBe(6);
  });

  it('skips an item nested deeper than a body may be, and keeps its well-formed neighbours (a 400 would lose them)', () => {
    // Written as text: JSON.stringify itself would overflow the stack on it.
    const junk = `${'{"deeper":'.repeat(5_000)}"bottom"${'}'.repeat(5_000)}`;
    const deepResourceData = JSON.stringify(created('m2')).replace(/"resourceData":\{[^}]*\}/, `"resourceData":${junk}`);
    const withinLimit = { ...created('m3'), resourceData: { '@odata.type': '#Microsoft.Graph.Message', id: 'm3', extra: { a: { b: { c: { d: { e: { f: { g: { h: { i: { j: 1 } } } } } } } } } } } };
    const text = `{"value":[${JSON.stringify(created('m1'))},${junk},${deepResourceData},${JSON.stringify(withinLimit)}]}`;
    const { items, skipped } = parseChangeNotifications(text);
    expect(items.map(messageKeyOf)).toEqual(['m1', 'm3']);
    expect(skipped).toBe(2);
  });

  it('keeps an item with its three required properties whatever its optional ones hold, dropping those of the wrong type', () => {
    const { items, skipped } = parseChangeNotifications(
      body([
        { subscriptionId: 'sub-1', changeType: 'created', resource: 'Users/u1/Messages/y', resourceData: 'not an object' },
        { subscriptionId: 'sub-1', changeType: 'created', resource: 'Users/u1/Messages/z', clientState: 12, resourceData: { id: 7, '@odata.type': false } },
        { subscriptionId: 'sub-1', changeType: 'created', resource: 'Users/u1/Messages/w', clientState: 'x'.repeat(1025) },
      ]),
    );
    expect(skipped).toBe(0);
    expect(items).toEqual([
      { subscriptionId: 'sub-1', changeType: 'created', resource: 'Users/u1/Messages/y' },
      { subscriptionId: 'sub-1', changeType: 'created', resource: 'Users/u1/Messages/z', resourceData: {} },
      { subscriptionId: 'sub-1', changeType: 'created', resource: 'Users/u1/Messages/w' },
    ]);
    // The only item of a body is enough to make it no 400 (contract section 7).
    expect(() => parseChangeNotifications(body([{ subscriptionId: 's', changeType: 'created', resource: 'me/messages/m', resourceData: 'x' }]))).not.toThrow();
  });

  it('reads null optional properties as absent', () => {
    const { items } = parseChangeNotifications(body([{ subscriptionId: 's', changeType: 'created', resource: 'me/messages/m', clientState: null, resourceData: null }]));
    expect(items).toEqual([{ subscriptionId: 's', changeType: 'created', resource: 'me/messages/m' }]);
  });

  it('keeps no property it does not use, whatever the item carries (encryptedContent, __proto__, constructor)', () => {
    const text = `{"value":[{"subscriptionId":"s","changeType":"created","resource":"me/messages/m","__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}},"encryptedContent":{"data":"x"}}]}`;
    const { items } = parseChangeNotifications(text);
    expect(Object.keys(items[0]!)).toEqual(['subscriptionId', 'changeType', 'resource']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    ['not JSON', 'value=1'],
    ['an array', '[]'],
    ['no value', '{"values":[]}'],
    ['a value that is not an array', '{"value":{"subscriptionId":"s"}}'],
    ['an empty value', '{"value":[]}'],
    ['no well-formed item', body([{ subscriptionId: 's' }, { changeType: 'created' }])],
    ['invalid UTF-8', new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])],
    ['JSON with a comment', '{"value":[] // none\n}'],
    ['deep nesting', `{"value":[${'['.repeat(5_000)}${']'.repeat(5_000)}]}`],
    ['deep nesting that never closes', `${'{"a":'.repeat(50_000)}`],
  ])('refuses %s with GraphMalformedError', (_, input) => {
    expect(thrown(() => parseChangeNotifications(input))).toBeInstanceOf(GraphMalformedError);
  });

  it('reads every item of a body within 256 KiB, however many: a 400 would lose them all (contract section 7)', () => {
    const value = Array.from({ length: 3_000 }, (_, index) => ({ subscriptionId: 's', changeType: 'created', resource: `me/messages/m${index}` }));
    expect(new TextEncoder().encode(body(value)).byteLength).toBeLessThanOrEqual(MAX_GRAPH_BODY_BYTES);
    expect(parseChangeNotifications(body(value)).items).toHaveLength(3_000);
  });

  it('refuses a body over 256 KiB before reading it, and reads one of exactly 256 KiB', () => {
    const padded = (bytes: number) => {
      const start = `{"value":[{"subscriptionId":"s","changeType":"created","resource":"me/messages/m","pad":"`;
      return `${start}${'x'.repeat(bytes - start.length - 4)}"}]}`;
    };
    expect(thrown(() => parseChangeNotifications(padded(MAX_GRAPH_BODY_BYTES + 1)))).toBeInstanceOf(GraphBodyTooLargeError);
    expect(thrown(() => parseChangeNotifications(`{"value":${'1'.repeat(10 * 1024 * 1024)}}`))).toBeInstanceOf(GraphBodyTooLargeError);
    expect(parseChangeNotifications(padded(MAX_GRAPH_BODY_BYTES)).items).toHaveLength(1);
  });

  it('ignores brackets inside strings when it measures nesting', () => {
    const resource = `me/messages/${'['.repeat(100)}`;
    expect(parseChangeNotifications(body([{ subscriptionId: 's', changeType: 'created', resource, clientState: '\\"{{{{' }])).items).toHaveLength(1);
  });

  it('refuses over-long fields as malformed items', () => {
    expect(thrown(() => parseChangeNotifications(body([created('m', { subscriptionId: 'x'.repeat(513) })])))).toBeInstanceOf(GraphMalformedError);
    expect(thrown(() => parseChangeNotifications(body([created('m', { resource: 'x'.repeat(2049) })])))).toBeInstanceOf(GraphMalformedError);
  });
});

describe('what is new mail', () => {
  const item = (changeType: string, resource: string, resourceData?: GraphChangeNotification['resourceData']): GraphChangeNotification => ({
    subscriptionId: 's',
    changeType,
    resource,
    ...(resourceData === undefined ? {} : { resourceData }),
  });

  it.each([
    ['#Microsoft.Graph.Message', 'Users/u/Messages/m'],
    ['#microsoft.graph.message', "Users('u')/messages('m')"],
    ['#MICROSOFT.GRAPH.MESSAGE', 'anything'],
    // Meeting invitations, updates, cancellations and answers, and calendar sharing: types Graph derives from message.
    ['#Microsoft.Graph.EventMessage', "Users('u')/Messages('m')"],
    ['#microsoft.graph.eventMessageRequest', 'Users/u/Messages/m'],
    ['#microsoft.graph.eventMessageResponse', 'Users/u/Messages/m'],
    ['#microsoft.graph.calendarSharingMessage', 'Users/u/Messages/m'],
  ])('a created item of type %s on %s', (type, resource) => {
    expect(isNewMessageNotification(item('created', resource, { '@odata.type': type, id: 'm' }))).toBe(true);
  });

  it.each([['users/u/messages/m'], ['Users/u/Messages/m'], ["Users('u')/Messages('m')"], ['me/mailFolders/inbox/messages/AAMk-_=']])(
    'a created item without resourceData on %s',
    (resource) => {
      expect(isNewMessageNotification(item('created', resource))).toBe(true);
    },
  );

  it.each([
    ['updated', 'Users/u/Messages/m'],
    ['deleted', 'Users/u/Messages/m'],
    ['Created', 'Users/u/Messages/m'],
    ['missed', 'Users/u/Messages/m'],
    ['created', 'Users/u/Events/e'],
    ['created', 'Users/u/contacts/c'],
    ['created', 'Users/u/messages'],
    ['created', "Users/u/mailFolders('inbox')/messages"],
    ['created', "teams('t')/channels('c')/messages('1')/replies('2')"],
  ])('not a %s item on %s', (changeType, resource) => {
    expect(isNewMessageNotification(item(changeType, resource))).toBe(false);
  });

  it('not a created item whose @odata.type names another resource, whatever its path', () => {
    expect(isMessageNotification(item('created', "chats('c')/messages('1')", { '@odata.type': '#Microsoft.Graph.ChatMessage', id: '1' }))).toBe(false);
    expect(isMessageNotification(item('created', 'Users/u/Events/e', { '@odata.type': '#Microsoft.Graph.Event', id: 'e' }))).toBe(false);
  });

  it('reads the message id of a resource path in both forms', () => {
    expect(messageIdOfResource('Users/u/Messages/AAMk=')).toBe('AAMk=');
    expect(messageIdOfResource("Users('u')/messages('AAMk=')")).toBe('AAMk=');
    expect(messageIdOfResource('Users/u/Messages')).toBeUndefined();
  });

  it('keys a message by resourceData.id, else the id of its resource, else the resource', () => {
    expect(messageKeyOf(item('created', 'Users/u/Messages/from-path', { id: 'from-data' }))).toBe('from-data');
    expect(messageKeyOf(item('created', 'Users/u/Messages/from-path'))).toBe('from-path');
    expect(messageKeyOf(item('created', 'Users/u/somewhere', { '@odata.type': '#Microsoft.Graph.Message' }))).toBe('Users/u/somewhere');
  });
});

describe('parseLifecycleNotifications', () => {
  it('skips items without subscriptionId or lifecycleEvent and keeps the others', () => {
    const { items, skipped } = parseLifecycleNotifications(
      body([
        { subscriptionId: 's1', lifecycleEvent: 'missed', clientState: 'c' },
        { subscriptionId: 's2' },
        { lifecycleEvent: 'missed' },
        { subscriptionId: 's3', lifecycleEvent: 'subscriptionRemoved' },
      ]),
    );
    expect(items).toEqual([
      { subscriptionId: 's1', lifecycleEvent: 'missed', clientState: 'c' },
      { subscriptionId: 's3', lifecycleEvent: 'subscriptionRemoved' },
    ]);
    expect(skipped).toBe(2);
  });

  it('refuses a body without a well-formed lifecycle item', () => {
    expect(thrown(() => parseLifecycleNotifications(body([{ subscriptionId: 's', changeType: 'created', resource: 'r' }])))).toBeInstanceOf(GraphMalformedError);
  });
});
