/**
 * Every link and anchor of hub.md, README.md and docs/*.md leads somewhere: relative links to
 * files of the repository and headings that exist (GitHub's anchor rules), links into the
 * repository on GitHub to the local file and heading they name, other addresses well-formed
 * https. hub.md is shown on the Botpress hub, where a relative link leads nowhere, and is kept
 * short enough to read there. No network: addresses outside the repository are not fetched.
 */
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  docPages,
  headingAnchors,
  linkProblem,
  links,
  readPage,
  REPO_ROOT,
  repositoryUrl,
  slug
} from './helpers/markdown'

const PAGES = ['README.md', ...docPages()]
const HUB_MAX_BYTES = 10_240

/** Every broken link of `page` as "page:line target: problem". */
const brokenLinks = (page: string): string[] =>
  links(readPage(page)).flatMap(({ target, line }) => {
    const problem = linkProblem(page, target)
    return problem === undefined ? [] : [`${page}:${line} ${target}: ${problem}`]
  })

describe('the documentation links', () => {
  it('reads every page: hub.md, README.md and the pages under docs/', () => {
    expect(PAGES).toContain('hub.md')
    expect(PAGES.filter((p) => p.startsWith('docs/')).length).toBeGreaterThanOrEqual(5)
    expect(PAGES.flatMap((page) => links(readPage(page))).length).toBeGreaterThanOrEqual(50)
  })

  it.each(PAGES)('%s: every link and anchor leads somewhere', (page) => {
    expect(brokenLinks(page)).toEqual([])
  })

  it('hub.md links only to absolute https addresses: the Botpress hub has no repository around it', () => {
    const targets = links(readPage('hub.md')).map((l) => l.target)
    expect(targets.filter((t) => !t.startsWith('https://'))).toEqual([])
    expect(targets.some((t) => t.startsWith(`${repositoryUrl()}/blob/main/docs/`))).toBe(true)
  })

  it(`hub.md is at most ${HUB_MAX_BYTES} bytes`, () => {
    expect(statSync(join(REPO_ROOT, 'hub.md')).size).toBeLessThanOrEqual(HUB_MAX_BYTES)
  })
})

describe('the link check', () => {
  it("names anchors as GitHub does: punctuation dropped, spaces to '-', repeats numbered", () => {
    expect(slug('How every event is counted')).toBe('how-every-event-is-counted')
    expect(slug('Send Raw Data: `<measurement>_<field>`')).toBe('send-raw-data-measurement_field')
    expect(slug('Send LLM Usage: `gen_ai_client_*`')).toBe('send-llm-usage-gen_ai_client_')
    expect(slug('Cardinality and cost')).toBe('cardinality-and-cost')
    expect(slug('[Alerts](alerts.md) & rules')).toBe('alerts--rules')
    expect([...headingAnchors('# Notes\n## Notes\n### Notes\n```sh\n# not a heading\n```\n')]).toEqual([
      'notes',
      'notes-1',
      'notes-2'
    ])
  })

  it('finds links in prose, not in code', () => {
    const markdown =
      'See [a](a.md) and ![b](b.png), <https://x.test/>.\n\n`[c](c.md)`\n```md\n[d](d.md)\n```\n[e]: e.md\n'
    expect(links(markdown).map((l) => l.target)).toEqual(['a.md', 'b.png', 'https://x.test/', 'e.md'])
  })

  it('catches a broken anchor, a missing file, a link outside the repository and a plain-http address', () => {
    const repository = repositoryUrl()
    expect(linkProblem('hub.md', `${repository}/blob/main/docs/alerts.md#botpressbotsilent`)).toBeUndefined()
    expect(linkProblem('docs/alerts.md', '#botpressbotsilent')).toBeUndefined()
    expect(linkProblem('docs/README.md', '../rules/config.ts')).toBeUndefined()
    expect(linkProblem('docs/alerts.md', '#botpress-bot-silent')).toMatch(/no heading with the anchor/)
    expect(linkProblem('hub.md', `${repository}/blob/main/docs/alerts.md#no-such-runbook`)).toMatch(/no heading/)
    expect(linkProblem('README.md', 'docs/alerts.md#no-such-runbook')).toMatch(/no heading/)
    expect(linkProblem('README.md', 'docs/no-such-page.md')).toMatch(/does not exist/)
    expect(linkProblem('hub.md', `${repository}/blob/main/docs/no-such-page.md`)).toMatch(/does not exist/)
    expect(linkProblem('docs/README.md', '../../outside.md')).toMatch(/outside the repository/)
    expect(linkProblem('README.md', 'node_modules/vitest/package.json')).toMatch(/not part of the repository/)
    expect(linkProblem('hub.md', 'http://grafana.com/')).toMatch(/not https/)
    expect(linkProblem('hub.md', 'https://')).toMatch(/well-formed/)
    expect(linkProblem('hub.md', `${repository}/edit/main/hub.md`)).toMatch(/blob\/main/)
  })
})
