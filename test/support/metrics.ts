/** One scrape of `/metrics`, read as Prometheus reads the text format: a value per series (name and labels). */
export class Scrape {
  private readonly values = new Map<string, number>();

  constructor(readonly text: string) {
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels = Object.fromEntries(
        [...(match[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map(([, key, value]) => [key, value]),
      );
      this.values.set(seriesKey(match[1], labels), Number(match[3]));
    }
  }

  /** The series' value; undefined when the scrape does not have it. */
  value(name: string, labels: Record<string, string> = {}): number | undefined {
    return this.values.get(seriesKey(name, labels));
  }

  /** The series' value, 0 when absent (a labelled counter appears with its first event). */
  count(name: string, labels: Record<string, string> = {}): number {
    return this.value(name, labels) ?? 0;
  }

  /** Every series of `name`, with its labels. */
  series(name: string): Array<{ labels: Record<string, string>; value: number }> {
    return [...this.values]
      .filter(([key]) => key.startsWith(`${name}{`) || key === name)
      .map(([key, value]) => ({ labels: JSON.parse(key.slice(name.length) || '{}') as Record<string, string>, value }));
  }
}

function seriesKey(name: string, labels: Record<string, string>): string {
  const sorted = Object.keys(labels).sort();
  return sorted.length === 0 ? name : `${name}${JSON.stringify(Object.fromEntries(sorted.map((key) => [key, labels[key]])))}`;
}

export async function scrape(url: string, token?: string): Promise<Scrape> {
  const response = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (response.status !== 200) throw new Error(`GET ${url}: HTTP ${response.status} ${await response.text()}`);
  expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return new Scrape(await response.text());
}
