/** A value that entered Herald does not match its contract. `path` names the field at fault. */
export class ValidationError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(path ? `${path}: ${problem}` : problem);
    this.name = 'ValidationError';
  }
}
