// The log lines of a restart prepared ahead of its deadline (issue 19), said when systemd says them.
//
// An automatic restart's timer fires up to 100 ms early (restartlead.ts): the engine decides as of
// the deadline and its lines ("Scheduled restart job, restart counter is at N.") are held until
// then. With dependencies, the same decision runs the unit's restart job in the dependency
// engine, whose lines about it ("Started db.service.") must not overtake the held ones: systemd
// says them after "Scheduled restart job". So the runners of a dependency group and its engine
// say their lines through one gate: while a hold lasts, every line waits behind the held ones, in
// the order it was said, and all go out when the hold ends (its deadline, or earlier once the held
// command has run). A line never waits longer than the longest hold asked (the lead: at most
// 100 ms). (A restart whose job reaches other units is not prepared ahead at all: unit.ts.)

type Line = () => void;

export class LogGate {
  private readonly waiting: Line[] = [];
  private timer: NodeJS.Timeout | undefined;
  private until = 0;
  private releasing = false;

  /** Says the line now, or after the lines held before it. */
  say(line: Line): void {
    if (this.timer || this.releasing) this.waiting.push(line);
    else line();
  }

  /** Holds every line said from now on for `ms` (a later hold already asked keeps its end); returns the hold's end (performance.now() ms: a wall clock step moves no hold), for end(). */
  hold(ms: number, now: number = performance.now()): number {
    const until = now + Math.max(0, ms);
    if (this.timer && until <= this.until) return until;
    if (this.timer) clearTimeout(this.timer);
    this.until = until;
    this.timer = setTimeout(() => this.release(), until - now);
    return until;
  }

  /** A hold ending at `until` is over early (its command ran): the lines go unless another hold lasts longer. */
  end(until: number): void {
    if (this.timer && this.until <= until) this.release();
  }

  /** Whether lines are being held. */
  get holding(): boolean { return this.timer !== undefined; }

  /** Ends the hold: every waiting line is said, in order. */
  release(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.until = 0;
    if (this.releasing) return;
    // a line said while releasing (a callback logging again) goes after the waiting ones; a hold
    // asked meanwhile keeps the rest waiting
    this.releasing = true;
    let i = 0;
    try {
      while (i < this.waiting.length && !this.timer) this.waiting[i++]!();
    } finally {
      this.waiting.splice(0, i);
      this.releasing = false;
    }
  }
}
