// Its own module, importing nothing: the CLI's entry point needs the class before the Prisma client
// (which config.ts reaches through src/store) may be generated.

/** A setting in the environment that cannot be used: the CLI reports it without a stack trace (exit 2). */
export class ConfigError extends Error {
  override name = "ConfigError";
}
