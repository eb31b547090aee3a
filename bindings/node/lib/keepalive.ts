// Keeping the process alive while something waits on the engine (a call in flight, a pool
// operation): one interval per owner, referenced while needed and unreferenced otherwise, rather
// than an interval made and cleared per wait (which cost several microseconds per call).

export class KeepAlive {
  #timer: ReturnType<typeof setInterval> | undefined;
  #held = false;

  /** Holds the process alive (`true`) or lets it exit (`false`). */
  set(want: boolean): void {
    if (want === this.#held) return;
    this.#held = want;
    if (want) {
      if (this.#timer) this.#timer.ref();
      else this.#timer = setInterval(() => {}, 1 << 30);
    } else {
      this.#timer?.unref();
    }
  }

  /** Lets the process exit and drops the timer. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#held = false;
  }
}
