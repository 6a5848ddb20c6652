import { createHmac, randomBytes } from 'node:crypto';

/**
 * NTLMv2 authentication for EWS on premises (contract section 8, `"auth": "ntlm"`), as MS-NLMP specifies it: the
 * client's NEGOTIATE message, the server's CHALLENGE read, and the AUTHENTICATE message with an NTLMv2 response. Only
 * authentication: HTTP needs no signing or sealing. Node's OpenSSL 3 has no MD4, which the NT hash needs, so MD4
 * (RFC 1320) is here too. The played EWS server checks what this sends with `verifyNtlmv2Response`.
 */

const SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1');

/** UNICODE, OEM, REQUEST_TARGET, NTLM, ALWAYS_SIGN, EXTENDED_SESSIONSECURITY, 128, 56. */
const NEGOTIATE_FLAGS = 0xa0088207;

/** MsvAvTimestamp: when the server sends one, the client's blob carries it (MS-NLMP 3.1.5.1.2). */
const AV_TIMESTAMP = 7;

/** The NEGOTIATE message (type 1), base64, for `Authorization: NTLM ...`. */
export function ntlmNegotiate(): string {
  const message = Buffer.alloc(32);
  SIGNATURE.copy(message, 0);
  message.writeUInt32LE(1, 8);
  message.writeUInt32LE(NEGOTIATE_FLAGS, 12);
  // Domain and workstation: empty security buffers (offset 32, the end of the message).
  message.writeUInt32LE(32, 20);
  message.writeUInt32LE(32, 28);
  return message.toString('base64');
}

export interface NtlmChallenge {
  flags: number;
  serverChallenge: Buffer;
  targetInfo: Buffer;
}

/** Reads the CHALLENGE message (type 2) of a `WWW-Authenticate: NTLM ...` header; undefined when it is none. */
export function readNtlmChallenge(wwwAuthenticate: string | string[] | undefined): NtlmChallenge | undefined {
  const values = Array.isArray(wwwAuthenticate) ? wwwAuthenticate : wwwAuthenticate === undefined ? [] : wwwAuthenticate.split(',');
  for (const value of values) {
    // The scheme's case does not matter (RFC 9110); an IIS with only the Negotiate provider sends NTLM tokens under it.
    const match = /^\s*(?:NTLM|Negotiate)\s+([A-Za-z0-9+/]+=*)\s*$/i.exec(value);
    if (!match) continue;
    const message = Buffer.from(match[1]!, 'base64');
    if (message.byteLength < 32 || !message.subarray(0, 8).equals(SIGNATURE) || message.readUInt32LE(8) !== 2) return undefined;
    const flags = message.readUInt32LE(20);
    // The AUTHENTICATE carries UTF-16 strings only: a server that does not negotiate Unicode is not one to answer.
    if ((flags & 0x1) === 0) return undefined;
    const serverChallenge = Buffer.from(message.subarray(24, 32));
    let targetInfo = Buffer.alloc(0);
    if (message.byteLength >= 48) {
      const length = message.readUInt16LE(40);
      const offset = message.readUInt32LE(44);
      if (offset + length > message.byteLength) return undefined;
      targetInfo = Buffer.from(message.subarray(offset, offset + length));
    }
    return { flags, serverChallenge, targetInfo };
  }
  return undefined;
}

/** `DOMAIN\user` or a UPN (`user@domain`, sent whole with an empty domain), as Windows accounts are written. */
export function ntlmIdentity(username: string): { user: string; domain: string } {
  const slash = username.indexOf('\\');
  return slash < 0 ? { user: username, domain: '' } : { user: username.slice(slash + 1), domain: username.slice(0, slash) };
}

/** The AUTHENTICATE message (type 3), base64, answering `challenge` with an NTLMv2 response. */
export function ntlmAuthenticate(
  input: { username: string; password: string; challenge: NtlmChallenge },
  options: { clientChallenge?: Buffer; now?: number; workstation?: string } = {},
): string {
  const { user, domain } = ntlmIdentity(input.username);
  const clientChallenge = options.clientChallenge ?? randomBytes(8);
  const timestamp = avTimestamp(input.challenge.targetInfo) ?? fileTime(options.now ?? Date.now());
  const ntOwf = ntowfv2(input.password, user, domain);
  const blob = ntlmv2Blob(timestamp, clientChallenge, input.challenge.targetInfo);
  const ntProof = hmacMd5(ntOwf, Buffer.concat([input.challenge.serverChallenge, blob]));
  const ntResponse = Buffer.concat([ntProof, blob]);
  // With the server's timestamp, MS-NLMP 3.1.5.1.2 asks for no LMv2 response (24 zero bytes).
  const lmResponse = avTimestamp(input.challenge.targetInfo)
    ? Buffer.alloc(24)
    : Buffer.concat([hmacMd5(ntOwf, Buffer.concat([input.challenge.serverChallenge, clientChallenge])), clientChallenge]);

  const fields = [utf16(domain), utf16(user), utf16(options.workstation ?? ''), lmResponse, ntResponse, Buffer.alloc(0)];
  const header = Buffer.alloc(64);
  SIGNATURE.copy(header, 0);
  header.writeUInt32LE(3, 8);
  // Security buffers in the order of MS-NLMP 2.2.1.3: LM, NT, domain, user, workstation, session key.
  const order = [3, 4, 0, 1, 2, 5];
  const offsets: number[] = [];
  let offset = 64;
  for (const field of fields) {
    offsets.push(offset);
    offset += field.byteLength;
  }
  order.forEach((fieldIndex, position) => {
    const at = 12 + position * 8;
    header.writeUInt16LE(fields[fieldIndex]!.byteLength, at);
    header.writeUInt16LE(fields[fieldIndex]!.byteLength, at + 2);
    header.writeUInt32LE(offsets[fieldIndex]!, at + 4);
  });
  header.writeUInt32LE((input.challenge.flags & NEGOTIATE_FLAGS) >>> 0 || NEGOTIATE_FLAGS, 60);
  return Buffer.concat([header, ...fields]).toString('base64');
}

/**
 * The server's side, for a server that checks the handshake (the played EWS server and the tests): a CHALLENGE
 * message (type 2) with `targetInfo` as its AV pairs, base64.
 */
export function writeNtlmChallenge(challenge: NtlmChallenge): string {
  const header = Buffer.alloc(48);
  SIGNATURE.copy(header, 0);
  header.writeUInt32LE(2, 8);
  header.writeUInt32LE(challenge.flags, 20);
  challenge.serverChallenge.copy(header, 24);
  header.writeUInt16LE(challenge.targetInfo.byteLength, 40);
  header.writeUInt16LE(challenge.targetInfo.byteLength, 42);
  header.writeUInt32LE(48, 44);
  return Buffer.concat([header, challenge.targetInfo]).toString('base64');
}

/** What an AUTHENTICATE message says, for a server that checks it (the played EWS server). */
export function readNtlmAuthenticate(base64: string): { user: string; domain: string; ntResponse: Buffer } | undefined {
  const message = Buffer.from(base64, 'base64');
  if (message.byteLength < 64 || !message.subarray(0, 8).equals(SIGNATURE) || message.readUInt32LE(8) !== 3) return undefined;
  const field = (at: number) => {
    const length = message.readUInt16LE(at);
    const offset = message.readUInt32LE(at + 4);
    return offset + length <= message.byteLength ? message.subarray(offset, offset + length) : undefined;
  };
  const ntResponse = field(20);
  const domain = field(28);
  const user = field(36);
  if (!ntResponse || !domain || !user || ntResponse.byteLength < 16 + 28) return undefined;
  return { user: user.toString('utf16le'), domain: domain.toString('utf16le'), ntResponse: Buffer.from(ntResponse) };
}

/** Whether `ntResponse` proves the password for `serverChallenge` (the NTProofStr recomputed from its blob). */
export function verifyNtlmv2Response(input: { user: string; domain: string; password: string; serverChallenge: Buffer; ntResponse: Buffer }): boolean {
  const blob = input.ntResponse.subarray(16);
  const expected = hmacMd5(ntowfv2(input.password, input.user, input.domain), Buffer.concat([input.serverChallenge, blob]));
  return expected.equals(input.ntResponse.subarray(0, 16));
}

/** NTOWFv2 (MS-NLMP 3.3.2): HMAC-MD5 keyed with the NT hash (MD4 of the UTF-16LE password) of upper(user) + domain. */
export function ntowfv2(password: string, user: string, domain: string): Buffer {
  return hmacMd5(md4(utf16(password)), utf16(windowsUpperCase(user) + domain));
}

/** Windows upper-cases one character to one (`ß` stays `ß`); JavaScript's full mapping would make it `SS`. */
function windowsUpperCase(text: string): string {
  return Array.from(text, (character) => {
    const upper = character.toUpperCase();
    return upper.length === character.length ? upper : character;
  }).join('');
}

/** The NTLMv2 client blob (MS-NLMP 2.2.2.7): version 1.1, the time, the client challenge and the server's AV pairs. */
export function ntlmv2Blob(timestamp: Buffer, clientChallenge: Buffer, targetInfo: Buffer): Buffer {
  return Buffer.concat([Buffer.from([1, 1, 0, 0, 0, 0, 0, 0]), timestamp, clientChallenge, Buffer.alloc(4), targetInfo, Buffer.alloc(4)]);
}

function avTimestamp(targetInfo: Buffer): Buffer | undefined {
  for (let at = 0; at + 4 <= targetInfo.byteLength; ) {
    const id = targetInfo.readUInt16LE(at);
    const length = targetInfo.readUInt16LE(at + 2);
    if (id === 0) return undefined;
    if (id === AV_TIMESTAMP && length === 8 && at + 12 <= targetInfo.byteLength) return Buffer.from(targetInfo.subarray(at + 4, at + 12));
    at += 4 + length;
  }
  return undefined;
}

/** A Windows FILETIME: 100 ns intervals since 1601-01-01, little-endian. */
function fileTime(ms: number): Buffer {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64LE((BigInt(Math.floor(ms)) + 11_644_473_600_000n) * 10_000n);
  return buffer;
}

function hmacMd5(key: Buffer, data: Buffer): Buffer {
  return createHmac('md5', key).update(data).digest();
}

function utf16(text: string): Buffer {
  return Buffer.from(text, 'utf16le');
}

/** MD4 (RFC 1320). Only ever used for the NT hash of a password: NTLM needs it and OpenSSL 3 no longer offers it. */
export function md4(input: Buffer): Buffer {
  const bitLength = BigInt(input.byteLength) * 8n;
  const padded = Buffer.alloc((((input.byteLength + 8) >> 6) + 1) << 6);
  input.copy(padded);
  padded[input.byteLength] = 0x80;
  padded.writeBigUInt64LE(bitLength, padded.byteLength - 8);

  const state = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
  const rotl = (x: number, s: number) => ((x << s) | (x >>> (32 - s))) >>> 0;
  const rounds: Array<{ f: (x: number, y: number, z: number) => number; k: number[]; s: number[]; add: number }> = [
    { f: (x, y, z) => (x & y) | (~x & z), k: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], s: [3, 7, 11, 19], add: 0 },
    { f: (x, y, z) => (x & y) | (x & z) | (y & z), k: [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15], s: [3, 5, 9, 13], add: 0x5a827999 },
    { f: (x, y, z) => x ^ y ^ z, k: [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15], s: [3, 9, 11, 15], add: 0x6ed9eba1 },
  ];
  for (let block = 0; block < padded.byteLength; block += 64) {
    const words = Array.from({ length: 16 }, (_, i) => padded.readUInt32LE(block + i * 4));
    const registers = [...state];
    for (const round of rounds) {
      for (let i = 0; i < 16; i++) {
        // A, D, C, B in turn, each with the function of the other three in order.
        const j = (4 - (i % 4)) % 4;
        const value = (registers[j]! + round.f(registers[(j + 1) % 4]!, registers[(j + 2) % 4]!, registers[(j + 3) % 4]!) + words[round.k[i]!]! + round.add) >>> 0;
        registers[j] = rotl(value, round.s[i % 4]!);
      }
    }
    for (let i = 0; i < 4; i++) state[i] = (state[i]! + registers[i]!) >>> 0;
  }
  const digest = Buffer.alloc(16);
  state.forEach((word, i) => digest.writeUInt32LE(word, i * 4));
  return digest;
}
