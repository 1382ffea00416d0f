/**
 * Inputs parsed with the schemas the definition publishes (src/schemas.ts), and refused with
 * one sentence naming each offending field.
 */
import type { z } from '@botpress/sdk'
import { UserFacingError } from './errors'

// zod copies objects by assignment, which turns an own `__proto__` key into a prototype
// change: the key would vanish without a word instead of meeting our checks.
const protoKeyPath = (value: unknown, path: string, depth = 0): string | undefined => {
  if (typeof value !== 'object' || value === null || depth > 8) {
    return undefined
  }
  if (Object.hasOwn(value, '__proto__')) {
    return path ? `${path}.__proto__` : '__proto__'
  }
  for (const [key, child] of Object.entries(value)) {
    const found = protoKeyPath(child, path ? `${path}.${key}` : key, depth + 1)
    if (found) {
      return found
    }
  }
  return undefined
}

/**
 * Parses `input` with `schema` (applying its defaults), or throws one sentence naming each
 * offending field. Schema messages name types, never the values, so no secret is echoed.
 */
export const parseWith = <S extends z.ZodTypeAny>(what: string, schema: S, input: unknown): z.infer<S> => {
  const proto = protoKeyPath(input, '')
  if (proto) {
    throw new UserFacingError(`${what}: ${proto}: names starting with __ are reserved.`)
  }
  const parsed = schema.safeParse(input)
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'input'}: ${issue.message}`)
    throw new UserFacingError(`${what}: ${issues.join('; ')}`)
  }
  return parsed.data
}
