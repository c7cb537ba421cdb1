// The runner's judgement of every sd_notify datagram before the engine sees it, by its sender's
// credentials (the shim reports SCM_CREDENTIALS: PID and uid), as systemd 257 judges them:
//
//  - no credentials: ignored (manager_dispatch_notify_fd(): "without valid credentials").
//  - NotifyAccess=none/main/exec: only from the main PID (and the control PID for exec)
//    (service_notify_message_authorized()).
//  - NotifyAccess=all: only from a process of the unit — systemd finds the unit by the sender's
//    control group (manager_get_units_for_pidref()), a process outside every unit is ignored;
//    here: membership.ts.
//  - MAINPID= is interpreted only in the states START…RELOAD_NOTIFY; it must parse; the PID must
//    be suitable (service_is_suitable_main_pid(): not the manager, not PID 1, not the control
//    process, alive; here also not a uo-shim); one outside the unit is taken only from a sender
//    with uid 0 ("New main PID … does not belong to service, refusing."). Refusing MAINPID=
//    drops that field only; the rest of the message is processed, as in systemd.
//
// Each refusal is logged once per sender (PID, uid), naming the sender and what was refused;
// at most MAX_SENDERS_PER_MINUTE senders a minute are named, the rest are counted and summed up
// in one line: a flood of datagrams does not fill the log.

import type { Machine } from '../engine/index.ts';
import type { NotifyAccess } from '../engine/config.ts';
import type { Membership } from './membership.ts';
import { judgeMainPid, parsePid } from './control.ts';

const MAINPID_STATES = new Set(['start', 'start-post', 'running', 'reload', 'reload-signal', 'reload-notify']);
const MAX_SENDERS_PER_MINUTE = 20;
const MAX_REMEMBERED = 4096;

export interface NotifyMessage {
  readonly pid: number;
  /** undefined: a shim of an older release did not say (trusted as little as an unprivileged sender). */
  readonly uid?: number | undefined;
  readonly fields: Readonly<Record<string, string>>;
}

export interface NotifyScope {
  readonly access: NotifyAccess;
  readonly machine: Machine;
  readonly membership: Membership;
}

type Log = (level: 'info' | 'notice' | 'warning', message: string) => void;

/** A value as it may be shown in one log line (a sender chooses it). */
function shown(v: string): string {
  const s = v.length > 64 ? `${v.slice(0, 64)}…` : v;
  return /^[\x21-\x7e]*$/.test(s) ? s : JSON.stringify(s);
}

export class NotifyJudge {
  /** The senders already logged (made at the first refusal: most units never refuse one, issue 19). */
  private told: Set<string> | undefined;
  private windowStart = 0;
  private namedInWindow = 0;
  private suppressed = 0;
  private readonly log: Log;
  private readonly now: () => number;

  constructor(log: Log, now: () => number = Date.now) {
    this.log = log;
    this.now = now;
  }

  /**
   * The fields the engine may see, or undefined when the whole message is refused. The sender
   * PID the engine is given is the one the kernel reported.
   */
  judge(m: NotifyMessage, s: NotifyScope): Record<string, string> | undefined {
    const who = `PID ${m.pid} (uid ${m.uid ?? 'unknown'})`;
    if (!(m.pid > 0)) { this.refused(m, 'warning', 'Received notify message without valid credentials, ignoring.'); return undefined; }
    const main = s.machine.mainPid, control = s.machine.controlPid;
    switch (s.access) {
      case 'none':
        this.refused(m, 'warning', `Got notification message from ${who}, but reception is disabled; refused.`);
        return undefined;
      case 'main':
        if (m.pid !== main) {
          this.refused(m, 'warning', `Got notification message from ${who}, but reception only permitted for main PID ${main > 0 ? main : 'which is currently not known'}; refused.`);
          return undefined;
        }
        break;
      case 'exec':
        if (m.pid !== main && m.pid !== control) {
          this.refused(m, 'warning', `Got notification message from ${who}, but reception only permitted for main PID and control PID; refused.`);
          return undefined;
        }
        break;
      case 'all':
        if (m.pid !== main && m.pid !== control && !s.membership.has(m.pid)) {
          this.refused(m, 'warning', `Got notification message from ${who}, which is not a process of the unit (NotifyAccess=all takes messages from the unit's processes only); refused the whole message.`);
          return undefined;
        }
        break;
    }
    const fields: Record<string, string> = { ...m.fields };
    const value = fields['MAINPID'];
    if (value === undefined) return fields;
    delete fields['MAINPID'];
    if (!MAINPID_STATES.has(s.machine.state)) return fields; // systemd ignores it there, silently
    const pid = parsePid(value);
    if (pid === undefined) {
      this.refused(m, 'warning', `Failed to parse MAINPID=${shown(value)} field in notification message from ${who}, ignoring.`);
      return fields;
    }
    if (s.machine.mainPidKnown && pid === main) { fields['MAINPID'] = value; return fields; }
    const v = judgeMainPid(pid, s.membership, control);
    if (v.t === 'refuse') {
      this.refused(m, 'warning', `${v.why} MAINPID=${pid} sent by ${who} refused.`);
      return fields;
    }
    if (v.t === 'foreign' && m.uid !== 0) {
      this.refused(m, 'warning', `New main PID ${pid} does not belong to service, refusing MAINPID=${pid} sent by unprivileged ${who}.`);
      return fields;
    }
    fields['MAINPID'] = String(pid);
    return fields;
  }

  /** A datagram the shim did not pass on (oversized, nul, long). */
  dropped(m: { pid: number; uid?: number | undefined; reason: string; bytes: number }): void {
    const bytes = `${Number.isFinite(m.bytes) ? m.bytes : '?'} bytes`;
    const what = m.reason === 'foreign' ? `notify messages (${bytes} in a second) from a process that is not root and not of the unit: PID ${m.pid} (uid ${m.uid ?? 'unknown'}); not written, ignoring.`
      : m.reason === 'rate' ? `more notify messages than the holder writes (1 MiB burst, 32 KiB/s; ${bytes} in a second) from PID ${m.pid} (uid ${m.uid ?? 'unknown'}), ignoring them.`
      : `notify message ${m.reason === 'oversized' ? 'exceeded maximum size' : m.reason === 'nul' ? 'with embedded NUL bytes' : 'too long to pass on'} (${bytes}) from PID ${m.pid} (uid ${m.uid ?? 'unknown'}), ignoring.`;
    this.refused(m, 'warning', `Received ${what}`);
  }

  /** Logs a refusal once per sender (PID, uid), at most MAX_SENDERS_PER_MINUTE senders a minute. */
  private refused(m: { pid: number; uid?: number | undefined }, level: 'warning' | 'notice', message: string): void {
    const key = `${m.pid}:${m.uid ?? '?'}`;
    if (this.told?.has(key)) return;
    const t = this.now();
    if (t - this.windowStart >= 60_000) {
      if (this.suppressed > 0) this.log('warning', `${this.suppressed} more refused notification messages in the last minute were not logged (rate limit)`);
      this.windowStart = t;
      this.namedInWindow = 0;
      this.suppressed = 0;
    }
    if (this.namedInWindow >= MAX_SENDERS_PER_MINUTE) { this.suppressed++; return; }
    this.namedInWindow++;
    this.told ??= new Set();
    if (this.told.size >= MAX_REMEMBERED) this.told.clear();
    this.told.add(key);
    this.log(level, message);
  }
}
