import { registerEnumType } from 'type-graphql';

/** A member's role in a team, as stored. Maintainers manage the team; every team keeps at least one. */
export enum TeamRole {
  MEMBER = 'member',
  MAINTAINER = 'maintainer',
}

registerEnumType(TeamRole, {
  name: 'TeamRole',
  description: 'A MAINTAINER renames the team, adds and removes members and changes roles; a team keeps at least one',
});
