import {
  CreatePlatformEndpointCommand,
  DeleteEndpointCommand,
  GetEndpointAttributesCommand,
  SetEndpointAttributesCommand,
  type SNSClient,
} from '@aws-sdk/client-sns';
import type { ApnsEnvironment } from '../../../shared/device/device-schemas.js';
import { DependencyUnavailableError } from '../../../shared/errors.js';
import type { PushEndpointRegistry } from '../../../shared/push/push-gateway.js';
import { classifySnsError } from './sns-errors.js';

/**
 * SNS platform endpoints, one per device token, made when a device registers or changes its token so that the
 * dispatcher only ever publishes. Follows AWS's recommended registration algorithm (create, then get, then set the
 * token and `Enabled=true` when they differ), because a blind CreatePlatformEndpoint hands back an existing endpoint
 * still disabled.
 *
 * The endpoint's CustomUserData is the device id and nothing else: the feedback function maps a disabled endpoint back
 * to its device with it, and SNS must not hold who the user is.
 */

export interface SnsEndpointRegistryOptions {
  /** Platform application per APNs environment; a device of an environment without one cannot register. */
  platformApplicationArns: Partial<Record<ApnsEnvironment, string>>;
}

/** What an endpoint says about itself; the sns-feedback function reads it. */
export interface EndpointDescription {
  enabled: boolean;
  token: string | undefined;
  /** CustomUserData: the device id written at registration. */
  deviceId: string | undefined;
}

/** The register-target of the port, named for readability. */
type RegisterTarget = Parameters<PushEndpointRegistry['register']>[0];

/** SNS's answer when the token already has an endpoint whose attributes (CustomUserData, Enabled) differ. */
const ALREADY_EXISTS = /Endpoint (arn:[^\s]+) already exists with the same [Tt]oken, but different attributes/;

export class SnsEndpointRegistry implements PushEndpointRegistry {
  constructor(
    private readonly sns: SNSClient,
    private readonly options: SnsEndpointRegistryOptions,
  ) {}

  /**
   * Returns an enabled endpoint that holds the target's token and device id. Reuses `target.endpointArn` when it still
   * exists in the environment's platform application; otherwise creates (or adopts) one and deletes the endpoint of
   * the environment the device left. Throttling and 5xx answers throw `DependencyUnavailableError` (a 503 for the
   * device, which registers again).
   */
  async register(target: RegisterTarget): Promise<string> {
    const applicationArn = this.options.platformApplicationArns[target.environment];
    if (!applicationArn) {
      throw new Error(`no SNS platform application is configured for the APNs ${target.environment} environment`);
    }
    return this.call(async () => {
      let endpointArn = target.endpointArn;
      if (endpointArn !== undefined && !belongsTo(endpointArn, applicationArn)) {
        // The device switched APNs environment: its old endpoint can never deliver to the new one.
        await this.deleteQuietly(endpointArn);
        endpointArn = undefined;
      }
      endpointArn ??= await this.create(applicationArn, target);
      let current = await this.describe(endpointArn);
      if (current === undefined) {
        // Deleted behind our back (by an operator, or a racing unregister): make a new one.
        endpointArn = await this.create(applicationArn, target);
        current = await this.describe(endpointArn);
        if (current === undefined) throw new Error('the platform endpoint vanished right after it was created');
      }
      if (!current.enabled || current.token !== target.pushToken || current.deviceId !== target.deviceId) {
        await this.sns.send(
          new SetEndpointAttributesCommand({
            EndpointArn: endpointArn,
            Attributes: { Token: target.pushToken, Enabled: 'true', CustomUserData: target.deviceId },
          }),
        );
      }
      return endpointArn;
    });
  }

  /** Deletes the endpoint; one that is already gone counts as deleted. */
  async unregister(endpointArn: string): Promise<void> {
    await this.call(() => this.deleteQuietly(endpointArn));
  }

  /** The endpoint's state, or undefined when it does not exist. */
  async describe(endpointArn: string): Promise<EndpointDescription | undefined> {
    try {
      const { Attributes: attributes = {} } = await this.sns.send(new GetEndpointAttributesCommand({ EndpointArn: endpointArn }));
      return {
        enabled: attributes.Enabled === 'true',
        token: attributes.Token,
        deviceId: attributes.CustomUserData || undefined,
      };
    } catch (error) {
      if (classifySnsError(error).kind === 'not-found') return undefined;
      throw error;
    }
  }

  private async create(applicationArn: string, target: RegisterTarget): Promise<string> {
    try {
      const { EndpointArn } = await this.sns.send(
        new CreatePlatformEndpointCommand({
          PlatformApplicationArn: applicationArn,
          Token: target.pushToken,
          CustomUserData: target.deviceId,
        }),
      );
      if (!EndpointArn) throw new Error('CreatePlatformEndpoint answered without an EndpointArn');
      return EndpointArn;
    } catch (error) {
      const existing = existingEndpointArn(error);
      if (existing !== undefined) return existing;
      throw error;
    }
  }

  private async deleteQuietly(endpointArn: string): Promise<void> {
    try {
      await this.sns.send(new DeleteEndpointCommand({ EndpointArn: endpointArn }));
    } catch (error) {
      if (classifySnsError(error).kind !== 'not-found') throw error;
    }
  }

  private async call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (classifySnsError(error).kind === 'retryable') {
        throw new DependencyUnavailableError('the push endpoint service is unavailable; try again', { cause: error });
      }
      throw error;
    }
  }
}

/** The ARN in SNS's "already exists with the same Token, but different attributes" answer, if that is the error. */
export function existingEndpointArn(error: unknown): string | undefined {
  const verdict = classifySnsError(error);
  if (verdict.kind !== 'client-error' || verdict.reason !== 'InvalidParameter') return undefined;
  const message = (error as { message?: unknown }).message;
  return typeof message === 'string' ? ALREADY_EXISTS.exec(message)?.[1] : undefined;
}

/** `arn:...:endpoint/APNS/<app>/<id>` belongs to `arn:...:app/APNS/<app>`. */
function belongsTo(endpointArn: string, applicationArn: string): boolean {
  return endpointArn.startsWith(`${applicationArn.replace(':app/', ':endpoint/')}/`);
}
