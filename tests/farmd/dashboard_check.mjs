// Drives farmd's dashboard in headless Chromium over the DevTools protocol and checks what
// the page shows. Run by dashboard_browser_test (which starts farmd, an agent and writes
// the fixture sweep):
//   node --experimental-websocket dashboard_check.mjs --url http://127.0.0.1:PORT
//        --token T --expect expect.json --out SHOTS_DIR
// expect.json: {scored_sweep, renders, filter, filtered, bad_filter, agent, live_spec, live_jobs}.
// Exit 0 when every check passed; 1 with the failed check and the page's errors otherwise.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const { LaunchChromium } = await import(path.join(here, '../../tools/browser/cdp.mjs'));

function Args() {
  const out = {};
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  for (const key of ['url', 'token', 'expect', 'out']) {
    if (!out[key]) throw new Error(`missing --${key}`);
  }
  return out;
}

const args = Args();
const expect = JSON.parse(fs.readFileSync(args.expect, 'utf8'));
const base = args.url.replace(/\/$/, '');
const auth = { Authorization: `Bearer ${args.token}` };
let step = 'start';

function Check(condition, message) {
  if (!condition) throw new Error(`${step}: ${message}`);
}

async function Step(name, body) {
  step = name;
  const started = Date.now();
  await body();
  console.log(`ok   ${name} (${Date.now() - started} ms)`);
}

// ---- without a browser: what the server refuses -------------------------------------------

await Step('the app shell loads without the token', async () => {
  const shell = await fetch(`${base}/dashboard/`);
  Check(shell.status === 200, `GET /dashboard/ answered ${shell.status}`);
  Check(shell.headers.get('x-frame-options') === 'DENY' && shell.headers.get('x-content-type-options') === 'nosniff',
        `headers: x-frame-options ${shell.headers.get('x-frame-options')}, nosniff ${shell.headers.get('x-content-type-options')}`);
  const html = await shell.text();
  Check(html.includes('/dashboard/app.js'), 'index.html does not load app.js');
  Check(!/https?:\/\//.test(html.replace(/<!--[\s\S]*?-->/g, '')), 'index.html refers to another site');
  const js = await fetch(`${base}/dashboard/app.js`);
  Check(js.status === 200 && (js.headers.get('content-type') || '').includes('javascript'),
        `app.js: ${js.status} ${js.headers.get('content-type')}`);
});

await Step('every data and action route refuses a request without the token (401)', async () => {
  const routes = [
    ['GET', '/api/v1/sweeps'], ['GET', `/api/v1/sweeps/${expect.scored_sweep}`], ['GET', '/api/v1/agents'],
    ['GET', '/api/v1/renders?where=cfg%20%3E%3D%205'], ['GET', '/api/v1/renders/1'],
    ['GET', '/api/v1/renders/1/image'], ['POST', `/api/v1/sweeps/${expect.scored_sweep}/priority`],
    ['POST', `/api/v1/sweeps/${expect.scored_sweep}/cancel`], ['GET', '/api/v1/jobs'],
  ];
  for (const [method, route] of routes) {
    for (const headers of [{}, { Authorization: 'Bearer wrong-token' }]) {
      const answer = await fetch(base + route, { method, headers, body: method === 'POST' ? '{"priority":1}' : undefined });
      Check(answer.status === 401, `${method} ${route} with ${headers.Authorization ?? 'no token'}: ${answer.status}`);
    }
  }
  // The token in a query string is no way in either.
  const query = await fetch(`${base}/api/v1/sweeps?token=${encodeURIComponent(args.token)}`);
  Check(query.status === 401, `token in the query string: ${query.status}`);
});

// ---- the page ---------------------------------------------------------------------------

const browser = await LaunchChromium({ timeoutMs: 30000, windowSize: '1400,1000' });
let page;
// The page may log the 400 of the bad filter (a failed fetch is reported by the browser);
// everything else must be clean.
const allowed = [/status of 400/];
try {
  page = await browser.NewPage();
  await page.SetViewport(1400, 1000);

  await Step('without a token the page asks for one and shows no data', async () => {
    // "/" serves the shell too; the next step's URL then differs by more than its fragment.
    await page.Navigate(`${base}/`);
    await page.WaitFor(`!document.getElementById('login').hidden`);
    Check(await page.Evaluate(`document.querySelectorAll('#sweeps tr[data-sweep]').length`) === 0, 'data shown without a token');
  });

  await Step('#token= in the fragment is taken and removed from the URL', async () => {
    await page.Navigate(`${base}/dashboard/#token=${encodeURIComponent(args.token)}`);
    await page.WaitFor(`document.querySelector('#sweeps tr[data-sweep="${expect.scored_sweep}"] .done')?.textContent === '12 / 12'`);
    const url = await page.Evaluate('location.href');
    Check(!url.includes(args.token), `the token stays in the URL: ${url}`);
    Check(await page.Evaluate(`document.getElementById('login').hidden`), 'the login form is still shown');
  });

  let live = 0;
  await Step('a submitted sweep shows live progress until every job is done', async () => {
    const answer = await fetch(`${base}/api/v1/sweeps`, {
      method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ spec: expect.live_spec, file_name: 'live.yaml', synthetic: true, synthetic_cpu_ms: 600 }),
    });
    const submitted = await answer.json();
    Check(answer.status === 201, `submit: ${answer.status} ${JSON.stringify(submitted)}`);
    live = submitted.sweep_id;
    const total = submitted.jobs_total;
    Check(total === expect.live_jobs, `submitted ${total} jobs, expected ${expect.live_jobs}`);
    const done = `document.querySelector('#sweeps tr[data-sweep="${live}"] .done')?.textContent`;
    const seen = new Set();
    const deadline = Date.now() + 60000;
    for (;;) {
      const text = await page.Evaluate(done);
      if (text) seen.add(text);
      if (text === `${total} / ${total}`) break;
      Check(Date.now() < deadline, `progress stuck at ${text}; seen ${[...seen].join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    const partial = [...seen].filter((t) => t !== `${total} / ${total}`);
    Check(partial.length >= 1, `the page never showed the sweep unfinished (seen: ${[...seen].join(', ')})`);
    await page.WaitFor(`document.querySelector('#sweeps tr[data-sweep="${live}"] .state')?.textContent === 'succeeded'`);
    const succeeded = await page.Evaluate(`document.querySelector('#sweeps tr[data-sweep="${live}"] .count-succeeded').textContent`);
    Check(succeeded === String(total), `succeeded column shows ${succeeded}`);
    console.log(`     progress seen: ${[...seen].join(' -> ')}`);
  });

  await Step('priority and cancel actions', async () => {
    // A slow sweep to act on: one job runs, the rest wait.
    const answer = await fetch(`${base}/api/v1/sweeps`, {
      method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ spec: expect.live_spec.replace('name: live', 'name: slow'), file_name: 'slow.yaml',
                             synthetic: true, synthetic_cpu_ms: 20000 }),
    });
    const slow = (await answer.json()).sweep_id;
    const row = `#sweeps tr[data-sweep="${slow}"]`;
    await page.WaitFor(`document.querySelector('${row} .priority')`);
    await page.Evaluate(`(() => { const input = document.querySelector('${row} .priority');
                                  input.value = '7'; document.querySelector('${row} .set-priority').click(); })()`);
    const deadline = Date.now() + 10000;
    for (;;) {
      const sweep = await (await fetch(`${base}/api/v1/sweeps/${slow}`, { headers: auth })).json();
      const jobs = await (await fetch(`${base}/api/v1/jobs?sweep=${slow}&state=queued`, { headers: auth })).json();
      if (sweep.priority === 7 && jobs.jobs.length > 0 && jobs.jobs.every((j) => j.priority === 7)) break;
      Check(Date.now() < deadline, `priority not stored: sweep ${sweep.priority}, queued jobs ${JSON.stringify(jobs.jobs.map((j) => j.priority))}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await page.Evaluate(`window.confirm = () => true; document.querySelector('${row} .cancel').click()`);
    await page.WaitFor(`document.querySelector('${row} .state')?.textContent === 'cancelled'`, { timeoutMs: 15000 });
  });

  await Step('agents show their slots', async () => {
    await page.Evaluate(`location.hash = '#/agents'`);
    const row = `#agents tr[data-agent="${expect.agent}"]`;
    await page.WaitFor(`document.querySelector('${row}')`);
    const text = await page.Evaluate(`document.querySelector('${row}').textContent`);
    Check(/online/.test(text) && /\/2/.test(text), `agent row: ${text}`);
    Check(await page.Evaluate(`document.querySelectorAll('${row} .slots span').length`) === 2, 'two slot boxes');
    await page.Screenshot(path.join(args.out, 'agents.png'));
  });

  const galleryCount = `document.getElementById('gallery-count')?.dataset.count`;
  const imagesLoaded = `(() => { const images = [...document.querySelectorAll('#gallery img')];
    return images.length > 0 && images.every((i) => i.complete && i.naturalWidth > 0) && images.length; })()`;
  await Step('the gallery shows every scored render with its image', async () => {
    await page.Evaluate(`location.hash = '#/gallery?sweep=${expect.scored_sweep}'`);
    await page.WaitFor(`${galleryCount} === '${expect.renders}'`);
    const loaded = await page.WaitFor(imagesLoaded);
    Check(loaded === expect.renders, `${loaded} images loaded, expected ${expect.renders}`);
    const urls = await page.Evaluate(`[...document.querySelectorAll('#gallery img')].map((i) => i.src)`);
    Check(urls.every((u) => u.startsWith('blob:')), `images not fetched with the header: ${urls[0]}`);
    // Ordered by score, best first.
    const scores = await page.Evaluate(`[...document.querySelectorAll('#gallery .score')].map((s) => parseFloat(s.textContent.replace('score ', '')))`);
    Check(scores.every((s, i) => i === 0 || scores[i - 1] >= s), `not ordered by score: ${scores}`);
    await page.Screenshot(path.join(args.out, 'gallery.png'));
  });

  const TypeFilter = async (text) => {
    await page.Evaluate(`(() => { const input = document.querySelector('#gallery-filter input[name=where]');
                                  input.focus(); input.select(); })()`);
    await page.Send('Input.insertText', { text });
    for (const type of ['keyDown', 'keyUp']) {
      await page.Send('Input.dispatchKeyEvent', { type, key: 'Enter', code: 'Enter', windowsVirtualKeyCode: 13,
                                                  ...(type === 'keyDown' ? { text: '\r' } : {}) });
    }
  };

  await Step('typing a filter narrows the gallery', async () => {
    await TypeFilter(expect.filter);
    await page.WaitFor(`${galleryCount} === '${expect.filtered}'`);
    await page.WaitFor(imagesLoaded);
    const where = await page.Evaluate(`new URLSearchParams(location.hash.split('?')[1]).get('where')`);
    Check(where === expect.filter, `the filter is not kept in the URL: ${where}`);
  });

  await Step('a bad filter shows the caret message', async () => {
    await TypeFilter(expect.bad_filter);
    await page.WaitFor(`!document.getElementById('gallery-error').hidden`);
    const message = await page.Evaluate(`document.getElementById('gallery-error').textContent`);
    Check(message.includes(expect.bad_filter) && message.includes('^'), `no caret message: ${message}`);
    Check(/did you mean/.test(message), `no suggestion: ${message}`);
    Check(await page.Evaluate(`document.querySelectorAll('#gallery .card').length`) === 0, 'cards shown under an error');
    const answer = await fetch(`${base}/api/v1/renders?where=${encodeURIComponent(expect.bad_filter)}`, { headers: auth });
    Check(answer.status === 400, `bad filter answered ${answer.status}`);
    await page.Screenshot(path.join(args.out, 'gallery-error.png'));
  });

  await Step('a render\'s detail page shows params, scores, stage image and the reproduce line', async () => {
    await TypeFilter(expect.filter);
    await page.WaitFor(`${galleryCount} === '${expect.filtered}'`);
    const id = await page.Evaluate(`document.querySelector('#gallery .card').dataset.render`);
    await page.Evaluate(`document.querySelector('#gallery .card').click()`);
    await page.WaitFor(`document.getElementById('reproduce')?.textContent === 'farmctl reproduce ${id}'`);
    await page.WaitFor(`(() => { const i = document.querySelector('img.main'); return i && i.complete && i.naturalWidth === 64; })()`);
    const params = await page.Evaluate(`document.getElementById('render-params').textContent`);
    Check(/cfg/.test(params) && /sampler/.test(params), `params table: ${params.slice(0, 200)}`);
    Check(await page.Evaluate(`document.querySelectorAll('#render-results tbody tr').length`) === 1, 'one sweep result row');
    const text = await page.Evaluate(`document.getElementById('parameters')?.textContent ?? ''`);
    Check(/Steps: 25, Sampler: /.test(text) && text.includes('studio portrait of sks person'),
          `no A1111 parameters text: ${text.slice(0, 200)}`);
    await page.Screenshot(path.join(args.out, 'render.png'));
    // The render with a kept stage image (the first of the sweep: lowest id).
    const first = await (await fetch(`${base}/api/v1/renders?sweep=${expect.scored_sweep}&order_by=id&limit=1`, { headers: auth })).json();
    await page.Evaluate(`location.hash = '#/render/${first.renders[0].id}?sweep=${expect.scored_sweep}'`);
    await page.WaitFor(`(() => { const i = document.querySelector('.stages img'); return i && i.complete && i.naturalWidth === 32; })()`);
  });

  await Step('the sweeps page after the run', async () => {
    await page.Evaluate(`location.hash = '#/sweeps'`);
    await page.WaitFor(`document.querySelector('#sweeps tr[data-sweep="${live}"] .done')?.textContent === '${expect.live_jobs} / ${expect.live_jobs}'`);
    await page.Screenshot(path.join(args.out, 'sweeps.png'));
  });

  await Step('no console errors or failed loads', async () => {
    const errors = page.errors.filter((e) => !allowed.some((pattern) => pattern.test(e)));
    Check(errors.length === 0, errors.join('\n'));
  });
} catch (error) {
  console.error(`FAIL ${error.message}`);
  if (page) {
    console.error(`page errors:\n  ${page.errors.join('\n  ') || '(none)'}`);
    try {
      await page.Screenshot(path.join(args.out, 'failure.png'));
      console.error(`screenshot: ${path.join(args.out, 'failure.png')}`);
    } catch { /* browser gone */ }
  }
  process.exitCode = 1;
} finally {
  await browser.Close();
}
