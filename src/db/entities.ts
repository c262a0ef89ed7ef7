import { Team, TeamMember } from '../team/team.entity';
import { Experiment } from '../experiment/experiment.entity';
import { ExperimentTemplate } from '../template/template.entity';
import { TemplatePendingShare } from '../template/template-pending-share.entity';
import { TemplateShare } from '../template/template-share.entity';
import { TemplateVersion } from '../template/template-version.entity';
import { User } from '../user/user.entity';

export const entities = [User, Experiment, ExperimentTemplate, TemplateShare, TemplatePendingShare, TemplateVersion, Team, TeamMember];
