/**
 * docs/benchmarks.svg, written by hand from the data: one horizontal bar per path to a first answer (cold
 * start, restore, lazy restore), split into its phases; panels of bars, each on its own time axis (the
 * restores again on their own, where their phases can be told apart).
 */

export interface Segment {
  label: string;
  ms: number;
}

export interface Bar {
  label: string;
  totalMs: number;
  segments: Segment[];
}

const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A tick step giving at most ~8 ticks over `maxMs`. */
export function tickStepMs(maxMs: number): number {
  for (const step of [100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000]) {
    if (maxMs / step <= 8) return step;
  }
  return 200_000;
}

export interface Panel {
  title: string;
  bars: readonly Bar[];
}

const WIDTH = 860;
const LEFT = 150;
const PLOT = WIDTH - LEFT - 90;
const BAR = 26;
const GAP = 14;

/** One panel at `top`: its title, its bars on its own time axis. Returns its SVG and its height. */
function renderPanel(
  panel: Panel,
  top: number,
  color: (label: string) => string,
): { svg: string[]; height: number } {
  const maxMs = Math.max(1, ...panel.bars.map((b) => b.totalMs));
  const x = (ms: number) => LEFT + (ms / maxMs) * PLOT;
  const out = [`<text x="${LEFT}" y="${top + 14}" font-weight="bold">${escapeXml(panel.title)}</text>`];
  const barsTop = top + 24;
  panel.bars.forEach((bar, i) => {
    const y = barsTop + i * (BAR + GAP);
    out.push(`<text x="${LEFT - 8}" y="${y + BAR / 2 + 4}" text-anchor="end">${escapeXml(bar.label)}</text>`);
    let at = 0;
    for (const segment of bar.segments) {
      if (segment.ms <= 0) continue;
      const w = Math.max(0.5, x(at + segment.ms) - x(at));
      const tip = escapeXml(`${bar.label}: ${segment.label} ${Math.round(segment.ms)} ms`);
      out.push(
        `<rect x="${x(at).toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${BAR}" fill="${color(segment.label)}"><title>${tip}</title></rect>`,
      );
      at += segment.ms;
    }
    const total =
      bar.totalMs >= 1000 ? `${(bar.totalMs / 1000).toFixed(1)} s` : `${Math.round(bar.totalMs)} ms`;
    out.push(`<text x="${(x(bar.totalMs) + 6).toFixed(1)}" y="${y + BAR / 2 + 4}">${total}</text>`);
  });
  const axisY = barsTop + panel.bars.length * (BAR + GAP);
  out.push(`<line x1="${LEFT}" y1="${axisY}" x2="${LEFT + PLOT}" y2="${axisY}" stroke="#333"/>`);
  const step = tickStepMs(maxMs);
  for (let t = 0; t <= maxMs + 1e-9; t += step) {
    out.push(
      `<line x1="${x(t).toFixed(1)}" y1="${axisY}" x2="${x(t).toFixed(1)}" y2="${axisY + 5}" stroke="#333"/>`,
    );
    out.push(`<text x="${x(t).toFixed(1)}" y="${axisY + 18}" text-anchor="middle">${t / 1000} s</text>`);
  }
  return { svg: out, height: axisY + 30 - top };
}

/** Panels one under the other, each on its own axis, with one legend (a phase keeps its colour). */
export function renderChart(title: string, panels: readonly Panel[]): string {
  const labels = [...new Set(panels.flatMap((p) => p.bars.flatMap((b) => b.segments.map((s) => s.label))))];
  const color = (label: string) => PALETTE[labels.indexOf(label) % PALETTE.length]!;
  const body: string[] = [];
  let top = 40;
  for (const panel of panels) {
    const { svg, height } = renderPanel(panel, top, color);
    body.push(...svg);
    top += height + 10;
  }
  labels.forEach((label, i) => {
    const lx = LEFT + (i % 5) * 130;
    const ly = top + 10 + Math.floor(i / 5) * 20;
    body.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${color(label)}"/>`);
    body.push(`<text x="${lx + 17}" y="${ly}">${escapeXml(label)}</text>`);
  });
  const height = top + 10 + Math.ceil(labels.length / 5) * 20 + 10;
  return `${[
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="${LEFT}" y="24" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    ...body,
    '</svg>',
  ].join('\n')}\n`;
}
