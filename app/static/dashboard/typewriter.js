// The typing effect: shows a growing text a few characters per frame, so bursts of tokens
// (or the events replayed after a reconnect) type in smoothly instead of jumping. Text is set
// with textContent only.

export class Typewriter {
  /** @param {HTMLElement} node */
  constructor(node) {
    this.node = node;
    this.target = '';
    this.shown = 0;
    this.frame = 0;
  }

  /** The text to type out; `instant` shows all of it at once. */
  set(text, { instant = false } = {}) {
    if (!text.startsWith(this.target.slice(0, this.shown))) this.shown = 0; // replaced, not extended
    this.target = text;
    if (instant || document.hidden) {
      this.shown = text.length;
      this.paint();
    } else if (this.shown < text.length) {
      this.schedule();
    } else {
      this.paint();
    }
  }

  get typing() {
    return this.shown < this.target.length;
  }

  clear() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.target = '';
    this.shown = 0;
    this.paint();
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.tick());
  }

  tick() {
    this.frame = 0;
    const backlog = this.target.length - this.shown;
    if (backlog <= 0) return;
    // Catch up within ~6 frames whatever the backlog, at least one character per frame.
    let next = this.shown + Math.max(1, Math.ceil(backlog / 6));
    const code = this.target.charCodeAt(next - 1);
    if (code >= 0xd800 && code <= 0xdbff) next += 1; // never split a surrogate pair
    this.shown = Math.min(next, this.target.length);
    this.paint();
    if (this.typing) this.schedule();
  }

  paint() {
    const text = this.target.slice(0, this.shown);
    if (this.node.textContent !== text) this.node.textContent = text;
  }
}
