import { Team, TeamMember } from '../team/team.entity';
import { Experiment } from '../experiment/experiment.entity';
import { ExperimentTemplate } from '../template/template.entity';
import { TemplateShare } from '../template/template-share.entity';
import { TemplateVersion } from '../template/template-version.entity';
import { User } from '../user/user.entity';

export const entities = [User, Experiment, ExperimentTemplate, TemplateShare, TemplateVersion, Team, TeamMember];
