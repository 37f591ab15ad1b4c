import { readdir, readFile } from 'node:fs/promises';

/**
 * What a server process used, read from /proc the same way for every server under test. Read
 * asynchronously: the harness hosts sockets of its own while it measures.
 */

/** Linux reports utime and stime in clock ticks of 1/100 s on every architecture Node runs on. */
const TICKS_PER_SECOND = 100;

/** User plus system CPU time the process has used since it started, in milliseconds. */
export async function cpuMilliseconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of proc(5), i.e. the 12th and 13th after the name.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / TICKS_PER_SECOND;
}

/** Resident set size (VmRSS) in bytes. */
export async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** Write-family system calls (write, writev, sendmsg…) the process has made: `syscw` of /proc/<pid>/io. */
export async function writeSystemCalls(pid: number): Promise<number> {
  const io = await readFile(`/proc/${pid}/io`, 'utf8');
  const match = /^syscw: (\d+)$/m.exec(io);
  if (!match) throw new Error(`no syscw in /proc/${pid}/io`);
  return Number(match[1]);
}

/** CPU time a process spends over an interval, from two readings. */
export class CpuMeter {
  private constructor(
    private readonly pid: number,
    private readonly startMs: number,
    private readonly startedAt: number,
  ) {}

  static async start(pid: number): Promise<CpuMeter> {
    return new CpuMeter(pid, await cpuMilliseconds(pid), performance.now());
  }

  /** CPU milliseconds used since start, and the wall-clock milliseconds that passed. */
  async read(): Promise<{ cpuMs: number; wallMs: number }> {
    const cpu = await cpuMilliseconds(this.pid);
    return { cpuMs: cpu - this.startMs, wallMs: performance.now() - this.startedAt };
  }
}

/** Processes with one role in a run (a gateway, the load processes…), whose CPU is counted together. */
export interface ProcessGroup {
  role: string;
  pids: number[];
}

/** One role's share of the machine over a window. */
export interface ProcessCpu {
  role: string;
  cpuMs: number;
  /** CPU time over wall-clock time, in % of one core (200 % is both cores of a 2-core machine). */
  percentOfCore: number;
  /** Write-family system calls over the window (`syscw`). */
  writeCalls: number;
}

/** The local NATS server's processes (`nats-server`), if it runs on this machine: its CPU is part of the story. */
export async function natsServerPids(): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const name = await readFile(`/proc/${entry}/comm`, 'utf8').catch(() => '');
    if (name.trim() === 'nats-server') pids.push(Number(entry));
  }
  return pids;
}

/** CPU time and write system calls of several process groups over one window: where the machine's cores went. */
export class CpuBreakdown {
  private constructor(
    private readonly groups: ProcessGroup[],
    private readonly start: GroupUsage[],
    private readonly startedAt: number,
  ) {}

  static async start(groups: ProcessGroup[]): Promise<CpuBreakdown> {
    return new CpuBreakdown(groups, await Promise.all(groups.map(groupUsage)), performance.now());
  }

  async read(): Promise<{ wallMs: number; processes: ProcessCpu[] }> {
    const now = await Promise.all(this.groups.map(groupUsage));
    const wallMs = performance.now() - this.startedAt;
    return {
      wallMs,
      processes: this.groups.map((group, index) => {
        const cpuMs = now[index]!.cpuMs - this.start[index]!.cpuMs;
        return {
          role: group.role,
          cpuMs,
          percentOfCore: (cpuMs / wallMs) * 100,
          writeCalls: now[index]!.writeCalls - this.start[index]!.writeCalls,
        };
      }),
    };
  }
}

interface GroupUsage {
  cpuMs: number;
  writeCalls: number;
}

/** A group's CPU time and write calls so far; a process that has exited (or is not ours to read) counts 0. */
async function groupUsage(group: ProcessGroup): Promise<GroupUsage> {
  const each = await Promise.all(
    group.pids.map(async (pid) => ({
      cpuMs: await cpuMilliseconds(pid).catch(() => 0),
      writeCalls: await writeSystemCalls(pid).catch(() => 0),
    })),
  );
  return {
    cpuMs: each.reduce((sum, usage) => sum + usage.cpuMs, 0),
    writeCalls: each.reduce((sum, usage) => sum + usage.writeCalls, 0),
  };
}
