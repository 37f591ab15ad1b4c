import { type Row } from './tables';

const COLORS: Record<string, string> = {
  herald: '#175ddc',
  'ws-floor': '#8a8f98',
  socketio: '#1f9d74',
  standalone: '#6f42c1',
};
/** For the columns of Herald-only scenarios (configurations, ways in), in order. */
const PALETTE = ['#175ddc', '#6f42c1', '#1f9d74', '#8a8f98'];
const WIDTH = 720;
const LABEL_WIDTH = 130;
const VALUE_WIDTH = 110;
const BAR_HEIGHT = 18;
const BAR_GAP = 6;
const TITLE_HEIGHT = 26;
const GROUP_GAP = 14;

function escaped(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Horizontal bars, one group per charted figure, one bar per column (server or configuration),
 * each group scaled to its own largest value (the figures have different units). Plain SVG, no
 * fonts or scripts to load.
 */
export function barChart(title: string, rows: Row[], servers: string[]): string {
  const charted = rows.filter((row) => row.charted);
  const groupHeight = TITLE_HEIGHT + servers.length * (BAR_HEIGHT + BAR_GAP) + GROUP_GAP;
  const height = 40 + charted.length * groupHeight;
  const barSpace = WIDTH - LABEL_WIDTH - VALUE_WIDTH - 20;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="24" font-size="15" font-weight="bold">${escaped(title)}</text>`,
  ];
  charted.forEach((row, groupIndex) => {
    const top = 40 + groupIndex * groupHeight;
    const largest = Math.max(...servers.map((server) => row.values[server] ?? 0), Number.MIN_VALUE);
    const better = row.better === 'higher' ? 'higher is better' : 'lower is better';
    parts.push(
      `<text x="10" y="${top + 17}" font-weight="bold">${escaped(`${row.label} (${better})`)}</text>`,
    );
    servers.forEach((server, index) => {
      const y = top + TITLE_HEIGHT + index * (BAR_HEIGHT + BAR_GAP);
      const value = row.values[server];
      const width = value === undefined ? 0 : Math.max(1, (value / largest) * barSpace);
      const shown =
        value === undefined
          ? 'n/a'
          : value.toLocaleString('en-US', {
              minimumFractionDigits: row.digits,
              maximumFractionDigits: row.digits,
            });
      parts.push(
        `<text x="${LABEL_WIDTH - 6}" y="${y + 13}" text-anchor="end">${escaped(server.replace(/`/g, ''))}</text>`,
        `<rect x="${LABEL_WIDTH}" y="${y}" width="${width.toFixed(1)}" height="${BAR_HEIGHT}" fill="${COLORS[server] ?? PALETTE[index % PALETTE.length]}"/>`,
        `<text x="${(LABEL_WIDTH + width + 6).toFixed(1)}" y="${y + 13}">${shown}</text>`,
      );
    });
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
