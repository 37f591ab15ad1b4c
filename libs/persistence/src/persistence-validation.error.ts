/**
 * Input that the persistence layer refuses before it touches the database. `field` names the
 * argument or property at fault (`id`, `organizationIds[2]`, `webPush.endpoint`, …); the message
 * never contains a token or key, so it is safe to log.
 */
export class PersistenceValidationError extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
    this.name = 'PersistenceValidationError';
  }
}

/** A registration refused because its user already has the most registrations allowed. */
export class DeviceLimitError extends Error {
  constructor(
    readonly userId: string,
    readonly limit: number,
  ) {
    super(`user ${userId} already has ${limit} registered devices, the most allowed`);
    this.name = 'DeviceLimitError';
  }
}
