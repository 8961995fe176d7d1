#!/usr/bin/env node
// Loads a page in headless Chromium and checks that it renders: no console errors or
// uncaught exceptions, every <img> loaded (complete, naturalWidth > 0), every <svg> plot
// laid out with a non-zero box; optional extra assertions; a screenshot.
//
//   node tools/browser/check_page.mjs PAGE [options]
//     PAGE                 a URL or a file path (file:// is used for paths)
//     --screenshot FILE    full-page PNG
//     --assert EXPR        JavaScript that must evaluate to true (repeatable); anything
//                          else fails, a string result is shown as the reason
//     --min-images N       fail with fewer <img> elements (a page with none passes nothing)
//     --min-svgs N         fail with fewer <svg> elements
//     --offline            fail on any request that is not data:, file:, blob: or about:
//                          (the page must be self-contained)
//     --timeout MS         the whole check's deadline (default 60000)
//     --width PX --height PX   viewport (default 1280 x 900)
//     --json               the result as one JSON object on stdout
// Exit codes: 0 every check passed, 1 a check failed (reasons on stderr), 2 usage,
// 77 chromium not installed (callers skip). Chromium is killed on every path out.

import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FindChromium, LaunchChromium } from './cdp.mjs';

const kUsage = 'usage: check_page.mjs PAGE [--screenshot FILE] [--assert EXPR]... [--min-images N] ' +
               '[--min-svgs N] [--offline] [--timeout MS] [--width PX] [--height PX] [--json]';

function ParseArgs(argv) {
  const args = { asserts: [], minImages: 0, minSvgs: 0, offline: false, timeoutMs: 60000,
                 width: 1280, height: 900, json: false, screenshot: null, page: null };
  const number = (name, value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name} takes a non-negative integer, got '${value}'`);
    return n;
  };
  for (let i = 0; i < argv.length; ++i) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case '--screenshot': args.screenshot = value(); break;
      case '--assert': args.asserts.push(value()); break;
      case '--min-images': args.minImages = number(arg, value()); break;
      case '--min-svgs': args.minSvgs = number(arg, value()); break;
      case '--offline': args.offline = true; break;
      case '--timeout': args.timeoutMs = number(arg, value()); break;
      case '--width': args.width = number(arg, value()); break;
      case '--height': args.height = number(arg, value()); break;
      case '--json': args.json = true; break;
      case '-h': case '--help': console.log(kUsage); process.exit(0); break;
      default:
        if (arg.startsWith('-')) throw new Error(`unknown option ${arg}`);
        if (args.page) throw new Error(`one page at a time (got '${args.page}' and '${arg}')`);
        args.page = arg;
    }
  }
  if (!args.page) throw new Error('no page given');
  return args;
}

function PageUrl(page) {
  return /^[a-z][a-z0-9+.-]*:/i.test(page) ? page : pathToFileURL(path.resolve(page)).href;
}

// What the page shows, measured inside it after load (and after images decode).
const kInspect = `(async () => {
  const images = [...document.images];
  await Promise.all(images.map((img) => img.decode().catch(() => {})));
  const broken = images.filter((img) => !img.complete || img.naturalWidth === 0)
                       .map((img) => (img.alt || img.src.slice(0, 60)));
  const svgs = [...document.querySelectorAll('svg')].filter((svg) => !svg.parentElement.closest('svg'));
  const empty = svgs.filter((svg) => { const r = svg.getBoundingClientRect(); return !(r.width > 0 && r.height > 0); })
                    .map((svg) => svg.getAttribute('data-plot') || svg.getAttribute('aria-label') || svg.id || 'svg');
  return { title: document.title, images: images.length, broken, svgs: svgs.length, empty };
})()`;

async function Check(args) {
  const url = PageUrl(args.page);
  const failures = [];
  const result = { ok: false, url, title: '', images: 0, svgs: 0, failures, screenshot: args.screenshot };
  const browser = await LaunchChromium({ timeoutMs: Math.min(args.timeoutMs, 30000),
                                         windowSize: `${args.width},${args.height}` });
  const Cleanup = () => { browser.Close().finally(() => process.exit(1)); };
  process.once('SIGINT', Cleanup);
  process.once('SIGTERM', Cleanup);
  const deadline = setTimeout(() => {
    console.error(`check_page: ${url}: not done within ${args.timeoutMs} ms`);
    Cleanup();
  }, args.timeoutMs);
  try {
    const page = await browser.NewPage();
    await page.SetViewport(args.width, args.height);
    const offsite = [];
    page.OnEvent((method, params) => {
      if (method !== 'Network.requestWillBeSent') return;
      const scheme = params.request.url.split(':')[0].toLowerCase();
      if (!['data', 'file', 'blob', 'about'].includes(scheme)) offsite.push(params.request.url);
    });
    await page.Navigate(url, { timeoutMs: args.timeoutMs });
    const seen = await page.Evaluate(kInspect);
    Object.assign(result, { title: seen.title, images: seen.images, svgs: seen.svgs });
    for (const name of seen.broken) failures.push(`image did not render: ${name}`);
    for (const name of seen.empty) failures.push(`svg has an empty box: ${name}`);
    if (seen.images < args.minImages) failures.push(`${seen.images} images, expected at least ${args.minImages}`);
    if (seen.svgs < args.minSvgs) failures.push(`${seen.svgs} svg plots, expected at least ${args.minSvgs}`);
    for (const expression of args.asserts) {
      let value;
      try {
        value = await page.Evaluate(expression);
      } catch (error) {
        failures.push(`assertion threw: ${expression}: ${error.message}`);
        continue;
      }
      if (value !== true) failures.push(`assertion failed: ${expression}` + (value === undefined ? '' : ` (got ${JSON.stringify(value)})`));
    }
    if (args.offline) for (const request of offsite) failures.push(`page is not self-contained: it requested ${request}`);
    if (args.screenshot) await page.Screenshot(args.screenshot);
    // Errors logged while the checks ran count too.
    for (const error of page.errors) failures.push(error);
  } finally {
    clearTimeout(deadline);
    await browser.Close();
  }
  result.ok = failures.length === 0;
  return result;
}

async function Main() {
  let args;
  try {
    args = ParseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`check_page: ${error.message}\n${kUsage}`);
    return 2;
  }
  if (!FindChromium()) {
    console.error('check_page: chromium not found (install Debian\'s `chromium`, or set CHROMIUM)');
    return 77;
  }
  let result;
  try {
    result = await Check(args);
  } catch (error) {
    console.error(`check_page: ${args.page}: ${error.message}`);
    return 1;
  }
  if (args.json) console.log(JSON.stringify(result));
  for (const failure of result.failures) console.error(`check_page: ${failure}`);
  if (!args.json) {
    console.log(`${result.url}: ${result.ok ? 'ok' : 'FAILED'} (${result.images} images, ${result.svgs} svg` +
                (result.screenshot ? `, screenshot ${result.screenshot}` : '') + ')');
  }
  return result.ok ? 0 : 1;
}

process.exitCode = await Main();
