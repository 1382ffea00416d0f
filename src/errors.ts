import type { z } from '@botpress/sdk'

/** A failure whose message is written for the bot builder: what went wrong and what to do. */
export class UserFacingError extends Error {
  override readonly name = 'UserFacingError'
}

/**
 * Parses `input` with `schema` (applying its defaults), or throws one sentence naming each
 * offending field. Schema messages name types, never the values, so no secret is echoed.
 */
export const parseWith = <S extends z.ZodTypeAny>(what: string, schema: S, input: unknown): z.infer<S> => {
  const parsed = schema.safeParse(input)
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'input'}: ${issue.message}`)
    throw new UserFacingError(`${what}: ${issues.join('; ')}`)
  }
  return parsed.data
}
