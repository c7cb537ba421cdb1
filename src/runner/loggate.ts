// The log lines of a restart prepared ahead of its deadline (issue 19), said when systemd says them.
//
// An automatic restart's timer fires 30-100 ms early (restartlead.ts): the engine decides as of
// the deadline and its lines ("Scheduled restart job, restart counter is at N.") are held until
// then. With dependencies, the same decision runs the unit's restart job in the dependency
// engine, whose lines about the unit ("Started db.service.") must not overtake the held ones:
// systemd says them after "Scheduled restart job". So each runner says its lines, and the
// dependency engine its lines about that unit, through the runner's gate: while a hold lasts,
// every line waits behind the held ones, in the order it was said, and all go out when the hold
// ends (its deadline, or earlier once the held command has run). One gate a unit, one hold at a
// time: a line waits at most one lead. (A restart whose job reaches other units is not prepared
// ahead at all: unit.ts armTimer().)

type Line = () => void;

const toStderr = (e: unknown): void => { process.stderr.write(`a log line could not be written: ${(e as Error)?.message ?? String(e)}\n`); };

export class LogGate {
  private readonly waiting: Line[] = [];
  private timer: NodeJS.Timeout | undefined;
  private releasing = false;
  private readonly onError: (e: unknown) => void;

  /** `onError`: a line whose sink threw (the others are still said; nothing is thrown to the timer or the caller of release()). */
  constructor(onError: (e: unknown) => void = toStderr) {
    this.onError = onError;
  }

  /** Says the line now, or after the lines held before it. */
  say(line: Line): void {
    if (this.open) line();
    else this.waiting.push(line);
  }

  /** Holds every line said from now on for `ms`, or until release(); a hold already running is not shortened. */
  hold(ms: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.release(), Math.max(0, ms));
  }

  /** Whether lines are being held. */
  get holding(): boolean { return this.timer !== undefined; }

  /** Whether a line said now goes out at once (nothing held, nothing being released): a caller may then say it without a closure. */
  get open(): boolean { return this.timer === undefined && !this.releasing; }

  /** Ends the hold: every waiting line is said, in order. */
  release(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.releasing) return;
    // a line said while releasing (a callback logging again) goes after the waiting ones; a hold
    // asked meanwhile keeps the rest waiting
    this.releasing = true;
    let i = 0;
    try {
      while (i < this.waiting.length && !this.timer) {
        const line = this.waiting[i++]!;
        try { line(); } catch (e) { this.onError(e); }
      }
    } finally {
      this.waiting.splice(0, i);
      this.releasing = false;
    }
  }
}
