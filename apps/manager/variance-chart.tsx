/**
 * Variances by SKU as horizontal bars, largest first (view/report.ts decides the order): shortages
 * to the left in red, surpluses to the right in blue, so the size and the direction read at once.
 * Plain SVG: a dozen lines of drawing do not need a chart library.
 */
import { money } from "../shared/format";
import type { VarianceBar } from "./view/report";

const ROW = 22;
const LABEL = 110;
const WIDTH = 640;
const VALUE = 90;

export function VarianceChart({ bars, max = 25 }: { bars: readonly VarianceBar[]; max?: number }) {
  const shown = bars.slice(0, max);
  if (shown.length === 0) return <p class="muted">No variances: every counted line matches.</p>;
  const half = (WIDTH - LABEL - VALUE) / 2;
  const zero = LABEL + half;
  const height = shown.length * ROW + 8;
  return (
    <figure class="variance-chart">
      <svg role="img" aria-label={`Variance by SKU, largest first: ${shown.map((b) => `${b.sku} ${b.variance > 0 ? "+" : ""}${b.variance}`).join(", ")}`} viewBox={`0 0 ${WIDTH} ${height}`} width={WIDTH} height={height} style={{ maxWidth: "100%", height: "auto" }}>
        <line x1={zero} x2={zero} y1={0} y2={height} stroke="#94a3b8" />
        {shown.map((b, i) => {
          const w = Math.max(2, b.share * half);
          const y = i * ROW + 4;
          const x = b.variance < 0 ? zero - w : zero;
          return (
            <g key={b.sku} data-sku={b.sku}>
              <text x={LABEL - 6} y={y + 14} text-anchor="end" font-size="12">
                {b.sku}
              </text>
              <rect x={x} y={y} width={w} height={ROW - 6} fill={b.variance < 0 ? "#dc2626" : "#2563eb"} rx={2} />
              <text x={WIDTH - 4} y={y + 14} text-anchor="end" font-size="12">
                {b.variance > 0 ? "+" : ""}
                {b.variance}
                {b.valueMinor !== null ? ` (${money(b.valueMinor)})` : ""}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption class="muted">
        Counted minus expected, units{shown.some((b) => b.valueMinor !== null) ? " (value)" : ""}; short left, over right.{bars.length > shown.length ? ` ${bars.length - shown.length} smaller variances not drawn.` : ""}
      </figcaption>
    </figure>
  );
}
