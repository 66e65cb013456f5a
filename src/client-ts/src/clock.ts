/** An opaque timer handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown;

/**
 * Where the client reads the time and schedules timers: backoff delays, request timeouts, message expiry and
 * the connect timeout all go through it, so tests can drive them with a {@link ManualClock} instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since an arbitrary, fixed origin. */
  now(): number;
  /** Calls `callback` once after `delay` milliseconds. */
  setTimeout(callback: () => void, delay: number): TimerHandle;
  /** Cancels a timer; a handle that already fired or was cleared is ignored. */
  clearTimeout(handle: TimerHandle): void;
}

/** The real clock: `Date.now()` and the global timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, delay) => globalThis.setTimeout(callback, delay),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
};

interface ManualTimer {
  readonly due: number;
  readonly seq: number;
  readonly callback: () => void;
}

/**
 * A clock that only moves when told to, for tests: {@link ManualClock.advance} fires the timers that fall due,
 * in order of due time (then of creation), including timers that those callbacks schedule within the window.
 */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly timers = new Map<number, ManualTimer>();

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, delay: number): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { due: this.current + Math.max(0, delay), seq: id, callback });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  /** The number of timers waiting to fire. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves the time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      let next: [number, ManualTimer] | undefined;
      for (const entry of this.timers) {
        if (entry[1].due <= target && (next === undefined || entry[1].due < next[1].due || (entry[1].due === next[1].due && entry[1].seq < next[1].seq))) {
          next = entry;
        }
      }
      if (next === undefined) {
        break;
      }
      this.timers.delete(next[0]);
      this.current = Math.max(this.current, next[1].due);
      next[1].callback();
    }
    this.current = target;
  }
}
