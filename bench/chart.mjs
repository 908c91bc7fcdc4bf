#!/usr/bin/env node
// Draws req/s per proxy from proxy-bench.sh results files (RESULTS_OUT) as an SVG bar chart:
// one group per cell (body size × connections), one bar per proxy. With several files (runs of
// the same build) each bar is the median of the runs: this VM's speed moves between and within
// runs, and one run's cells draw different phases. No dependencies.
// Usage: node bench/chart.mjs <results.md> [<results.md> ...] <out.svg>
import fs from 'node:fs';
import { median, rate, readProxyRun } from './runs.mjs';

const args = process.argv.slice(2);
const output = args.pop();
if (args.length === 0 || !output) {
  console.error('usage: node bench/chart.mjs <proxy-bench results.md> [more runs ...] <out.svg>');
  process.exit(2);
}
const rows = args.flatMap(readProxyRun).filter((r) => r.label !== 'nginx-direct');
const labels = [...new Set(rows.map((r) => r.label))];
const cells = [...new Set(rows.map((r) => `${r.size} / ${r.conns} conns`))];
const value = (label, cell) => median(rows
  .filter((x) => x.label === label && `${x.size} / ${x.conns} conns` === cell)
  .map(rate));
const max = Math.max(...labels.flatMap((l) => cells.map((c) => value(l, c))));
const runs = args.length === 1 ? 'one run' : `median of ${args.length} runs`;
const colors = ['#9aa0a6', '#c5cae9', '#5c6bc0', '#ffb74d', '#a1887f', '#90a4ae', '#e53935', '#ef9a9a', '#43a047'];
const W = 900, H = 420, left = 60, top = 40, bottom = 70, chartH = H - top - bottom;
const groupW = (W - left - 20) / cells.length, barW = Math.min(22, (groupW - 20) / labels.length);
const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">\n`;
svg += `<rect width="${W}" height="${H}" fill="white"/>\n<text x="${left}" y="22" font-size="14" font-weight="bold">WARP proxy: requests per second (higher is better), ${runs} of proxy-bench.sh</text>\n`;
for (let i = 0; i <= 4; i++) {
  const v = (max * i) / 4, y = top + chartH - (chartH * i) / 4;
  svg += `<line x1="${left}" x2="${W - 10}" y1="${y}" y2="${y}" stroke="#eee"/><text x="${left - 6}" y="${y + 4}" text-anchor="end">${Math.round(v)}</text>\n`;
}
cells.forEach((cell, ci) => {
  const x0 = left + ci * groupW + 10;
  labels.forEach((label, li) => {
    const v = value(label, cell), h = (chartH * v) / max;
    svg += `<rect x="${x0 + li * barW}" y="${top + chartH - h}" width="${barW - 2}" height="${h}" fill="${colors[li % colors.length]}"><title>${esc(label)} ${esc(cell)}: ${Math.round(v)} req/s</title></rect>\n`;
  });
  svg += `<text x="${x0 + (labels.length * barW) / 2}" y="${top + chartH + 16}" text-anchor="middle">${esc(cell)}</text>\n`;
});
labels.forEach((label, li) => {
  const x = left + (li % 5) * 160, y = H - 30 + Math.floor(li / 5) * 16;
  svg += `<rect x="${x}" y="${y - 9}" width="10" height="10" fill="${colors[li % colors.length]}"/><text x="${x + 14}" y="${y}">${esc(label)}</text>\n`;
});
svg += '</svg>\n';
fs.writeFileSync(output, svg);
console.log(`wrote ${output} (${labels.length} proxies × ${cells.length} cells)`);
