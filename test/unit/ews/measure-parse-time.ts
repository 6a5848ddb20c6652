/**
 * One-off measurement, not a test: median time to parse EWS bodies already in memory.
 * Run: npx tsx test/unit/ews/measure-parse-time.ts
 */
import { parseSendNotification, parseSubscribeResponse } from '../../../shared/ews/index.js';
import { corpusBytes, fixtureBytes } from './ews-test-support.js';

const ITERATIONS = 20_000;

function measure(name: string, body: Uint8Array, parse: (body: Uint8Array) => unknown): void {
  for (let i = 0; i < 2_000; i++) parse(body); // let the JIT settle first
  const micros: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const start = performance.now();
    parse(body);
    micros.push((performance.now() - start) * 1000);
  }
  micros.sort((a, b) => a - b);
  const at = (q: number) => (micros[Math.floor(micros.length * q)] ?? 0).toFixed(1);
  console.log(`${name} (${body.byteLength} B): median ${at(0.5)} µs, p99 ${at(0.99)} µs over ${ITERATIONS} runs`);
}

measure('typical NewMail push', fixtureBytes('synthetic-sendnotification-typical-newmail.xml'), parseSendNotification);
measure('WorkMail ModifiedEvent push', corpusBytes('workmail-sendnotification-modifiedevent-folder-no-xmldecl.xml'), parseSendNotification);
measure('7-event push', fixtureBytes('synthetic-sendnotification-mixed-events.xml'), parseSendNotification);
measure('Subscribe response', corpusBytes('workmail-subscribe-push-response-unprefixed-soap-header.xml'), parseSubscribeResponse);
