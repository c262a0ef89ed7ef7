import { isService, isStaff, type Actor } from '../auth/actor';

/** What an event is about. */
export enum AuditSubjectType {
  TEMPLATE = 'template',
  EXPERIMENT = 'experiment',
  TEAM = 'team',
}

/**
 * Every action the audit trail records, as stored: `<subject type>.<what happened>`. The one list: a feature that
 * changes something adds its action here, and the database takes any name of that shape without a migration.
 */
export enum AuditAction {
  TEMPLATE_CREATED = 'template.created',
  TEMPLATE_CLONED = 'template.cloned',
  TEMPLATE_IMPORTED = 'template.imported',
  TEMPLATE_UPDATED = 'template.updated',
  TEMPLATE_REVERTED = 'template.reverted',
  TEMPLATE_SHARED = 'template.shared',
  TEMPLATE_UNSHARED = 'template.unshared',
  TEMPLATE_PENDING_SHARE_CLAIMED = 'template.pending_share_claimed',
  TEMPLATE_PUBLISHED = 'template.published',
  TEMPLATE_UNPUBLISHED = 'template.unpublished',
  TEMPLATE_DEACTIVATED = 'template.deactivated',
  TEMPLATE_REACTIVATED = 'template.reactivated',
  TEMPLATE_TRANSFERRED = 'template.transferred',
  TEMPLATE_DELETED = 'template.deleted',
  EXPERIMENT_CREATED = 'experiment.created',
  EXPERIMENT_WIZARD_SAVED = 'experiment.wizard_saved',
  EXPERIMENT_STATUS_CHANGED = 'experiment.status_changed',
  EXPERIMENT_WIZARD_COMPLETED = 'experiment.wizard_completed',
  EXPERIMENT_ANALYSIS_WRITTEN = 'experiment.analysis_written',
  EXPERIMENT_TRAINING_TIME_RECORDED = 'experiment.training_time_recorded',
  EXPERIMENT_UPDATED = 'experiment.updated',
  EXPERIMENT_DELETED = 'experiment.deleted',
  TEAM_CREATED = 'team.created',
  TEAM_RENAMED = 'team.renamed',
  TEAM_MEMBERS_ADDED = 'team.members_added',
  TEAM_MEMBERS_REMOVED = 'team.members_removed',
  TEAM_MEMBER_ROLE_CHANGED = 'team.member_role_changed',
  TEAM_EXTERNAL_ID_CHANGED = 'team.external_id_changed',
  TEAM_DELETED = 'team.deleted',
}

export const AUDIT_ACTIONS: readonly AuditAction[] = Object.values(AuditAction);

export function subjectTypeOf(action: AuditAction): AuditSubjectType {
  return action.slice(0, action.indexOf('.')) as AuditSubjectType;
}

/** Who acted, as the token said: staff and services act under their own user rows, with a role. */
export enum AuditActorKind {
  USER = 'user',
  SERVICE = 'service',
  STAFF = 'staff',
}

/** Staff first: a token with both roles acts with the wider powers. */
export function actorKindOf(actor: Actor): AuditActorKind {
  if (isStaff(actor)) return AuditActorKind.STAFF;
  if (isService(actor)) return AuditActorKind.SERVICE;
  return AuditActorKind.USER;
}
