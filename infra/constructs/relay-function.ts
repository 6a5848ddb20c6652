import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssetHashType, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { buildSync } from 'esbuild';
import { functionBundleOptions } from './function-bundle.js';
import { acknowledge } from './nag.js';

/** The repository root: entries are given relative to it. */
export const REPOSITORY_ROOT = fileURLToPath(new URL('../../', import.meta.url));


export interface RelayFunctionProps {
  /** The handler file, relative to the repository root (e.g. `functions/dispatcher/handler.ts`); it exports `handler`. */
  readonly entry: string;
  /** What the function does, shown in the console. */
  readonly description: string;
  /** Days CloudWatch Logs keeps the function's log. */
  readonly logRetention: logs.RetentionDays;
  /** Kept when the stack is deleted (production). @default false */
  readonly retainLogs?: boolean;
  /** `POWERTOOLS_LOG_LEVEL` and Lambda's application log level. @default 'INFO' */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** @default 256 */
  readonly memorySize?: number;
  /** @default Duration.seconds(10) */
  readonly timeout?: Duration;
  /** Concurrency reserved for the function, which also caps it. @default - none, the account's unreserved pool */
  readonly reservedConcurrentExecutions?: number;
}

/**
 * The project's one way to make a Lambda function: Node.js 22 on arm64, X-Ray tracing, JSON logs into a log group
 * with retention, an ESM bundle built by the local esbuild (never Docker) that leaves the AWS SDK v3 to the runtime and
 * is split into chunks, so that what a function imports lazily stays out of its cold start (function-bundle.ts), and a
 * role that may write only its own log group. Resource constructs add environment variables and grants.
 */
export class RelayFunction extends Construct {
  readonly function: lambda.Function;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: RelayFunctionProps) {
    super(scope, id);
    const logLevel = props.logLevel ?? 'INFO';

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.retainLogs ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });

    // Our own role instead of the AWSLambdaBasicExecutionRole managed policy, which may create and write any log group.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.description} (inbox-relay function role)`,
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    const entry = `${REPOSITORY_ROOT}${props.entry}`;
    this.function = new lambda.Function(this, 'Handler', {
      // esbuild's own code splitting, which NodejsFunction's single-file bundling cannot do; built locally, never in
      // Docker (the image is only the fallback CDK's type requires). The asset's hash is that of what was built.
      code: lambda.Code.fromAsset(dirname(entry), {
        assetHashType: AssetHashType.OUTPUT,
        bundling: {
          image: lambda.Runtime.NODEJS_22_X.bundlingImage,
          local: {
            tryBundle(outputDir) {
              buildSync(functionBundleOptions(entry, outputDir));
              return true;
            },
          },
        },
      }),
      handler: 'index.handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(10),
      ...(props.reservedConcurrentExecutions === undefined ? {} : { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
      role: this.role,
      tracing: lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel[logLevel],
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      environment: {
        POWERTOOLS_LOG_LEVEL: logLevel,
        // Without it Node ignores the bundle's source maps and error stacks point into minified code.
        NODE_OPTIONS: '--enable-source-maps',
      },
    });

    acknowledge(
      this,
      'AwsSolutions-L1',
      'Node.js 22 is the runtime the project targets and tests against (issue 3) and a supported Lambda runtime; moving to 24 is a deliberate upgrade, not a lint fix.',
    );
    acknowledge(
      this.role,
      'AwsSolutions-IAM5',
      'X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level permissions, so active tracing needs Resource "*".',
      ['Resource::*'],
    );
  }

  addEnvironment(name: string, value: string): void {
    this.function.addEnvironment(name, value);
  }

  /** Adds statements to the function's role; every grant in the project goes through here or a resource's grant. */
  addToRolePolicy(statement: iam.PolicyStatement): void {
    this.role.addToPolicy(statement);
  }
}
