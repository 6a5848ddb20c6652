import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { startLocalService, type LocalService } from '../../infra/local/service.js';
import { AwsCallCounter } from './aws-call-counter.js';
import { captureFleetTemplate, seedFleet, type FleetProtocol, type FleetTemplate, type MailboxAttributes } from './fleet.js';
import { progress, sleep } from './progress.js';

/**
 * The local service (`npm start`'s stack: device API and callback behind the local router, dispatcher behind the SQS
 * poller, dynalite, fauxqs, APNs sandbox) as the benchmarks run it.
 *
 * DynamoDB keeps its data in a temporary directory rather than in memory: dynalite's in-memory store slows down as it
 * grows (it seeds about half as fast at 30,000 items), and the growth runs need 300,000. The supervisor's timer is off,
 * so that its sweeps neither add calls to the counts nor take CPU from the measured paths.
 */

export interface BenchStack {
  service: LocalService;
  counter: AwsCallCounter | undefined;
  template: FleetTemplate;
  /** Salt of this stack's fleet (see fleet.ts). */
  salt: string;
  /** Mailboxes seeded so far: fleet indexes 0 .. seeded - 1. */
  seeded: number;
  /** Seeds members up to `to`; `mailbox` sets attributes of each new member's mailbox item. */
  seed(to: number, mailbox?: MailboxAttributes): Promise<{ seconds: number }>;
  /** Waits until the event queue holds nothing (visible, in flight or delayed); false on timeout. */
  waitForQueueDrained(timeoutMs: number): Promise<boolean>;
  stop(): Promise<void>;
}

/** Far enough ahead that no subscription expires during a run. */
const SUBSCRIPTION_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;

export async function startBenchStack(options: { scope: string; countCalls?: boolean; protocol?: FleetProtocol }): Promise<BenchStack> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'inbox-relay-bench-'));
  const counter = options.countCalls ? new AwsCallCounter() : undefined;
  // Started inside runAs('dispatcher'): the SQS poller's loops inherit that context, and HTTP requests replace it.
  const service = await AwsCallCounter.runAs('dispatcher', () =>
    startLocalService({ port: 0, dataDir, supervisorIntervalMs: 0 }),
  );
  try {
    const tableName = service.backends.tableName;
    const documentClient = service.awsClients.documentClient;
    if (counter) await counter.attach(service.awsClients, tableName);
    const orgToken = await service.orgToken('bench-org');
    const template = await AwsCallCounter.runAs('bench', () =>
      captureFleetTemplate({
        baseUrl: service.baseUrl,
        orgToken,
        documentClient,
        tableName,
        subscriptionExpiresAt: Date.now() + SUBSCRIPTION_LIFETIME_MS,
        ...(options.protocol ? { protocol: options.protocol } : {}),
      }),
    );
    counter?.take();
    const salt = Math.random().toString(36).slice(2, 10);
    const stack: BenchStack = {
      service,
      counter,
      template,
      salt,
      seeded: 0,
      async seed(to, mailbox) {
        if (to <= stack.seeded) return { seconds: 0 };
        const result = await AwsCallCounter.runAs('bench', () =>
          seedFleet({ documentClient, tableName, template, salt, from: stack.seeded, to, scope: options.scope, ...(mailbox ? { mailbox } : {}) }),
        );
        stack.seeded = to;
        return { seconds: result.seconds };
      },
      async waitForQueueDrained(timeoutMs) {
        const deadline = performance.now() + timeoutMs;
        while (performance.now() < deadline) {
          const { Attributes: attributes = {} } = await AwsCallCounter.runAs('bench', () =>
            service.awsClients.sqs.send(
              new GetQueueAttributesCommand({
                QueueUrl: service.backends.eventQueueUrl,
                AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
              }),
            ),
          );
          const depth = Object.values(attributes).reduce((sum, value) => sum + Number(value ?? 0), 0);
          if (depth === 0) return true;
          await sleep(20);
        }
        return false;
      },
      async stop() {
        // Requests the load generator gave up on may still be running in the service: let them finish before the
        // backends close under them (dynalite throws on a closed database).
        await stack.waitForQueueDrained(10_000);
        await sleep(300);
        counter?.detach();
        await service.stop();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
    return stack;
  } catch (error) {
    await service.stop().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
    progress(options.scope, 'could not start the local stack');
    throw error;
  }
}
