/** Reading the process table of this machine (Linux /proc), for tests and benchmarks. */
import { readdirSync, readFileSync } from 'node:fs'

/** The process and all its descendants (via /proc/PID/task/TID/children). */
export function descendants(root: number): number[] {
  const out: number[] = []
  const todo = [root]
  while (todo.length > 0 && out.length < 1000) {
    const pid = todo.pop()!
    out.push(pid)
    let tids: string[] = []
    try {
      tids = readdirSync(`/proc/${pid}/task`)
    } catch {
      continue
    }
    for (const tid of tids) {
      try {
        for (const c of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' '))
          if (c.trim()) todo.push(Number(c))
      } catch {
        // gone meanwhile
      }
    }
  }
  return out
}

/** CPU time (user + system) a process has used so far, ms; Linux clock ticks are 10 ms. */
export const cpuMs = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state): utime and stime are fields 14 and 15.
  return (Number(fields[11]) + Number(fields[12])) * 10
}
