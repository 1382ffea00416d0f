/**
 * The project's Markdown read the way GitHub renders it: which files are documentation, their
 * fenced code blocks, their links, and the anchors their headings get. The query tests read the
 * examples from here and the link test checks every link against it, so a query or a section
 * moved between pages stays found.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

export const REPO_ROOT = resolve(__dirname, '..', '..')

/** The bot builder's page (shown on the Botpress hub) and the documentation pages under docs/, repo-relative. */
export const docPages = (): string[] => [
  'hub.md',
  ...readdirSync(join(REPO_ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`)
]

export const readPage = (page: string): string => readFileSync(join(REPO_ROOT, page), 'utf8')

const FENCE = /^```([^\n]*)\n([\s\S]*?)^```[ \t]*$/gm

export interface CodeBlock {
  readonly page: string
  readonly info: string
  readonly body: string
}

/** The fenced code blocks of `pages`, in page order, with their info string and trimmed body. */
export const codeBlocks = (pages: readonly string[] = docPages()): CodeBlock[] =>
  pages.flatMap((page) =>
    [...readPage(page).matchAll(FENCE)].map((m) => ({ page, info: m[1]!.trim(), body: m[2]!.trim() }))
  )

/** `markdown` without its fenced code blocks and inline code spans, where `#` and `[…](…)` are text. */
const prose = (markdown: string): string =>
  markdown
    .replace(FENCE, (block) => block.replace(/[^\n]/g, ' '))
    .replace(/(`+)[^`]*?\1/g, (code) => ' '.repeat(code.length))

/**
 * A heading's anchor by GitHub's rules (github-slugger): the rendered text lower-cased, every
 * character that is not a letter, a digit, a mark, `_`-like punctuation, a space or `-` dropped,
 * each space turned into `-`.
 */
export const slug = (headingText: string): string =>
  headingText
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`/g, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-')

/** Every anchor the headings of `markdown` get; a repeated slug gets `-1`, `-2`, … as on GitHub. */
export const headingAnchors = (markdown: string): Set<string> => {
  const anchors = new Set<string>()
  const withoutCode = markdown.replace(FENCE, '')
  for (const m of withoutCode.matchAll(/^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/gm)) {
    const base = slug(m[1]!.trim())
    let anchor = base
    for (let n = 1; anchors.has(anchor); n++) anchor = `${base}-${n}`
    anchors.add(anchor)
  }
  return anchors
}

export interface Link {
  readonly target: string
  /** 1-based line of the link in its page. */
  readonly line: number
}

/** The links of `markdown` outside code: inline links and images, autolinks, reference definitions. */
export const links = (markdown: string): Link[] => {
  const text = prose(markdown)
  const lineOf = (index: number) => text.slice(0, index).split('\n').length
  const patterns = [
    /!?\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g,
    /<((?:https?|mailto):[^>\s]+)>/g,
    /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm
  ]
  return patterns
    .flatMap((pattern) => [...text.matchAll(pattern)].map((m) => ({ target: m[1]!, line: lineOf(m.index) })))
    .sort((a, b) => a.line - b.line)
}

/** The repository's web address, from package.json's `repository` (git+https://github.com/owner/name.git). */
export const repositoryUrl = (): string => {
  const pkg = JSON.parse(readPage('package.json')) as { repository?: { url?: string } }
  const url = pkg.repository?.url ?? ''
  const m = /^git\+(https:\/\/github\.com\/[^/]+\/[^/]+?)\.git$/u.exec(url)
  if (!m) throw new Error(`package.json repository.url is not git+https://github.com/<owner>/<name>.git: ${url}`)
  return m[1]!
}

/**
 * What is wrong with the link `target` found in `page` (repo-relative), or undefined when it
 * leads somewhere: a relative path to a file or folder of the repository, a `#anchor` that a
 * heading of its page has, a link into this repository's main branch on GitHub checked as the
 * local file and anchor, any other address a well-formed https URL.
 */
export const linkProblem = (page: string, target: string): string | undefined => {
  const repository = repositoryUrl()
  let path: string
  let anchor: string | undefined
  if (/^[a-z][a-z0-9+.-]*:/iu.test(target)) {
    let url: URL
    try {
      url = new URL(target)
    } catch {
      return 'not a well-formed URL'
    }
    if (url.protocol !== 'https:') return `not https (${url.protocol})`
    const address = `${url.origin}${url.pathname}`
    const local = ['blob', 'tree'].map((kind) => `${repository}/${kind}/main/`).find((p) => address.startsWith(p))
    if (local === undefined) {
      const elsewhereInRepository = address.startsWith(`${repository}/`) && address !== `${repository}/`
      return elsewhereInRepository ? `links into the repository go to ${repository}/blob/main/<path>` : undefined
    }
    path = decodeURIComponent(address.slice(local.length))
    anchor = url.hash === '' ? undefined : decodeURIComponent(url.hash.slice(1))
  } else {
    const [file, hash] = target.split('#', 2) as [string, string | undefined]
    path = file === '' ? page : join(page, '..', decodeURIComponent(file))
    anchor = hash
  }
  const absolute = resolve(REPO_ROOT, path)
  if (!absolute.startsWith(`${REPO_ROOT}/`)) return `${path} is outside the repository`
  if (/^(node_modules|\.botpress|\.git)(\/|$)/u.test(path)) return `${path} is not part of the repository`
  let markdown: string
  try {
    markdown = readFileSync(absolute, 'utf8')
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code === 'EISDIR' && anchor === undefined) return undefined
    return `${path} does not exist`
  }
  if (anchor === undefined) return undefined
  if (!path.endsWith('.md')) return `#${anchor} on ${path}, which is not Markdown`
  return headingAnchors(markdown).has(anchor) ? undefined : `${path} has no heading with the anchor #${anchor}`
}
