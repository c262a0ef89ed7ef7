export enum ErrorCode {
  BadUserInput = 'BAD_USER_INPUT',
  Unauthenticated = 'UNAUTHENTICATED',
  Forbidden = 'FORBIDDEN',
  NotFound = 'NOT_FOUND',
  Conflict = 'CONFLICT',
  /** An operation with a limit of its own (`userByEmail`) was run too often: the request's other fields still run. */
  RateLimited = 'RATE_LIMITED',
}

export interface FieldError {
  /** JSON pointer to the offending field, relative to the operation's input. */
  path: string;
  message: string;
  /**
   * For a problem inside a configuration, its JSON pointer from the configuration's root (`/model/framework`),
   * whichever input carried it (`/configuration/...`, `/overrides/...`, a wizard step's `/value/...`): one field, one
   * pointer, so a wizard maps every configuration error to its form with one rule.
   */
  configurationPointer?: string;
}

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export class ValidationError extends DomainError {
  constructor(
    readonly validationErrors: FieldError[],
    message = 'Invalid input',
  ) {
    super(ErrorCode.BadUserInput, message, { validationErrors });
    this.name = 'ValidationError';
  }

  static at(path: string, message: string): ValidationError {
    return new ValidationError([{ path, message }], message);
  }
}

/**
 * `path`, when given, is the JSON pointer of the argument that named what was not found or is not allowed (`/toUserId`,
 * `/filter/scope`), as `validationErrors` point at fields; it reaches the client as `extensions.path`.
 */
export class NotFoundError extends DomainError {
  constructor(what: string, path?: string) {
    super(ErrorCode.NotFound, `${what} not found`, path === undefined ? {} : { path });
    this.name = 'NotFoundError';
  }
}

export class ForbiddenError extends DomainError {
  constructor(message = 'Only the owner may do this', path?: string) {
    super(ErrorCode.Forbidden, message, path === undefined ? {} : { path });
    this.name = 'ForbiddenError';
  }
}

/** Why a change conflicts with the current state, for clients to act on without reading the message. */
export enum ConflictReason {
  /** `expectedVersion` is not the template's version (`currentVersion`). */
  VersionMismatch = 'VERSION_MISMATCH',
  /** A deactivated template starts no experiment and is cloned by its owner only. */
  TemplateInactive = 'TEMPLATE_INACTIVE',
  /** The experiment's wizard is completed (`currentStatus`): its steps are closed. */
  WizardCompleted = 'WIZARD_COMPLETED',
  /** The experiment's status (`currentStatus`) does not move to the status asked for. */
  StatusTransition = 'STATUS_TRANSITION',
  /** The experiment is queued or running (`currentStatus`): a service's until it ends or is cancelled. */
  ExperimentInProgress = 'EXPERIMENT_IN_PROGRESS',
  /** The change would leave the team without a maintainer: promote another member first, or delete the team. */
  LastMaintainer = 'LAST_MAINTAINER',
  /** Another team already follows this identity provider group (`teamId`). */
  ExternalIdTaken = 'EXTERNAL_ID_TAKEN',
}

export class ConflictError extends DomainError {
  constructor(message: string, reason: ConflictReason, details: Record<string, unknown> = {}) {
    super(ErrorCode.Conflict, message, { ...details, reason });
    this.name = 'ConflictError';
  }
}

export class UnauthenticatedError extends DomainError {
  constructor(message = 'Authentication required') {
    super(ErrorCode.Unauthenticated, message);
    this.name = 'UnauthenticatedError';
  }
}

export class RateLimitedError extends DomainError {
  constructor(scope: string, retryAfterSeconds: number) {
    super(ErrorCode.RateLimited, `Too many requests: retry in ${retryAfterSeconds} s`, { scope, retryAfterSeconds });
    this.name = 'RateLimitedError';
  }
}
