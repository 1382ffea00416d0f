/**
 * Inputs parsed with the schemas the definition publishes (src/schemas.ts), and refused with
 * one sentence naming each offending field.
 *
 * zui is the authority, but its parse costs ≈ 70–100 µs of CPU per card call in the served
 * process (bench/FINDINGS.md): its build turns every object spread into property-descriptor
 * copies, and a union copies its parse context twice per option tried. So each schema is
 * compiled once, from its own definition, into a direct check of the same rules; zui parses
 * only what the check refuses, to word the refusal. `src/parse.test.ts` proves the two agree.
 */
import type { z } from '@botpress/sdk'
import { UserFacingError } from './errors'

/** What a compiled check returns for a value the schema refuses. */
export const REFUSED: unique symbol = Symbol('refused')

type Check = (value: unknown) => unknown

type Def = {
  readonly typeName: string
  readonly checks?: readonly unknown[]
  readonly coerce?: boolean
  readonly innerType?: z.ZodTypeAny
  readonly defaultValue?: () => unknown
  readonly options?: readonly z.ZodTypeAny[]
  readonly keyType?: z.ZodTypeAny
  readonly valueType?: z.ZodTypeAny
  readonly shape?: () => Record<string, z.ZodTypeAny>
  readonly unknownKeys?: string
  readonly catchall?: z.ZodTypeAny
}

const defOf = (schema: z.ZodTypeAny): Def => schema._def as Def

/** zod's `getParsedType(value) === 'object'`. */
const isObject = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return false
  }
  const { then, catch: onCatch } = value as { then?: unknown; catch?: unknown }
  if (typeof then === 'function' && typeof onCatch === 'function') {
    return false
  }
  return !(value instanceof Map || value instanceof Set || value instanceof Date)
}

const unsupported = (def: Def, what: string): Error =>
  new Error(`src/parse.ts cannot compile a ${def.typeName} ${what}: teach compile() its rules (and the property test its values), or parse this schema with zui alone.`)

/** Only the bare types: a check, coercion or refinement would be a rule the compiler does not know. */
const bare = (def: Def): void => {
  if (def.coerce || (def.checks?.length ?? 0) > 0) {
    throw unsupported(def, 'with checks or coercion')
  }
}

/** The check of `schema`'s rules, as zui (zod 3) applies them; each branch mirrors that type's `_parse`. */
export const compile = (schema: z.ZodTypeAny): Check => {
  const def = defOf(schema)
  switch (def.typeName) {
    case 'ZodString':
      bare(def)
      return (value) => (typeof value === 'string' ? value : REFUSED)
    case 'ZodNumber':
      bare(def)
      return (value) => (typeof value === 'number' && !Number.isNaN(value) ? value : REFUSED)
    case 'ZodBoolean':
      bare(def)
      return (value) => (typeof value === 'boolean' ? value : REFUSED)
    case 'ZodOptional': {
      const inner = compile(def.innerType!)
      return (value) => (value === undefined ? undefined : inner(value))
    }
    case 'ZodDefault': {
      const inner = compile(def.innerType!)
      const defaultValue = def.defaultValue!
      return (value) => inner(value === undefined ? defaultValue() : value)
    }
    case 'ZodUnion': {
      // The first option that accepts the value gives the result.
      const options = def.options!.map(compile)
      return (value) => {
        for (const option of options) {
          const parsed = option(value)
          if (parsed !== REFUSED) {
            return parsed
          }
        }
        return REFUSED
      }
    }
    case 'ZodRecord': {
      const keys = defOf(def.keyType!)
      if (keys.typeName !== 'ZodString') {
        throw unsupported(def, 'with keys other than strings')
      }
      bare(keys)
      const element = compile(def.valueType!)
      return (value) => {
        if (!isObject(value)) {
          return REFUSED
        }
        const parsed: Record<string, unknown> = {}
        // for…in, as zod: inherited enumerable keys count too; `__proto__` is checked, then dropped.
        for (const key in value) {
          const item = element(value[key])
          if (item === REFUSED) {
            return REFUSED
          }
          if (key !== '__proto__' && item !== undefined) {
            parsed[key] = item
          }
        }
        return parsed
      }
    }
    case 'ZodObject': {
      if (def.unknownKeys !== 'strip' || defOf(def.catchall!).typeName !== 'ZodNever') {
        throw unsupported(def, 'that keeps or refuses unknown keys')
      }
      const fields = Object.entries(def.shape!()).map(([key, field]) => {
        if (key === '__proto__') {
          throw unsupported(def, 'with a __proto__ field')
        }
        return [key, compile(field)] as const
      })
      return (value) => {
        if (!isObject(value)) {
          return REFUSED
        }
        // Fields in the schema's order; unknown keys dropped; an absent optional field stays absent.
        const parsed: Record<string, unknown> = {}
        for (const [key, check] of fields) {
          const field = check(value[key])
          if (field === REFUSED) {
            return REFUSED
          }
          if (field !== undefined || key in value) {
            parsed[key] = field
          }
        }
        return parsed
      }
    }
    default:
      throw unsupported(def, 'schema')
  }
}

const compiled = new WeakMap<z.ZodTypeAny, Check>()

const checkFor = (schema: z.ZodTypeAny): Check => {
  let check = compiled.get(schema)
  if (!check) {
    check = compile(schema)
    compiled.set(schema, check)
  }
  return check
}

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
  const checked = checkFor(schema)(input)
  if (checked !== REFUSED) {
    return checked as z.infer<S>
  }
  const parsed = schema.safeParse(input)
  // zui's verdict stands, should it ever accept what the check refused.
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'input'}: ${issue.message}`)
    throw new UserFacingError(`${what}: ${issues.join('; ')}`)
  }
  return parsed.data
}
