/** A failure whose message is written for the bot builder: what went wrong and what to do. */
export class UserFacingError extends Error {
  override readonly name = 'UserFacingError'
}

/** Turns a schema failure into one sentence naming each offending field. */
export const describeSchemaIssues = (
  what: string,
  issues: ReadonlyArray<{ path: ReadonlyArray<string | number>; message: string }>
): string =>
  `${what}: ${issues.map((issue) => `${issue.path.join('.') || 'input'}: ${issue.message}`).join('; ')}`
