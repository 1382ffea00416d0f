import { z } from '@botpress/sdk'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { compile, parseWith, REFUSED } from './parse'
import { configurationSchema, sendMetricInputSchema, sendRawDataInputSchema } from './schemas'

/**
 * A value spelled out: prototype, own keys in order, nested; primitives by type and text, -0
 * apart. (toStrictEqual would compare two objects that own a `constructor` key by that key.)
 */
const spelled = (value: unknown): unknown => {
  if (typeof value === 'object' && value !== null) {
    const prototype = Object.getPrototypeOf(value) === Object.prototype ? 'Object' : String(Object.getPrototypeOf(value))
    return [prototype, Object.entries(value).map(([key, child]) => [key, spelled(child)])]
  }
  return `${typeof value} ${Object.is(value, -0) ? '-0' : String(value)}`
}

const expectSameVerdict = (schema: z.ZodTypeAny, input: unknown): void => {
  const zui = schema.safeParse(input)
  const checked = compile(schema)(input)
  if (zui.success) {
    expect(checked).not.toBe(REFUSED)
    expect(spelled(checked)).toEqual(spelled(zui.data))
  } else {
    expect(checked).toBe(REFUSED)
  }
}

// Values of every kind zod tells apart, -0, NaN and the infinities included.
const strange = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.constantFrom(0, -0, Number.NaN, Infinity, -Infinity, 1e21, '', '1', 'true'),
  fc.bigInt(),
  fc.date(),
  fc.constantFrom(Symbol('s'), () => 1, Promise.resolve(1), new Map(), new Set(), [], ['a'], new Number(3), new String('x'), Object.create(null)),
  // zod reads keys with for…in: inherited enumerable ones count.
  fc.constant(Object.assign(Object.create({ inherited: 'x', a: 'y' }), { own: true })),
  fc.anything({ withBoxedValues: true, withMap: true, withSet: true, withDate: true, withNullPrototype: true, maxDepth: 2 })
)

/**
 * Values shaped by the schema's own definition, so most inputs get past the first field, with a
 * strange value in place of any part now and then. zui, not this generator, gives the verdict.
 */
const arbitraryFor = (schema: z.ZodTypeAny): fc.Arbitrary<unknown> => {
  const def = schema._def as { typeName: string; [key: string]: any }
  const shaped = ((): fc.Arbitrary<unknown> => {
    switch (def.typeName) {
      case 'ZodString':
        return fc.string({ maxLength: 8 })
      case 'ZodNumber':
        return fc.double()
      case 'ZodBoolean':
        return fc.boolean()
      case 'ZodOptional':
      case 'ZodDefault':
        return fc.option(arbitraryFor(def.innerType), { nil: undefined })
      case 'ZodUnion':
        return fc.oneof(...(def.options as z.ZodTypeAny[]).map(arbitraryFor))
      case 'ZodRecord':
        return fc.dictionary(fc.constantFrom('flow', 'step', 'k', '__proto__', 'constructor', 'toString', ''), arbitraryFor(def.valueType), { maxKeys: 4 })
      case 'ZodObject': {
        const shape = def.shape() as Record<string, z.ZodTypeAny>
        const fields = Object.fromEntries([...Object.keys(shape).map((key) => [key, arbitraryFor(shape[key]!)]), ['unknown', strange]])
        return fc.record(fields).chain((input) =>
          // An absent key and a key holding undefined are different inputs to zod.
          fc.subarray(Object.keys(input)).map((dropped) => Object.fromEntries(Object.entries(input).filter(([key]) => !dropped.includes(key))))
        )
      }
      default:
        throw new Error(`no generator for ${def.typeName}`)
    }
  })()
  return fc.oneof({ weight: 12, arbitrary: shaped }, { weight: 1, arbitrary: strange })
}

const published: Array<[string, z.ZodTypeAny, number]> = [
  ['the configuration', configurationSchema, 5_000],
  ['the Send Metric input', sendMetricInputSchema, 20_000],
  ['the Send Raw Data input', sendRawDataInputSchema, 3_000],
  // Not published: what the published ones do not exercise, so the compiler is right beyond them.
  ['a union whose options overlap (first match wins)', z.union([z.object({ a: z.string() }), z.object({ a: z.string(), b: z.number().default(1) })]), 3_000],
  ['a record of optional values (undefined ones dropped)', z.record(z.union([z.boolean(), z.string()]).optional()), 3_000],
  ['a record of objects (a __proto__ key dropped, not made the prototype)', z.record(z.object({ a: z.string().optional() })), 3_000],
]

describe('compiled schema checks agree with zui', () => {
  test.each(published)('%s: same verdict, same parsed value', (_, schema, numRuns) => {
    let accepted = 0
    fc.assert(
      fc.property(arbitraryFor(schema), (input) => {
        expectSameVerdict(schema, input)
        accepted += schema.safeParse(input).success ? 1 : 0
      }),
      { numRuns, seed: 20261125 }
    )
    // Both verdicts, often: a generator that only made refused inputs would prove little.
    expect(accepted / numRuns).toBeGreaterThan(0.1)
    expect(accepted / numRuns).toBeLessThan(0.9)
  })

  test('a Send Metric input as Studio sends it, with and without its optional fields', () => {
    const full = { name: 'flow_completed', channel: 'webchat', botId: 'b', conversationId: 'c', userId: 'u', version: 2, value: '250.5', tags: { flow: 'x', step: 3, ok: true } }
    expectSameVerdict(sendMetricInputSchema, full)
    expectSameVerdict(sendMetricInputSchema, { name: 'x' })
    expectSameVerdict(sendMetricInputSchema, { name: 'x', version: undefined, tags: '{"flow":"x"}' })
    expect(compile(sendMetricInputSchema)({ name: 'x', extra: 1 })).toStrictEqual({
      name: 'x',
      channel: '{{event.integration}}',
      botId: '{{event.botId}}',
      conversationId: '{{event.conversationId}}',
      userId: '{{event.userId}}',
    })
  })

  test.each([
    ['a string with a check', z.string().min(1)],
    ['a coerced number', z.coerce.number()],
    ['an integer', z.number().int()],
    ['an enum', z.enum(['a', 'b'])],
    ['a transform', z.string().transform((text) => text.length)],
    ['a strict object', z.object({ a: z.string() }).strict()],
    ['an object that keeps unknown keys', z.object({ a: z.string() }).passthrough()],
    ['a record with checked keys', z.record(z.string().min(2), z.string())],
    ['an optional array', z.array(z.string()).optional()],
  ])('refuses to compile what it does not know: %s', (_, schema) => {
    expect(() => compile(schema as z.ZodTypeAny)).toThrow(/src\/parse\.ts cannot compile a Zod\w+/)
  })
})

describe('parseWith', () => {
  test('words a refusal with zui, naming each field', () => {
    expect(() => parseWith('Invalid input', sendMetricInputSchema, { name: 3, value: null })).toThrow(
      'Invalid input: name: Expected string, received number; value: must be a finite number or numeric text, e.g. 250.5'
    )
  })

  test('refuses an own __proto__ key anywhere, which zod would drop without a word', () => {
    expect(() => parseWith('Invalid input', sendMetricInputSchema, JSON.parse('{"name":"x","tags":{"__proto__":"y"}}'))).toThrow(
      'Invalid input: tags.__proto__: names starting with __ are reserved.'
    )
  })

  test('returns the parsed value with the defaults applied', () => {
    expect(parseWith('Invalid configuration', configurationSchema, { grafanaUrl: 'u', grafanaUserId: '1', apiKey: 'k' })).toStrictEqual({
      grafanaUrl: 'u',
      grafanaUserId: '1',
      apiKey: 'k',
      includeConversationAndUserIds: true,
    })
  })
})
