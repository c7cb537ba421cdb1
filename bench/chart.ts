// A small SVG bar chart of the benchmark (converted to PNG with rsvg-convert when present).
export interface Bar { readonly group: string; readonly peer: string; readonly value: number }

const COLORS = ['#2b6cb0', '#dd6b20', '#38a169', '#805ad5', '#c53030'];

export function barChart(title: string, unit: string, bars: readonly Bar[], peers: readonly string[]): string {
  const groups = [...new Set(bars.map((b) => b.group))];
  const w = 180 * groups.length + 120;
  const h = 380;
  const max = Math.max(1e-9, ...bars.map((b) => b.value)) * 1.15;
  const plotH = 260;
  const bw = Math.floor(150 / Math.max(1, peers.length));
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="11">`;
  svg += `<rect width="100%" height="100%" fill="white"/><text x="${w / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`;
  svg += `<text x="14" y="${40 + plotH / 2}" transform="rotate(-90 14 ${40 + plotH / 2})" text-anchor="middle">${esc(unit)}</text>`;
  svg += `<line x1="60" y1="${40 + plotH}" x2="${w - 20}" y2="${40 + plotH}" stroke="black"/>`;
  groups.forEach((g, gi) => {
    const x0 = 80 + gi * 180;
    peers.forEach((p, pi) => {
      const b = bars.find((x) => x.group === g && x.peer === p);
      if (!b) return;
      const bh = (b.value / max) * plotH;
      const x = x0 + pi * bw;
      svg += `<rect x="${x}" y="${40 + plotH - bh}" width="${bw - 4}" height="${bh}" fill="${COLORS[pi % COLORS.length]}"/>`;
      svg += `<text x="${x + (bw - 4) / 2}" y="${36 + plotH - bh}" text-anchor="middle" font-size="9">${b.value >= 100 ? b.value.toFixed(0) : b.value.toFixed(1)}</text>`;
    });
    svg += `<text x="${x0 + 75}" y="${58 + plotH}" text-anchor="middle">${esc(g)}</text>`;
  });
  peers.forEach((p, pi) => {
    svg += `<rect x="${80 + pi * 150}" y="${h - 30}" width="12" height="12" fill="${COLORS[pi % COLORS.length]}"/><text x="${96 + pi * 150}" y="${h - 20}">${esc(p)}</text>`;
  });
  return svg + '</svg>';
}
