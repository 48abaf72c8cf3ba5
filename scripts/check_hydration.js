// Loads pages of a running Orchard in headless Chromium and reports, as one JSON line,
// which of them hydrated (the live indicator turns "Live"), any console errors, and the
// encoding the client's .wasm arrived in.
// Usage: node scripts/check_hydration.js BASE_URL TOKEN PATH[,PATH…]
const path = require('path');
const { chromium } = require(path.join(__dirname, '..', 'node_modules', 'playwright-core'));

(async () => {
  const [base, token, paths] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ extraHTTPHeaders: { authorization: `Bearer ${token}` } });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text().split('\n')[0]); });
  page.on('pageerror', (e) => errors.push(String(e).split('\n')[0]));
  const hydrated = [];
  let wasmEncoding = null;
  page.on('response', (r) => {
    if (r.url().endsWith('.wasm')) wasmEncoding = r.headers()['content-encoding'] || 'identity';
  });
  for (const p of paths.split(',')) {
    await page.goto(base + p);
    try {
      await page.waitForFunction(() => {
        const e = document.getElementById('live-indicator');
        return e && e.innerText.includes('Live');
      }, null, { timeout: 20000 });
      hydrated.push(p);
    } catch (_) { /* reported as not hydrated */ }
  }
  console.log(JSON.stringify({ hydrated, errors, wasm_encoding: wasmEncoding }));
  await browser.close();
})().catch((e) => { console.log(JSON.stringify({ hydrated: [], errors: [String(e)] })); });
