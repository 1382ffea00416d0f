/**
 * icon.svg: what the Botpress hub shows. Checks that it is a self-contained, well-formed,
 * square SVG. (Its look was checked by rendering it with rsvg-convert at 16, 48 and 256 px.)
 */
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const ICON = join(__dirname, '..', 'icon.svg')
const svg = readFileSync(ICON, 'utf8')

interface Element {
  name: string
  attrs: Map<string, string>
  children: Element[]
}

/**
 * A strict little XML parser for what an icon needs: declaration, comments, elements,
 * attributes (quoted, unique) and text. Throws on anything not well-formed.
 */
function parseXml(src: string): Element {
  let i = 0
  const fail = (msg: string): never => {
    throw new Error(`${msg} at offset ${i}: ${JSON.stringify(src.slice(i, i + 40))}`)
  }
  const skipMisc = () => {
    for (;;) {
      const ws = /^\s*/.exec(src.slice(i))![0]
      i += ws.length
      if (src.startsWith('<?xml', i)) {
        const end = src.indexOf('?>', i)
        if (end < 0) fail('unterminated declaration')
        i = end + 2
      } else if (src.startsWith('<!--', i)) {
        const end = src.indexOf('-->', i)
        if (end < 0) fail('unterminated comment')
        i = end + 3
      } else if (src.startsWith('<!', i)) {
        fail('DOCTYPE/CDATA not allowed')
      } else return
    }
  }
  const name = () => {
    const m = /^[A-Za-z_][\w.:-]*/.exec(src.slice(i))
    if (!m) fail('expected a name')
    i += m![0].length
    return m![0]
  }
  const text = (s: string) => {
    if (/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(s)) fail('bad entity')
    if (s.includes('<')) fail('stray <')
  }
  const element = (): Element => {
    if (src[i] !== '<') fail('expected <')
    i++
    const el: Element = { name: name(), attrs: new Map(), children: [] }
    for (;;) {
      const ws = /^\s*/.exec(src.slice(i))![0]
      i += ws.length
      if (src.startsWith('/>', i)) {
        i += 2
        return el
      }
      if (src[i] === '>') {
        i++
        break
      }
      if (ws.length === 0) fail('expected whitespace before an attribute')
      const attr = name()
      if (el.attrs.has(attr)) fail(`duplicate attribute ${attr}`)
      const m = /^\s*=\s*("([^"<]*)"|'([^'<]*)')/.exec(src.slice(i))
      if (!m) fail(`attribute ${attr} needs a quoted value`)
      const value = m![2] ?? m![3]!
      text(value)
      el.attrs.set(attr, value)
      i += m![0].length
    }
    for (;;) {
      const next = src.indexOf('<', i)
      if (next < 0) fail(`unclosed <${el.name}>`)
      text(src.slice(i, next))
      i = next
      if (src.startsWith('<!--', i)) {
        const end = src.indexOf('-->', i)
        if (end < 0) fail('unterminated comment')
        i = end + 3
      } else if (src.startsWith('</', i)) {
        i += 2
        const closing = name()
        if (closing !== el.name) fail(`</${closing}> closes <${el.name}>`)
        i += /^\s*/.exec(src.slice(i))![0].length
        if (src[i] !== '>') fail('expected >')
        i++
        return el
      } else if (src.startsWith('<!', i) || src.startsWith('<?', i)) {
        fail('CDATA/processing instruction not allowed')
      } else el.children.push(element())
    }
  }
  skipMisc()
  const root = element()
  skipMisc()
  if (i !== src.length) fail('content after the root element')
  return root
}

const walk = (el: Element): Element[] => [el, ...el.children.flatMap(walk)]

describe('icon.svg', () => {
  const root = parseXml(svg)
  const all = walk(root)

  it('is well-formed XML with a single <svg> root in the SVG namespace', () => {
    expect(root.name).toBe('svg')
    expect(root.attrs.get('xmlns')).toBe('http://www.w3.org/2000/svg')
    expect(all.filter((e) => e.name === 'svg')).toHaveLength(1)
  })

  it('has a square viewBox starting at 0 0 (and square width/height when set)', () => {
    const vb = root.attrs
      .get('viewBox')
      ?.trim()
      .split(/[\s,]+/)
      .map(Number)
    expect(vb).toHaveLength(4)
    expect(vb!.every(Number.isFinite)).toBe(true)
    expect(vb![0]).toBe(0)
    expect(vb![1]).toBe(0)
    expect(vb![2]).toBeGreaterThan(0)
    expect(vb![2]).toBe(vb![3])
    if (root.attrs.has('width') || root.attrs.has('height'))
      expect(root.attrs.get('width')).toBe(root.attrs.get('height'))
  })

  it('draws something: at least one shape with a fill', () => {
    const shapes = all.filter((e) => ['path', 'circle', 'rect', 'polygon', 'polyline', 'ellipse'].includes(e.name))
    expect(shapes.length).toBeGreaterThan(0)
    expect(shapes.some((e) => e.attrs.has('fill') && e.attrs.get('fill') !== 'none')).toBe(true)
  })

  it('has no external references, images, scripts, fonts or text glyphs', () => {
    for (const e of all) {
      expect([
        'image',
        'script',
        'foreignObject',
        'use',
        'style',
        'font',
        'font-face',
        'text',
        'a',
        'iframe'
      ]).not.toContain(e.name)
      for (const [k, v] of e.attrs) {
        expect(k.startsWith('on'), `${e.name} ${k}`).toBe(false)
        if (k === 'href' || k === 'xlink:href') expect(v.startsWith('#'), `${e.name} ${k}=${v}`).toBe(true)
        // url(...) only to the icon's own elements (gradients).
        for (const m of v.matchAll(/url\(([^)]*)\)/g)) expect(m[1]!.trim().startsWith('#'), v).toBe(true)
      }
    }
    expect(svg).not.toMatch(/href\s*=\s*["']?\s*(https?:|\/\/|data:)/i)
    expect(svg).not.toMatch(/@import|<\s*image|<\s*script|javascript:/i)
  })

  it('references only gradients it defines itself', () => {
    const ids = new Set(all.map((e) => e.attrs.get('id')).filter((x): x is string => x !== undefined))
    for (const m of svg.matchAll(/url\(#([^)]+)\)/g)) expect(ids.has(m[1]!), m[1]).toBe(true)
  })

  it('is small (under 8 KB)', () => {
    expect(statSync(ICON).size).toBeLessThan(8 * 1024)
  })
})
