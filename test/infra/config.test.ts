import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import cdkJson from '../../cdk.json' with { type: 'json' };
import { buildRelayApp } from '../../infra/app.js';
import { callbackEndpointOf, parseDeploymentConfig, withAlarmDestination } from '../../infra/config.js';
import packageJson from '../../package.json' with { type: 'json' };

const minimal = { regions: [{ region: 'eu-west-1' }], production: true, bundleId: 'com.example.mail', alarms: { email: 'oncall@example.com' } };

describe('callbackEndpoint', () => {
  const customDomain = { domainName: 'relay.example.com', certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666' };

  it('receives callbacks on the function URL where Lambda offers them, else on the API', () => {
    expect(callbackEndpointOf(parseDeploymentConfig(minimal), { region: 'eu-west-1' })).toBe('function-url');
    expect(callbackEndpointOf(parseDeploymentConfig({ ...minimal, regions: [{ region: 'eu-central-2' }] }), { region: 'eu-central-2' })).toBe('api');
  });

  it('does what the configuration says', () => {
    expect(callbackEndpointOf(parseDeploymentConfig({ ...minimal, callbackEndpoint: 'api' }), { region: 'eu-west-1' })).toBe('api');
    const onDomain = parseDeploymentConfig({ ...minimal, regions: [{ region: 'eu-west-1', customDomain }], callbackEndpoint: 'function-url' });
    expect(callbackEndpointOf(onDomain, { region: 'eu-west-1' })).toBe('function-url');
  });

  it('makes a deployment with a custom domain choose, so that neither an upgrade nor a domain added later moves callbacks unasked', () => {
    expect(() => parseDeploymentConfig({ ...minimal, regions: [{ region: 'eu-west-1' }, { region: 'us-east-1', customDomain }] })).toThrow(
      /callbackEndpoint: us-east-1 has a customDomain: say where mail servers' callbacks go, "api" to keep newly minted callback URLs on relay\.example\.com/,
    );
    expect(() => parseDeploymentConfig({ ...minimal, regions: [{ region: 'us-east-1', customDomain }], callbackEndpoint: 'api' })).not.toThrow();
  });

  it('refuses a function URL in a region that has none', () => {
    expect(() => parseDeploymentConfig({ ...minimal, regions: [{ region: 'il-central-1' }], callbackEndpoint: 'function-url' })).toThrow(
      /callbackEndpoint: Lambda offers no function URLs in il-central-1: use "api"/,
    );
  });
});

describe('parseDeploymentConfig', () => {
  it('fills the documented defaults', () => {
    expect(parseDeploymentConfig(minimal)).toEqual({
      ...minimal,
      pushGateway: 'sns',
      secrets: { orgTokenSecretName: 'inbox-relay/org-token', apnsCredentialsSecretName: 'inbox-relay/apns-credentials', adminTokenSecretName: 'inbox-relay/admin-token' },
      apnsCredentialsRevision: 1,
      logRetentionDays: 30,
      logLevel: 'INFO',
      apiThrottle: { rateLimit: 200, burstLimit: 400 },
      callbackThrottle: { rateLimit: 100, burstLimit: 200 },
      callbackReservedConcurrency: 50,
      maxDevicesPerOrg: 10_000,
      docsBaseUrl: 'https://github.com/inbox-relay/inbox-relay/blob/main/docs/operations.md',
      dispatcherMaxConcurrency: 20,
    });
  });

  it('accepts the configuration shipped in cdk.json with the alarm destination `npm run synth` passes (-c alarmEmail)', () => {
    expect(() => parseDeploymentConfig(withAlarmDestination(cdkJson.context.relay, { alarmEmail: 'alarms@example.com' }))).not.toThrow();
    expect(packageJson.scripts.synth).toContain('-c alarmEmail=');
  });

  it('refuses to synthesize without an alarm destination, saying how to give one', () => {
    const { alarms: _alarms, ...withoutAlarms } = minimal;
    expect(() => parseDeploymentConfig(withoutAlarms)).toThrow(/no alarm destination[\s\S]*-c alarmEmail=<address>[\s\S]*-c alarmTopicArn=<SNS topic ARN>/);
    expect(() => parseDeploymentConfig(cdkJson.context.relay)).toThrow(/no alarm destination/);
  });

  it('takes the alarm destination from the command line over cdk.json, and checks it', () => {
    expect(parseDeploymentConfig(withAlarmDestination(minimal, { alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:pager' })).alarms).toEqual({
      topicArn: 'arn:aws:sns:eu-west-1:123456789012:pager',
    });
    expect(parseDeploymentConfig(withAlarmDestination(minimal, { alarmEmail: 'pager@example.com' })).alarms).toEqual({ email: 'pager@example.com' });
    expect(() => parseDeploymentConfig(withAlarmDestination(minimal, { alarmEmail: 'not an address' }))).toThrow(/relay\.alarms/);
  });

  it('ships a trial configuration: with its example bundle id it is not production, so cdk destroy keeps nothing', () => {
    expect(cdkJson.context.relay.bundleId).toMatch(/^com\.example\./);
    expect(cdkJson.context.relay.production).toBe(false);
  });

  it('names every problem by its path under "relay"', () => {
    expect(() =>
      parseDeploymentConfig({
        ...minimal,
        regions: [{ region: 'eu-west-1' }, { region: 'Frankfurt' }],
        bundleId: 'mail',
        logRetentionDays: 10,
        production: undefined,
        colour: 'blue',
      }),
    ).toThrow(
      expect.objectContaining({
        message: expect.stringMatching(
          /relay\.regions\.1\.region: must be an AWS region[\s\S]*relay\.production[\s\S]*relay\.bundleId[\s\S]*relay\.logRetentionDays[\s\S]*Unrecognized key: "colour"/,
        ),
      }),
    );
  });

  it('refuses a region listed twice', () => {
    expect(() => parseDeploymentConfig({ ...minimal, regions: [{ region: 'eu-west-1' }, { region: 'eu-west-1' }] })).toThrow(
      /relay\.regions\.1\.region: eu-west-1 is listed twice/,
    );
  });

  it('explains a missing context instead of synthesizing nothing', () => {
    expect(() => parseDeploymentConfig(undefined)).toThrow(/cdk.json has no "relay" context/);
  });
});

describe('the CDK app (cdk synth)', () => {
  it('prints a bad configuration\'s problems and exits 1, without a stack trace after them', async () => {
    const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
    const bad = { relay: { ...minimal, bundleId: 'mail', colour: 'blue' } };
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, ['--import', 'tsx', 'infra/app.ts'], {
        cwd: repo,
        // How the CDK CLI hands cdk.json's context to the app.
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CDK_CONTEXT_JSON: JSON.stringify(bad), CDK_OUTDIR: '/nonexistent' },
      }, (_error, _stdout, err) => resolve({ code: child.exitCode, stderr: err }));
    });
    expect(code).toBe(1);
    expect(stderr).toContain('relay.bundleId: must be a bundle id');
    expect(stderr).toContain('Unrecognized key: "colour"');
    expect(stderr).not.toMatch(/^\s+at /m);
  }, 60_000);
});

describe('buildRelayApp', () => {
  it('builds one stack per region, pinned to that region, and to the account only when configured', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stacks = buildRelayApp(app, parseDeploymentConfig({ ...minimal, regions: [{ region: 'eu-west-1' }, { region: 'us-east-1' }] }));

    expect(stacks.map((stack) => [stack.stackName, stack.region])).toEqual([
      ['InboxRelay-eu-west-1', 'eu-west-1'],
      ['InboxRelay-us-east-1', 'us-east-1'],
    ]);
    expect(stacks[0]!.resolve(stacks[0]!.account)).toEqual({ Ref: 'AWS::AccountId' });
  });

  it('refuses a secret name that would make its partial ARN ambiguous', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    expect(() =>
      buildRelayApp(app, parseDeploymentConfig({ ...minimal, secrets: { orgTokenSecretName: 'relay/org-abcdef' } })),
    ).toThrow(/must not end in a hyphen and six characters/);
  });
});
