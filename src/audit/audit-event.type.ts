import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLJSONObject } from '../graphql/json-object.scalar';
import type { AuditDetails } from './audit-log';
import { AuditAction, AuditActorKind, AuditSubjectType } from './audit-action';

registerEnumType(AuditAction, {
  name: 'AuditAction',
  description: 'What an audit event records; stored as `<subject type>.<what happened>`, e.g. `template.shared`',
  valuesConfig: {
    TEMPLATE_CREATED: { description: 'details: `name`' },
    TEMPLATE_CLONED: { description: 'A template made as a copy; details: `name`, `sourceTemplateId`, `sourceVersion`' },
    TEMPLATE_IMPORTED: {
      description: 'A template made from a portable document; details: `name`, `documentSource` (what the document claims it came from)',
    },
    TEMPLATE_UPDATED: {
      description:
        'Content changed (`upgradeTemplateSchema` too): details `fromVersion`, `toVersion`, `changed` (content fields, and `configurationSchemaVersion` when it rose), and `configurationSchemaUpgrade` (`from`, `to`) when the version moved to a newer configuration schema',
    },
    TEMPLATE_REVERTED: { description: 'An old version written as the next one: details as updated, and `restoredVersion`' },
    TEMPLATE_SHARED: {
      description:
        'details: `userIds`, the users it was not yet shared with (named by id or by email); when the call named emails, also `emails` (those that named a user among them) and `pendingEmails` (those nobody holds yet: pending shares made); or `teamIds`, the teams it was not yet shared with',
    },
    TEMPLATE_UNSHARED: {
      description:
        'details: `userIds`, the users it was shared with until then; when the call named emails, also `emails` (those that named a user among them) and `pendingEmails` (pending shares withdrawn); or `teamIds`, the teams it was shared with until then',
    },
    TEMPLATE_PENDING_SHARE_CLAIMED: {
      description:
        'A pending share became a share when a user holding its address (trusted: see REQUIRE_EMAIL_VERIFIED) signed in for the first time with it. The actor is that user (kind USER): they caused it by signing in. details: `email`, `userId`',
    },
    TEMPLATE_TRANSFERRED: { description: 'A new owner; details: `from`, `to` (user ids)' },
    TEMPLATE_DELETED: { description: 'details: `name`, `version` (its versions and shares were deleted with it)' },
    EXPERIMENT_CREATED: { description: 'details: `name`, `templateId` and `templateVersion` (null from scratch)' },
    EXPERIMENT_WIZARD_SAVED: {
      description: 'details: `wizardStepCompleted`, `changed` (`wizardStepCompleted`, `wizardState`, `configuration/<section>`)',
    },
    EXPERIMENT_STATUS_CHANGED: {
      description:
        'details: `from`, `to`; and `wizardCompleted` when completing the wizard queued a draft. A service starting, completing or ' +
        'failing a run, the owner or staff cancelling it (actorKind STAFF for staff)',
    },
    EXPERIMENT_WIZARD_COMPLETED: { description: 'The wizard completed on an experiment whose status it left alone; details: `status`' },
    EXPERIMENT_ANALYSIS_WRITTEN: { description: 'details: `changed`, the analysis fields that changed' },
    EXPERIMENT_TRAINING_TIME_RECORDED: { description: 'details: `from`, `to` (seconds)' },
    EXPERIMENT_UPDATED: { description: 'Renamed or described anew by its owner; details: `changed` (`name`, `description`)' },
    EXPERIMENT_DELETED: {
      description: "details: `name`, `status`, `templateId`; the template's usage count stays (it counts experiments created)",
    },
    TEAM_CREATED: { description: 'details: `name` (its creator is its first maintainer)' },
    TEAM_RENAMED: { description: 'details: `from`, `to`' },
    TEAM_MEMBERS_ADDED: {
      description:
        "details: `userIds`, the users who were not yet members, `role`; `viaTeamsClaim` when the token's group claim added them",
    },
    TEAM_MEMBERS_REMOVED: {
      description: 'details: `userIds`, the members removed (a member leaving removes themselves); `viaTeamsClaim` as for added',
    },
    TEAM_MEMBER_ROLE_CHANGED: { description: 'details: `userId`, `from`, `to` (roles as stored: `member`, `maintainer`)' },
    TEAM_EXTERNAL_ID_CHANGED: { description: "By staff: the identity provider's group the team follows; details: `from`, `to`" },
    TEAM_DELETED: { description: 'details: `name`, `memberCount` (its members and template shares were deleted with it)' },
  },
});

registerEnumType(AuditActorKind, {
  name: 'AuditActorKind',
  description: 'How the actor acted: as a user, with a service token, or as staff (a token holding the staff role, `STAFF_ROLE`)',
});

registerEnumType(AuditSubjectType, { name: 'AuditSubjectType', description: 'What an audit event is about' });

/** One change, as the audit trail keeps it: immutable, and kept after its subject is deleted. */
@ObjectType('AuditEvent', { description: 'One change: who made it, how, when, under which request, to what', simpleResolvers: true })
export class AuditEvent {
  @Field(() => ID)
  id!: string;

  @Field(() => AuditAction)
  action!: AuditAction;

  @Field(() => AuditActorKind)
  actorKind!: AuditActorKind;

  @Field(() => AuditSubjectType)
  subjectType!: AuditSubjectType;

  @Field(() => ID, { description: 'The id of the template, experiment or team, which may since have been deleted' })
  subjectId!: string;

  @Field(() => String, { description: 'The id of the request that made the change, as the server logged it' })
  requestId!: string;

  @Field(() => GraphQLJSONObject, { description: 'What changed, by action (see AuditAction)' })
  details!: AuditDetails;

  @Field(() => Date)
  occurredAt!: Date;
}
