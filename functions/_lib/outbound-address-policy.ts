import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { ValidationError } from '../../shared/errors.js';

/**
 * Where the relay may send requests on an organization's behalf (contract section 8: server-side request forgery).
 * An operator-supplied URL must be `https://` to a public address. "Public" is decided on every address the host
 * resolves to, at configuration time and again at connection time (the connection's own lookup, so a name that
 * resolves to a public address when checked and to the metadata service when used is refused too).
 *
 * Only `npm start` allows loopback (`allowLoopback`), and then also `http://` to a loopback host, so that local runs
 * and tests can use played mail servers. Private, link-local (169.254.169.254 is the instance metadata service) and
 * unique-local addresses are refused everywhere.
 */
export interface OutboundPolicy {
  allowLoopback: boolean;
}

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** Never a mail server: private, link-local, unique-local, shared (CGNAT), unspecified, multicast, reserved. */
const neverPublic = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  neverPublic.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
  ['2001:db8::', 32],
  ['100::', 64],
] as const) {
  neverPublic.addSubnet(network, prefix, 'ipv6');
}

/** The IPv4 address an IPv6 address stands for (IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`), if any. */
function embeddedIpv4(address: string): string | undefined {
  const match = /^(?:::ffff:|64:ff9b::)(?:(\d+\.\d+\.\d+\.\d+)|([0-9a-f]{1,4}):([0-9a-f]{1,4}))$/i.exec(address);
  if (!match) return undefined;
  if (match[1]) return match[1];
  const high = parseInt(match[2] ?? '0', 16);
  const low = parseInt(match[3] ?? '0', 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

export type AddressClass = 'public' | 'loopback' | 'refused';

/** Classifies one IP address (v4 or v6). Anything that is not an IP address is `refused`. */
export function classifyAddress(address: string): AddressClass {
  const unbracketed = address.replace(/^\[|\]$/g, '');
  const family = isIP(unbracketed);
  if (family === 0) return 'refused';
  if (family === 6) {
    const inner = embeddedIpv4(unbracketed);
    if (inner !== undefined) return classifyAddress(inner);
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (loopback.check(unbracketed, type)) return 'loopback';
  if (neverPublic.check(unbracketed, type)) return 'refused';
  return 'public';
}

function allowed(addressClass: AddressClass, policy: OutboundPolicy): boolean {
  return addressClass === 'public' || (addressClass === 'loopback' && policy.allowLoopback);
}

/** Thrown by the guarded lookup: the connection never starts. */
export class RefusedAddressError extends Error {
  readonly code = 'EADDRREFUSED_BY_POLICY';
  constructor() {
    super('the mail server host resolves to an address the relay may not connect to');
    this.name = 'RefusedAddressError';
  }
}

type Resolver = (hostname: string) => Promise<string[]>;

const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses.map((a) => a.address))));
  });

/**
 * Checks a configured URL: its form and every address its host resolves to. Throws ValidationError (400) naming the
 * field, never echoing the URL (it could carry something the operator did not mean to publish).
 */
export async function assertAllowedServerUrl(field: string, value: string, policy: OutboundPolicy, resolve: Resolver = systemResolver): Promise<void> {
  const url = new URL(value);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  if (isIP(host) !== 0) {
    addresses = [host];
  } else {
    try {
      addresses = await resolve(host);
    } catch {
      throw new ValidationError([{ path: field, message: 'the host name does not resolve' }]);
    }
  }
  if (addresses.length === 0) throw new ValidationError([{ path: field, message: 'the host name does not resolve' }]);
  const classes = addresses.map(classifyAddress);
  if (!classes.every((addressClass) => allowed(addressClass, policy))) {
    throw new ValidationError([
      {
        path: field,
        message: policy.allowLoopback
          ? 'must point to a public or loopback address (private, link-local and unique-local addresses are refused)'
          : 'must point to a public address (loopback, private, link-local and unique-local addresses are refused)',
      },
    ]);
  }
  const isLoopbackOnly = classes.every((addressClass) => addressClass === 'loopback');
  if (url.protocol !== 'https:' && !(policy.allowLoopback && isLoopbackOnly)) {
    throw new ValidationError([{ path: field, message: 'must be an https:// URL' }]);
  }
}

/**
 * A `lookup` for `http.request` / `https.request` that refuses to connect to an address the policy does not allow.
 * Connections to literal IP addresses do not call `lookup`; `guardedRequest` checks those before connecting.
 */
export function guardedLookup(policy: OutboundPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 4);
      const permitted = addresses.filter((entry) => allowed(classifyAddress(entry.address), policy));
      if (permitted.length === 0 || permitted.length !== addresses.length) return callback(new RefusedAddressError() as NodeJS.ErrnoException, '', 4);
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, permitted);
      const [first] = permitted as [LookupAddress];
      return callback(null, first.address, first.family);
    });
  };
}
