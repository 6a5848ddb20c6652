import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CONTEXT_KEY, parseDeploymentConfig, withAlarmDestination, type DeploymentConfig } from './config.js';
import { RelayStack } from './stacks/relay-stack.js';

/**
 * The CDK app: one RelayStack per configured region, checked by cdk-nag's AwsSolutions rules on every synth (an
 * unacknowledged finding fails the synth).
 */
export function buildRelayApp(app: App, config: DeploymentConfig = configFromContext(app)): RelayStack[] {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return config.regions.map(
    (regionConfig) =>
      new RelayStack(app, `InboxRelay-${regionConfig.region}`, {
        // No account unless configured: `cdk synth` needs no credentials, `cdk deploy` uses the caller's account.
        env: { region: regionConfig.region, ...(config.account ? { account: config.account } : {}) },
        description: `inbox-relay real-time push relay (${regionConfig.region})`,
        config,
        regionConfig,
      }),
  );
}

function configFromContext(app: App): DeploymentConfig {
  const context = { alarmEmail: app.node.tryGetContext('alarmEmail'), alarmTopicArn: app.node.tryGetContext('alarmTopicArn') };
  return parseDeploymentConfig(withAlarmDestination(app.node.tryGetContext(CONTEXT_KEY), context));
}

// Synthesize when run as the CDK app (cdk.json), not when a test imports this module.
if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const app = new App();
  let config: DeploymentConfig | undefined;
  try {
    config = configFromContext(app);
  } catch (error) {
    // The message names every bad field; a stack trace after it would only bury it.
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
  if (config) {
    buildRelayApp(app, config);
    app.synth();
  }
}
