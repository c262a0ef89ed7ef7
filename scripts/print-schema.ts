import 'reflect-metadata';
import { printAppSchema } from '../src/graphql/schema';

printAppSchema().then(
  (sdl) => process.stdout.write(sdl),
  (error) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
