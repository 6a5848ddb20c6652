import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildRelayApp } from '../../infra/app.js';
import { parseDeploymentConfig } from '../../infra/config.js';

/** One entry of cdk.out/validation-report.json. */
export interface ValidationReport {
  pluginReports: Array<{
    pluginName: string;
    conclusion: 'success' | 'failure';
    violations: Array<{ ruleName: string; violatingConstructs?: Array<{ constructPath: string }> }>;
    suppressedViolations: Array<{ ruleName: string; reason: string; violatingConstructs: Array<{ constructPath: string }> }>;
  }>;
}

export interface SynthesizedRelay {
  template: Template;
  /** The raw template, for whole-template checks. */
  json: Record<string, any>;
  report: ValidationReport;
}

/**
 * Synthesizes the real app (cdk-nag plugin included) for one deployment configuration, once per test file: each synth
 * costs seconds. Bundling is skipped (the asset is a placeholder); everything else is what `cdk synth` produces.
 */
export function synthRelay(rawConfig: unknown): SynthesizedRelay {
  const outdir = mkdtempSync(join(tmpdir(), 'relay-synth-'));
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  const [stack] = buildRelayApp(app, parseDeploymentConfig(rawConfig));
  const assembly = app.synth();
  const json = assembly.getStackByName(stack!.stackName).template as Record<string, any>;
  const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as ValidationReport;
  rmSync(outdir, { recursive: true, force: true });
  return { template: Template.fromJSON(json), json, report };
}

/** Resources of one type, by logical id. */
export function resourcesOfType(json: Record<string, any>, type: string): Array<[string, any]> {
  return Object.entries(json.Resources as Record<string, any>).filter(([, resource]) => resource.Type === type);
}

/** The logical id of the single Lambda function whose logical id starts with `prefix`. */
export function functionId(json: Record<string, any>, prefix: string): string {
  const ids = resourcesOfType(json, 'AWS::Lambda::Function').map(([id]) => id).filter((id) => id.startsWith(prefix));
  if (ids.length !== 1) throw new Error(`expected one function ${prefix}*, found ${ids.join(', ') || 'none'}`);
  return ids[0]!;
}

/** The statements of the role of a function, minus the two every function has (own log group, X-Ray). */
export function roleStatements(json: Record<string, any>, fnId: string): Array<{ Action: string | string[]; Resource: unknown; Condition?: unknown }> {
  return allRoleStatements(json, fnId)
    .filter((statement) => !isObservability(statement))
    .map(({ Action, Resource, Condition }) => (Condition === undefined ? { Action, Resource } : { Action, Resource, Condition }));
}

/** The statements `roleStatements` leaves out: those whose every action is `logs:` or `xray:`, as written. */
export function observabilityStatements(json: Record<string, any>, fnId: string): Statement[] {
  return allRoleStatements(json, fnId).filter(isObservability);
}

type Statement = { Action: string | string[]; Resource: unknown; Effect: string; Condition?: unknown };

function allRoleStatements(json: Record<string, any>, fnId: string): Statement[] {
  const roleId = json.Resources[fnId].Properties.Role['Fn::GetAtt'][0] as string;
  const policies = resourcesOfType(json, 'AWS::IAM::Policy').filter(([, policy]) =>
    (policy.Properties.Roles as Array<{ Ref: string }>).some((role) => role.Ref === roleId),
  );
  return policies.flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement as Statement[]);
}

function isObservability(statement: Statement): boolean {
  return [statement.Action].flat().every((action) => action.startsWith('logs:') || action.startsWith('xray:'));
}

/** The one resource of a type (whose logical id starts with `idPrefix`, if given); throws unless there is exactly one. */
export function onlyResource(json: Record<string, any>, type: string, idPrefix = ''): [string, any] {
  const found = resourcesOfType(json, type).filter(([id]) => id.startsWith(idPrefix));
  if (found.length !== 1) throw new Error(`expected one ${type} ${idPrefix}*, found ${found.length}`);
  return found[0]!;
}
