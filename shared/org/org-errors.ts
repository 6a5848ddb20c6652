import { RelayError } from '../errors.js';

/** Typed errors of organization mode; `functions/_lib/http-errors.ts` maps them to answers. */

/** No organization-mode configuration for this org. Maps to 404. */
export class OrgNotFoundError extends RelayError {
  readonly code = 'org_not_found';
  constructor() {
    super('this organization is not in organization mode');
  }
}

/** A device sent organization-mode fields while its org is in the default mode. Maps to 400. */
export class OrganizationModeOffError extends RelayError {
  readonly code = 'organization_mode_off';
  constructor(readonly fields: string[]) {
    super(`${fields.join(', ')}: only accepted in organization mode; this organization is in the default mode`);
  }
}

/** `managedBy: "relay"` without an `address`. Maps to 400. */
export class AddressRequiredError extends RelayError {
  readonly code = 'address_required';
  constructor() {
    super('a mailbox managed by the relay needs its address (with addressProof)');
  }
}

/**
 * The device did not prove it can read the mailbox: no or a wrong `addressProof`, a message of another mailbox or
 * folder, or one older than 30 days. Maps to 403. Says nothing about which, so it cannot be used to probe mailboxes.
 */
export class AddressNotProvenError extends RelayError {
  readonly code = 'address_not_proven';
  constructor() {
    super('addressProof must name a message received in the last 30 days in the inbox of that address');
  }
}

/** The mail server could not be asked (timeout, outage) while proving an address. Maps to 503; safe to retry. */
export class MailServerUnavailableError extends RelayError {
  readonly code = 'mail_server_unavailable';
  constructor(options?: { cause?: unknown }) {
    super("the organization's mail server did not answer; try again later", options);
  }
}
