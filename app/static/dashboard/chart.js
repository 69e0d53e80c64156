// Draws final.chart_data ({type: "line"|"bar", title, labels, series: [{name, values}], unit})
// as inline SVG. No library and no network: every shape is built here, and every label is a
// text node.
import { formatValue, svg } from './dom.js';

const WIDTH = 640;
const HEIGHT = 280;
const MARGIN = { top: 16, right: 16, bottom: 44, left: 56 };
const LEGEND_HEIGHT = 22;
const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;
const monthName = new Intl.DateTimeFormat(undefined, { month: 'short', timeZone: 'UTC' });
const COLORS = ['#2f6fed', '#e8590c', '#2b8a3e', '#ae3ec9', '#f59f00', '#0c8599'];

/**
 * @param {import('../stagecast.js').ChartData} chart
 * @returns {SVGSVGElement}
 */
export function renderChart(chart) {
  const labels = (chart.labels ?? []).map(String);
  const series = (chart.series ?? []).filter((s) => Array.isArray(s?.values));
  const values = series.flatMap((s) => s.values.filter(Number.isFinite));
  const ticks = niceTicks(Math.min(0, ...values), Math.max(0, ...values));
  const low = ticks[0];
  const high = ticks[ticks.length - 1];
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const top = MARGIN.top + (series.length > 1 ? LEGEND_HEIGHT : 0);
  const plotH = HEIGHT - top - MARGIN.bottom;
  const y = (v) => top + plotH - ((v - low) / (high - low || 1)) * plotH;
  const band = plotW / Math.max(1, labels.length);
  const x = (i) => MARGIN.left + band * (i + 0.5);

  const root = svg('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    class: `chart-svg chart-${chart.type}`,
    role: 'img',
    'aria-label': `${chart.title ?? 'Chart'}${chart.unit ? ` (${chart.unit})` : ''}`,
    'data-type': chart.type,
  });
  root.append(svg('title', {}, `${chart.title ?? ''}${chart.unit ? ` (${chart.unit})` : ''}`));

  // Grid and y axis.
  const grid = svg('g', { class: 'chart-grid' });
  for (const tick of ticks) {
    grid.append(
      svg('line', { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(tick), y2: y(tick) }),
      svg('text', { x: MARGIN.left - 8, y: y(tick), 'text-anchor': 'end', 'dominant-baseline': 'middle', class: 'chart-tick' }, formatValue(tick)),
    );
  }
  root.append(grid);

  // X labels: at most ~12 shown, so they never overlap. Months (YYYY-MM) show as "Nov", with
  // the year under the first one and under each January.
  const every = Math.max(1, Math.ceil(labels.length / 12));
  const monthly = labels.length > 4 && labels.every((l) => MONTH.test(l));
  const xAxis = svg('g', { class: 'chart-x' });
  labels.forEach((label, i) => {
    if (i % every) return;
    const base = HEIGHT - MARGIN.bottom + 18;
    if (monthly) {
      const [year, month] = label.split('-').map(Number);
      const name = monthName.format(new Date(Date.UTC(year, month - 1, 15)));
      xAxis.append(svg('text', { x: x(i), y: base, 'text-anchor': 'middle', class: 'chart-tick' }, svg('title', {}, label), name));
      if (i === 0 || month === 1) xAxis.append(svg('text', { x: x(i), y: base + 15, 'text-anchor': 'middle', class: 'chart-tick chart-year' }, String(year)));
    } else {
      xAxis.append(svg('text', { x: x(i), y: base, 'text-anchor': 'middle', class: 'chart-tick' }, shortLabel(label, labels.length)));
    }
  });
  xAxis.append(svg('line', { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(0), y2: y(0), class: 'chart-axis' }));
  root.append(xAxis);

  const plot = svg('g', { class: 'chart-plot' });
  if (chart.type === 'bar') drawBars(plot, series, labels, { x, y, band });
  else drawLines(plot, series, labels, { x, y });
  root.append(plot);

  if (series.length > 1) root.append(legend(series));
  return root;
}

function drawBars(plot, series, labels, { x, y, band }) {
  const groupW = band * 0.72;
  const barW = groupW / Math.max(1, series.length);
  series.forEach((s, n) => {
    const g = svg('g', { class: 'chart-series', 'data-series': s.name, fill: COLORS[n % COLORS.length] });
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v) || i >= labels.length) return;
      const left = x(i) - groupW / 2 + n * barW;
      const top = Math.min(y(v), y(0));
      g.append(
        svg('rect', { x: left + 1, y: top, width: Math.max(1, barW - 2), height: Math.max(1, Math.abs(y(0) - y(v))), rx: 2, class: 'chart-bar' },
          svg('title', {}, `${labels[i]} · ${s.name}: ${formatValue(v)}`)),
      );
    });
    plot.append(g);
  });
}

function drawLines(plot, series, labels, { x, y }) {
  series.forEach((s, n) => {
    const color = COLORS[n % COLORS.length];
    const points = s.values.map((v, i) => [i, v]).filter(([i, v]) => Number.isFinite(v) && i < labels.length);
    const g = svg('g', { class: 'chart-series', 'data-series': s.name });
    if (points.length) {
      const d = points.map(([i, v], k) => `${k ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
      const base = y(0).toFixed(1);
      const area = `${d} L${x(points[points.length - 1][0]).toFixed(1)},${base} L${x(points[0][0]).toFixed(1)},${base} Z`;
      g.append(svg('path', { d: area, fill: color, 'fill-opacity': series.length > 1 ? 0 : 0.08, stroke: 'none' }));
      g.append(svg('path', { d, fill: 'none', stroke: color, 'stroke-width': 2.5, 'stroke-linejoin': 'round', class: 'chart-line' }));
    }
    for (const [i, v] of points) {
      g.append(
        svg('circle', { cx: x(i), cy: y(v), r: 3.5, fill: '#fff', stroke: color, 'stroke-width': 2, class: 'chart-point' },
          svg('title', {}, `${labels[i]} · ${s.name}: ${formatValue(v)}`)),
      );
    }
    plot.append(g);
  });
}

function legend(series) {
  const g = svg('g', { class: 'chart-legend' });
  let left = MARGIN.left;
  series.forEach((s, n) => {
    g.append(
      svg('rect', { x: left, y: 4, width: 10, height: 10, rx: 2, fill: COLORS[n % COLORS.length] }),
      svg('text', { x: left + 14, y: 13, class: 'chart-tick' }, s.name),
    );
    left += 24 + String(s.name).length * 7;
  });
  return g;
}

/** "2025-11" stays; long labels are cut when there are many. */
function shortLabel(label, count) {
  const limit = count > 8 ? 8 : 14;
  return label.length > limit ? `${label.slice(0, limit - 1)}…` : label;
}

/** Round tick values covering [low, high]: steps of 1, 2 or 5 times a power of ten. */
export function niceTicks(low, high, count = 5) {
  if (!(high > low)) high = low + 1;
  const raw = (high - low) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => raw <= s);
  const ticks = [];
  for (let t = Math.floor(low / step) * step; t <= high + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  if (ticks[ticks.length - 1] < high) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}
