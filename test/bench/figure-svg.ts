// Lays out the bench figure's panels (test/bench/figure.ts) as one SVG: a label column, bars on one scale
// per panel with a dashed goal line per row, and each bar's figure printed after it. Column widths come
// from estimated text widths, so no label is cut and no figure runs off the picture; the layout is
// returned as data too, so a test can check what is drawn where.
import type { Bar, Panel, Tone } from './figure.js';

export const FILL: Record<Tone, string> = {
  met: '#2e7d32',
  missed: '#c62828',
  plain: '#4a5568',
  reference: '#cbd2d9',
  peer: 'url(#peer)',
};

const W = 980;
const PAD = 16;
const FONT = 12;
const BAR_H = 15;
const BAR_GAP = 3;
const ROW_GAP = 9;
const MIN_BARS = 260;

/** Width of text in px at `size`, by character class, on the wide side of common sans-serif fonts. */
export function textWidth(s: string, size = FONT): number {
  let em = 0;
  for (const ch of s) {
    if (" .,:;|!il'’".includes(ch)) em += 0.32;
    else if ('fjtrI()[]-'.includes(ch)) em += 0.42;
    else if ('mwMW—'.includes(ch)) em += 0.96;
    else if ('×+−=≤≥<>→÷'.includes(ch)) em += 0.84;
    else if (/[0-9]/.test(ch)) em += 0.64;
    else if (/[A-Z]/.test(ch)) em += 0.74;
    else em += 0.62;
  }
  return em * size;
}

/** One piece of text as placed, for checks. */
export interface Placed {
  text: string;
  x: number;
  width: number;
  anchor: 'start' | 'end';
}

export interface Drawn {
  svg: string;
  width: number;
  height: number;
  texts: Placed[];
  /** Every bar as drawn: its tone, and the goal line of its row (x), if any. */
  bars: Array<{ row: string; tone: Tone; x: number; width: number; goalX?: number }>;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A round step for about four ticks over [lo, hi]. */
function tickStep(lo: number, hi: number): number {
  const raw = (hi - lo) / 4 || 1;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? 10 * mag;
}

class Canvas {
  readonly out: string[] = [];
  readonly texts: Placed[] = [];
  readonly bars: Drawn['bars'] = [];

  text(s: string, x: number, y: number, opts: { anchor?: 'start' | 'end'; size?: number; attrs?: string } = {}): void {
    const anchor = opts.anchor ?? 'start';
    const size = opts.size ?? FONT;
    this.texts.push({ text: s, x, width: textWidth(s, size), anchor });
    const a = `${anchor === 'end' ? ' text-anchor="end"' : ''}${size !== FONT ? ` font-size="${size}"` : ''}${opts.attrs ? ` ${opts.attrs}` : ''}`;
    this.out.push(`<text x="${x.toFixed(1)}" y="${y.toFixed(1)}"${a}>${esc(s)}</text>`);
  }
}

const n1 = (v: number) => v.toFixed(1);

/** Draws one panel from `top`; returns the y below it. */
function drawPanel(c: Canvas, p: Panel, top: number, labelW: number, barsW: number): number {
  const x0 = PAD + labelW + 10;
  const values = p.rows.flatMap((r) => [...r.bars.map((b) => b.value), ...(r.goal !== undefined ? [r.goal] : [])]);
  const lo = Math.min(0, ...values);
  const hi = Math.max(0, ...values) || 1;
  const step = tickStep(lo, hi);
  const [from, to] = [Math.floor(lo / step) * step, Math.ceil(hi / step) * step];
  const x = (v: number) => x0 + ((v - from) / (to - from)) * barsW;
  const days = [...new Set(p.rows.flatMap((r) => r.days))].sort();
  c.text(p.title, PAD, top + 14, { size: 14, attrs: 'font-weight="bold"' });
  if (days.length) c.text(`measured ${days.join(', ')}`, W - PAD, top + 14, { anchor: 'end', size: 11, attrs: 'fill="#666"' });
  c.text(p.note, PAD, top + 30, { size: 11, attrs: 'fill="#555"' });
  const rowsTop = top + 40;
  const heights = p.rows.map((r) => Math.max(1, r.bars.length) * (BAR_H + BAR_GAP) - BAR_GAP);
  const rowsH = heights.reduce((a, h) => a + h + ROW_GAP, ROW_GAP);
  c.out.push(`<rect x="${n1(x0)}" y="${rowsTop}" width="${n1(barsW)}" height="${rowsH}" fill="#f7f8fa"/>`);
  for (let v = from; v <= to + step / 1e6; v += step) {
    const tx = x(v);
    c.out.push(
      `<line x1="${n1(tx)}" y1="${rowsTop}" x2="${n1(tx)}" y2="${rowsTop + rowsH}" stroke="${Math.abs(v) < step / 1e6 ? '#888' : '#e1e4e8'}"/>`,
    );
    const label = `${Number(v.toPrecision(6)).toLocaleString('en-US').replace('-', '−')}${v === to ? (p.unit === '×' ? '×' : ` ${p.unit}`) : ''}`;
    c.text(label, tx, rowsTop + rowsH + 13, { size: 10, attrs: 'fill="#666" text-anchor="middle"' });
    // Tick labels are centred: count half of each side for the fit checks.
    c.texts[c.texts.length - 1]!.x -= textWidth(label, 10) / 2;
  }
  let y = rowsTop + ROW_GAP;
  p.rows.forEach((r, i) => {
    const h = heights[i]!;
    c.text(r.label, PAD + labelW, y + h / 2 + 4, { anchor: 'end' });
    const goalX = r.goal !== undefined ? x(r.goal) : undefined;
    if (!r.bars.length) c.text('not measured', x0 + 6, y + h / 2 + 4, { attrs: 'fill="#888" font-style="italic"' });
    r.bars.forEach((b: Bar, j) => {
      const by = y + j * (BAR_H + BAR_GAP);
      const [a, e] = [x(Math.min(0, b.value)), x(Math.max(0, b.value))];
      const width = Math.max(1, e - a);
      const stroke = b.tone === 'peer' || b.tone === 'reference' ? ' stroke="#7b8794" stroke-width="0.8"' : '';
      c.out.push(`<rect x="${n1(a)}" y="${n1(by)}" width="${n1(width)}" height="${BAR_H}" fill="${FILL[b.tone]}"${stroke}/>`);
      c.bars.push({ row: r.label, tone: b.tone, x: a, width, ...(goalX !== undefined ? { goalX } : {}) });
      const after = Math.max(e, x(0), goalX ?? 0) + 6;
      c.text(b.text, after, by + BAR_H - 3.5, { attrs: b.tone === 'missed' ? 'fill="#9b1c1c"' : '' });
    });
    if (goalX !== undefined)
      c.out.push(
        `<line x1="${n1(goalX)}" y1="${n1(y - 3)}" x2="${n1(goalX)}" y2="${n1(y + h + 3)}" stroke="#111" stroke-width="2" stroke-dasharray="4 2"/>`,
      );
    y += h + ROW_GAP;
  });
  return rowsTop + rowsH + 30;
}

/** The legend: what each fill means. */
function drawLegend(c: Canvas, y: number): void {
  const items: Array<[string, string]> = [
    [FILL.met, 'goal met'],
    [FILL.missed, 'goal missed'],
    [FILL.plain, 'fedlet, no goal'],
    [FILL.reference, 'reference: direct, Go hop, lower kubelet'],
    [FILL.peer, 'Liqo, same run'],
  ];
  let x = PAD;
  for (const [fill, label] of items) {
    c.out.push(`<rect x="${n1(x)}" y="${y - 10}" width="14" height="12" fill="${fill}" stroke="#7b8794" stroke-width="0.5"/>`);
    c.text(label, x + 19, y, { size: 11 });
    x += 19 + textWidth(label, 11) + 16;
  }
  c.out.push(
    `<line x1="${n1(x + 7)}" y1="${y - 12}" x2="${n1(x + 7)}" y2="${y + 3}" stroke="#111" stroke-width="2" stroke-dasharray="4 2"/>`,
  );
  c.text('goal', x + 14, y, { size: 11 });
}

/** The whole figure: a title, the legend, then every panel stacked. */
export function drawFigure(panels: Panel[], subtitle: string): Drawn {
  const c = new Canvas();
  const labels = panels.flatMap((p) => p.rows.map((r) => textWidth(r.label)));
  const labelW = Math.max(...labels, 60);
  // Every bar's figure starts at most at the far end of the bars: the widest decides their width.
  const figures = panels.flatMap((p) => p.rows.flatMap((r) => r.bars.map((b) => textWidth(b.text))));
  const barsW = Math.max(MIN_BARS, W - 2 * PAD - labelW - 10 - 6 - Math.max(0, ...figures));
  c.text("fedlet's own cost (npm run bench)", PAD, 26, { size: 17, attrs: 'font-weight="bold"' });
  c.text(subtitle, PAD, 46, { size: 11, attrs: 'fill="#555"' });
  drawLegend(c, 70);
  let y = 92;
  for (const p of panels) y = drawPanel(c, p, y, labelW, barsW);
  const height = y;
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="DejaVu Sans, Verdana, Arial, sans-serif" font-size="${FONT}">`,
    '<defs><pattern id="peer" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">',
    '<rect width="6" height="6" fill="#eef0f3"/><line x1="0" y1="0" x2="0" y2="6" stroke="#7b8794" stroke-width="2.5"/></pattern></defs>',
    '<rect width="100%" height="100%" fill="white"/>',
    ...c.out,
    '</svg>',
  ].join('\n');
  return { svg: `${svg}\n`, width: W, height, texts: c.texts, bars: c.bars };
}
