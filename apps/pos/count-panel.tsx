/** Counting shelves: filled in once the counts client lands. */
import type { Session } from "./session";

export function CountPanel(_props: { session: Session }) {
  return (
    <section aria-label="Count" class="count-panel">
      <h2>Count</h2>
      <p class="muted">Shelf counts are not available on this server yet.</p>
    </section>
  );
}
