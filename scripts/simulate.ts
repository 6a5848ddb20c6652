import { parseArgs } from 'node:util';
import { runSimulation } from './simulator/run-simulation.js';
import { formatSummary } from './simulator/summary.js';

/**
 * `npm run simulate`: plays N devices (through the client library) and their Exchange server against the relay, then
 * prints what reached APNs and why anything did not. Progress goes to stderr, the summary to stdout; the exit code
 * is 1 when one of the simulation's own expectations failed, 2 when it could not run.
 */

const USAGE = `usage: npm run simulate -- [--devices N] [--seed S] [--url BASE --org-token TOKEN]

  --devices N        devices to play, each with a primary and 0-2 delegated mailboxes (default 20)
  --seed S           replay the same devices and traffic (default: random, printed in the summary)
  --url BASE         drive a running relay (npm start) instead of starting one in-process
  --org-token TOKEN  organization token for --url (npm run org-token -- <orgId>)`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        devices: { type: 'string' },
        seed: { type: 'string' },
        url: { type: 'string' },
        'org-token': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const devices = values.devices === undefined ? 20 : Number(values.devices);
  if (!Number.isInteger(devices) || devices < 1 || devices > 5000) {
    console.error(`--devices must be a whole number from 1 to 5000, got "${values.devices}"\n\n${USAGE}`);
    return 2;
  }
  if (values.url && !values['org-token']) {
    console.error(`--url needs --org-token (npm run org-token -- <orgId> prints one)\n\n${USAGE}`);
    return 2;
  }

  const report = await runSimulation({
    devices,
    ...(values.seed === undefined ? {} : { seed: values.seed }),
    ...(values.url === undefined ? {} : { url: values.url, orgToken: values['org-token'] }),
    progress: (line) => console.error(line),
  });
  console.log(formatSummary(report));
  return report.ok ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`the simulation could not run: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
  },
);
