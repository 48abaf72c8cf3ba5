// What a browser downloads to hydrate each page of a running Orchard from a cold cache, and
// how long a throttled connection takes to make a page interactive. Prints one JSON line:
//   {"pages":[{"path","bytes","by_kind":{…},"files":n,"encodings":[…],"interactive_ms"}],
//    "throttled":[{"path","interactive_ms" (the median),"min_ms","max_ms","runs","bytes"}], "errors":[…]}
// A page counts as interactive when its theme switch answers a click (it does nothing
// until the page has hydrated), probed every 20 ms.
// Usage: node scripts/page_budget.js BASE_URL TOKEN PATH[,PATH…] [THROTTLED_PATH,…]
const path = require('path');
const { chromium } = require(path.join(__dirname, '..', 'node_modules', 'playwright-core'));

// The throttled profile: 1.6 Mbit/s down, 750 kbit/s up, 150 ms round trip.
const SLOW = { offline: false, latency: 150, downloadThroughput: 1.6e6 / 8, uploadThroughput: 750e3 / 8 };

function kind(url, type) {
  if (url.endsWith('.wasm')) return 'wasm';
  if (url.endsWith('.js')) return 'js';
  if (url.endsWith('.css')) return 'css';
  if (type === 'Document') return 'html';
  return 'other';
}

// Clicks the theme switch until the click takes, then puts the theme back.
async function untilInteractive(page, t0, timeoutMs) {
  while (performance.now() - t0 < timeoutMs) {
    const took = await page.evaluate(() => {
      const b = document.getElementById('theme-toggle');
      if (!b) return false;
      const before = document.documentElement.classList.contains('dark');
      b.click();
      const after = document.documentElement.classList.contains('dark');
      if (after !== before) b.click();
      return after !== before;
    }).catch(() => false);
    if (took) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 20));
  }
  return null;
}

async function visit(browser, base, token, p, throttle, errors) {
  const context = await browser.newContext({
    extraHTTPHeaders: { authorization: `Bearer ${token}`, 'accept-encoding': 'br, gzip' },
  });
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`${p}: ${m.text().split('\n')[0]}`); });
  page.on('pageerror', (e) => errors.push(`${p}: ${String(e).split('\n')[0]}`));
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: false });
  if (throttle) await cdp.send('Network.emulateNetworkConditions', SLOW);
  const requests = new Map();
  const encodings = new Set();
  cdp.on('Network.responseReceived', (e) => {
    const enc = e.response.headers['content-encoding'] || e.response.headers['Content-Encoding'];
    requests.set(e.requestId, { url: e.response.url, type: e.type, bytes: 0 });
    if (e.response.url.includes('/pkg/')) encodings.add(enc || 'identity');
  });
  cdp.on('Network.loadingFinished', (e) => {
    const r = requests.get(e.requestId);
    if (r) r.bytes = e.encodedDataLength;
  });
  const t0 = performance.now();
  await page.goto(base + p, { waitUntil: 'commit' });
  const interactive = await untilInteractive(page, t0, throttle ? 120000 : 30000);
  // Chunks the page fetches after hydrating (none expected) count too.
  await page.waitForLoadState('networkidle').catch(() => {});
  await context.close();
  const byKind = {};
  let bytes = 0;
  for (const r of requests.values()) {
    // Live updates (a stream that never ends) are not part of loading the page.
    if (r.url.includes('/api/')) continue;
    const k = kind(new URL(r.url).pathname, r.type);
    byKind[k] = (byKind[k] || 0) + r.bytes;
    bytes += r.bytes;
  }
  const files = [...requests.values()].filter((r) => r.url.includes('/pkg/')).map((r) => new URL(r.url).pathname);
  return { path: p, bytes, by_kind: byKind, files, encodings: [...encodings],
    interactive_ms: interactive === null ? null : Math.round(interactive) };
}

(async () => {
  const [base, token, paths, throttled] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const errors = [];
  const pages = [];
  for (const p of paths.split(',')) pages.push(await visit(browser, base, token, p, false, errors));
  // A throttled time moves by a second between visits: each page is visited several
  // times, each from a cold cache, and the median is the figure.
  const runs = Number(process.env.THROTTLED_RUNS || 5);
  const slow = [];
  for (const p of (throttled || '').split(',').filter(Boolean)) {
    const times = [];
    let bytes = 0;
    for (let i = 0; i < runs; i++) {
      const v = await visit(browser, base, token, p, true, errors);
      if (v.interactive_ms !== null) times.push(v.interactive_ms);
      bytes = v.bytes;
    }
    times.sort((a, b) => a - b);
    slow.push({ path: p, bytes, runs, interactive_ms: times.length ? times[Math.floor(times.length / 2)] : null,
      min_ms: times.length ? times[0] : null, max_ms: times.length ? times[times.length - 1] : null });
  }
  console.log(JSON.stringify({ pages, throttled: slow, errors }));
  await browser.close();
})().catch((e) => { console.log(JSON.stringify({ pages: [], throttled: [], errors: [String(e)] })); });
