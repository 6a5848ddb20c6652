import { readFileSync, readdirSync } from 'node:fs';
import { sendNotificationEnvelope } from '../../../scripts/simulator/ews-messages.js';

/** The shared sample corpus lives beside the repository (test/corpus, vendored from the public samples; SOURCES.md names each), locally and in CI. */
export const CORPUS_DIR = new URL('../../corpus/ews/', import.meta.url);
const FIXTURES_DIR = new URL('./fixtures/', import.meta.url);

export function corpusFileNames(): string[] {
  return readdirSync(CORPUS_DIR).filter((name) => name !== 'SOURCES.md').sort();
}

/** Corpus files as the exact bytes a callback would receive. */
export function corpusBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(name, CORPUS_DIR)));
}

export function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(name, FIXTURES_DIR)));
}

export function fixtureText(name: string): string {
  return readFileSync(new URL(name, FIXTURES_DIR), 'utf8');
}

export { MESSAGES_NS, SOAP_NS, TYPES_NS } from '../../../scripts/simulator/ews-messages.js';

/** A SendNotification body around the given Notification content (children of `m:Notification`), by the one writer. */
export function sendNotificationBody(notificationContent: string, notificationTag = 'm:Notification'): string {
  return sendNotificationEnvelope([notificationContent], { notificationTag });
}

export { thrownBy } from '../../support/thrown.js';
