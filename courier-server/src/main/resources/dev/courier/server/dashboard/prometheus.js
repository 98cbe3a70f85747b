// Reading the Prometheus text format (version 0.0.4) that /metrics serves, and the few
// calculations the dashboard needs from consecutive scrapes: counter rates and histogram
// quantiles, computed the way Prometheus' rate() and histogram_quantile() do.
(function (global) {
  'use strict';

  // One sample line: name, optional {labels}, value, optional timestamp.
  function parseLine(line) {
    let i = 0;
    while (i < line.length && line[i] !== '{' && line[i] !== ' ' && line[i] !== '\t') i++;
    const name = line.slice(0, i);
    const labels = {};
    if (line[i] === '{') {
      i++;
      for (;;) {
        while (line[i] === ' ' || line[i] === ',') i++;
        if (line[i] === '}') { i++; break; }
        const eq = line.indexOf('=', i);
        if (eq < 0 || line[eq + 1] !== '"') return null;
        const key = line.slice(i, eq).trim();
        let j = eq + 2;
        let value = '';
        while (j < line.length && line[j] !== '"') {
          if (line[j] === '\\' && j + 1 < line.length) {
            const c = line[j + 1];
            value += c === 'n' ? '\n' : c;
            j += 2;
          } else {
            value += line[j++];
          }
        }
        if (j >= line.length) return null;
        labels[key] = value;
        i = j + 1;
      }
    }
    const rest = line.slice(i).trim().split(/\s+/);
    if (!name || rest.length === 0 || rest[0] === '') return null;
    return { name: name, labels: labels, value: parseValue(rest[0]) };
  }

  function parseValue(text) {
    switch (text) {
      case '+Inf': return Infinity;
      case '-Inf': return -Infinity;
      case 'NaN': return NaN;
      default: return Number(text);
    }
  }

  // The whole exposition: {samples: [{name, labels, value}], types: {family: 'counter'|...}}.
  // Lines that do not parse are skipped: one odd meter must not blank the dashboard.
  function parse(text) {
    const samples = [];
    const types = {};
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line === '') continue;
      if (line[0] === '#') {
        const m = /^#\s+TYPE\s+(\S+)\s+(\S+)/.exec(line);
        if (m) types[m[1]] = m[2];
        continue;
      }
      const s = parseLine(line);
      if (s) samples.push(s);
    }
    return { samples: samples, types: types };
  }

  function seriesKey(name, labels) {
    const keys = Object.keys(labels).sort();
    return name + '{' + keys.map(k => k + '=' + JSON.stringify(labels[k])).join(',') + '}';
  }

  function matches(labels, filter) {
    if (!filter) return true;
    for (const k of Object.keys(filter)) {
      if (labels[k] !== filter[k]) return false;
    }
    return true;
  }

  // A scrape taken at time t (seconds), with lookups by metric name.
  class Scrape {
    constructor(text, t) {
      const parsed = parse(text);
      this.t = t;
      this.types = parsed.types;
      this.byName = new Map();
      for (const s of parsed.samples) {
        let list = this.byName.get(s.name);
        if (!list) this.byName.set(s.name, (list = []));
        list.push(s);
      }
    }

    has(name) {
      return this.byName.has(name);
    }

    samples(name, filter) {
      return (this.byName.get(name) || []).filter(s => matches(s.labels, filter));
    }

    // Sum over every series of a name (NaN values, such as a gauge not read yet, are left out);
    // null when no series exists at all, so that charts show a gap rather than a false zero.
    sum(name, filter) {
      const list = this.samples(name, filter).filter(s => !Number.isNaN(s.value));
      if (list.length === 0) return null;
      return list.reduce((a, s) => a + s.value, 0);
    }

    max(name, filter) {
      const list = this.samples(name, filter).filter(s => !Number.isNaN(s.value));
      if (list.length === 0) return null;
      return list.reduce((a, s) => Math.max(a, s.value), -Infinity);
    }

    // Cumulative bucket counts of a histogram, summed over series, by upper bound.
    buckets(name, filter) {
      const byLe = new Map();
      for (const s of this.samples(name + '_bucket', filter)) {
        const le = parseValue(s.labels.le);
        byLe.set(le, (byLe.get(le) || 0) + s.value);
      }
      return byLe;
    }
  }

  // Per-second increase of a counter between two scrapes, summed over series. A series whose
  // value went down was reset (its process restarted): its whole current value is the increase,
  // as in Prometheus. A series that is new in the later scrape counts from zero only if the
  // earlier scrape had the family at all; otherwise the process just started exporting it.
  function rate(earlier, later, name, filter) {
    if (!earlier || !later || later.t <= earlier.t) return null;
    const now = later.samples(name, filter);
    if (now.length === 0) return null;
    const before = new Map();
    for (const s of earlier.samples(name, filter)) before.set(seriesKey(s.name, s.labels), s.value);
    let increase = 0;
    for (const s of now) {
      const prev = before.get(seriesKey(s.name, s.labels));
      if (prev === undefined) {
        if (earlier.has(name)) increase += s.value;
      } else {
        increase += s.value >= prev ? s.value - prev : s.value;
      }
    }
    return increase / (later.t - earlier.t);
  }

  // The q-quantile (0..1) of the observations a histogram recorded between two scrapes, in the
  // histogram's unit; null when nothing was observed. Linear interpolation inside the bucket, the
  // lowest bucket starting at 0, and the highest finite bound when the rank falls in +Inf: the
  // same rules as histogram_quantile().
  function quantile(q, earlier, later, name, filter) {
    if (!earlier || !later) return null;
    const a = earlier.buckets(name, filter);
    const b = later.buckets(name, filter);
    if (b.size === 0) return null;
    const bounds = Array.from(b.keys()).sort((x, y) => x - y);
    const counts = bounds.map(le => {
      const d = b.get(le) - (a.get(le) || 0);
      return d < 0 ? b.get(le) : d;
    });
    const total = counts[counts.length - 1];
    if (!(total > 0) || bounds[bounds.length - 1] !== Infinity) return null;
    const rank = q * total;
    let i = 0;
    while (i < counts.length - 1 && counts[i] < rank) i++;
    if (bounds[i] === Infinity) return bounds.length > 1 ? bounds[bounds.length - 2] : null;
    const lower = i === 0 ? 0 : bounds[i - 1];
    const below = i === 0 ? 0 : counts[i - 1];
    const inBucket = counts[i] - below;
    if (inBucket <= 0) return bounds[i];
    return lower + (bounds[i] - lower) * ((rank - below) / inBucket);
  }

  global.CourierProm = { parse: parse, Scrape: Scrape, rate: rate, quantile: quantile };
})(window);
