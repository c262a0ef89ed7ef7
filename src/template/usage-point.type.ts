import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import { UsageBucket, type UsagePoint as Point } from './template-usage';

registerEnumType(UsageBucket, {
  name: 'UsageBucket',
  description: 'How a usage series groups days, in UTC',
  valuesConfig: {
    DAY: { description: 'One UTC day' },
    WEEK: { description: 'An ISO week, Monday to Sunday' },
    MONTH: { description: 'A calendar month' },
  },
});

@ObjectType({ description: 'Experiments created from a template in one bucket of a usage series', simpleResolvers: true })
export class UsagePoint implements Point {
  @Field(() => String, { description: "The bucket's first day (YYYY-MM-DD), which may lie before the range's `from`" })
  start!: string;

  @Field(() => Int, { description: 'Experiments created from the template on the days of the bucket within the range; 0 when none' })
  experiments!: number;
}
