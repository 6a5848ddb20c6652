import { describe, expect, it } from 'vitest';
import {
  md4,
  ntlmAuthenticate,
  ntlmIdentity,
  ntlmNegotiate,
  ntlmv2Blob,
  ntowfv2,
  readNtlmAuthenticate,
  readNtlmChallenge,
  verifyNtlmv2Response,
  writeNtlmChallenge,
} from '../../../functions/_lib/ntlm.js';

const hex = (buffer: Buffer) => buffer.toString('hex');

/** MS-NLMP 4.2.4's AV pairs: MsvAvNbDomainName "Domain", MsvAvNbComputerName "Server", MsvAvEOL. */
const TARGET_INFO = Buffer.concat([
  Buffer.from([0x02, 0x00, 0x0c, 0x00]),
  Buffer.from('Domain', 'utf16le'),
  Buffer.from([0x01, 0x00, 0x0c, 0x00]),
  Buffer.from('Server', 'utf16le'),
  Buffer.from([0x00, 0x00, 0x00, 0x00]),
]);
const SERVER_CHALLENGE = Buffer.from('0123456789abcdef', 'hex');
const CLIENT_CHALLENGE = Buffer.from('aaaaaaaaaaaaaaaa', 'hex');

/** A CHALLENGE message as a server sends it, with target info. */
const challengeHeader = (targetInfo: Buffer = TARGET_INFO) => `NTLM ${writeNtlmChallenge({ flags: 0xe28a8215, serverChallenge: SERVER_CHALLENGE, targetInfo })}`;

describe('NTLMv2 for EWS on premises (contract section 8)', () => {
  it('computes MD4 as RFC 1320 says (its test suite)', () => {
    expect(hex(md4(Buffer.from('')))).toBe('31d6cfe0d16ae931b73c59d7e0c089c0');
    expect(hex(md4(Buffer.from('abc')))).toBe('a448017aaf21d8525fc10ae87aa6729d');
    expect(hex(md4(Buffer.from('message digest')))).toBe('d9130a8164549fe818874806e1c7014b');
    expect(hex(md4(Buffer.from('1234567890'.repeat(8))))).toBe('e33b4ddc9c38f2199c3e7b164fcc0536');
  });

  it('derives the NT hash, NTOWFv2 and the NTLMv2 proof of MS-NLMP 4.2.4', () => {
    expect(hex(md4(Buffer.from('Password', 'utf16le')))).toBe('a4f49c406510bdcab6824ee7c30fd852');
    expect(hex(ntowfv2('Password', 'User', 'Domain'))).toBe('0c868a403bfd7a93a3001ef22ef02e3f');
    const message = ntlmAuthenticate(
      { username: 'Domain\\User', password: 'Password', challenge: { flags: 0xe28a8215, serverChallenge: SERVER_CHALLENGE, targetInfo: TARGET_INFO } },
      { clientChallenge: CLIENT_CHALLENGE, now: Date.UTC(1601, 0, 1) },
    );
    const read = readNtlmAuthenticate(message)!;
    expect(read).toMatchObject({ user: 'User', domain: 'Domain' });
    expect(hex(read.ntResponse.subarray(0, 16))).toBe('68cd0ab851e51c96aabc927bebef6a1c');
    expect(read.ntResponse.subarray(16)).toEqual(ntlmv2Blob(Buffer.alloc(8), CLIENT_CHALLENGE, TARGET_INFO));
    // The LMv2 response of the same section.
    const raw = Buffer.from(message, 'base64');
    const lm = raw.subarray(raw.readUInt32LE(16), raw.readUInt32LE(16) + raw.readUInt16LE(12));
    expect(hex(lm)).toBe('86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa');
  });

  it('writes a NEGOTIATE message, reads the server\'s CHALLENGE, and answers with a proof only the password gives', () => {
    const negotiate = Buffer.from(ntlmNegotiate(), 'base64');
    expect(negotiate.subarray(0, 8).toString('latin1')).toBe('NTLMSSP\0');
    expect(negotiate.readUInt32LE(8)).toBe(1);

    const challenge = readNtlmChallenge(`Negotiate, ${challengeHeader()}`)!;
    expect(challenge.serverChallenge).toEqual(SERVER_CHALLENGE);
    expect(challenge.targetInfo).toEqual(TARGET_INFO);
    expect(readNtlmChallenge('Basic realm="x"')).toBeUndefined();

    const read = readNtlmAuthenticate(ntlmAuthenticate({ username: 'CONTOSO\\svc-relay', password: 'pässword', challenge }))!;
    expect(read).toMatchObject({ user: 'svc-relay', domain: 'CONTOSO' });
    expect(verifyNtlmv2Response({ ...read, password: 'pässword', serverChallenge: SERVER_CHALLENGE })).toBe(true);
    expect(verifyNtlmv2Response({ ...read, password: 'password', serverChallenge: SERVER_CHALLENGE })).toBe(false);
    expect(verifyNtlmv2Response({ ...read, password: 'pässword', serverChallenge: Buffer.alloc(8) })).toBe(false);
  });

  it('sends no LMv2 response when the server sent its time (MS-NLMP 3.1.5.1.2), and upper-cases the user as Windows does', () => {
    const withTime = Buffer.concat([Buffer.from([0x07, 0x00, 0x08, 0x00]), Buffer.alloc(8, 1), Buffer.alloc(4)]);
    const raw = Buffer.from(ntlmAuthenticate({ username: 'D\\u', password: 'p', challenge: { flags: 0xe28a8215, serverChallenge: SERVER_CHALLENGE, targetInfo: withTime } }), 'base64');
    expect(raw.subarray(raw.readUInt32LE(16), raw.readUInt32LE(16) + raw.readUInt16LE(12))).toEqual(Buffer.alloc(24));
    // One character to one: ß stays ß (JavaScript's toUpperCase would make it SS, and the proof would never match).
    expect(ntowfv2('p', 'straße', 'D')).toEqual(ntowfv2('p', 'STRAßE', 'D'));
    expect(ntowfv2('p', 'straße', 'D')).not.toEqual(ntowfv2('p', 'STRASSE', 'D'));
  });

  it('takes DOMAIN\\user and a UPN, which goes whole with an empty domain', () => {
    expect(ntlmIdentity('CONTOSO\\svc')).toEqual({ user: 'svc', domain: 'CONTOSO' });
    expect(ntlmIdentity('svc@contoso.com')).toEqual({ user: 'svc@contoso.com', domain: '' });
  });
});
