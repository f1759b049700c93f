// Capture what the CDS Hooks sandbox sends to immunorules: run BY HAND, never in CI.
//
// It drives an already-built, already-running sandbox (its URL is an argument) in headless
// Chromium confined to loopback, with a tiny FHIR server of its own on 127.0.0.1 serving one
// patient's record from a FHIR Bundle file, against an `immunorules serve` already running with
// `--issuer https://sandbox.cds-hooks.org=<the sandbox's public JWK Set file>`. It opens
// patient-view, then the rx-view screen and picks each medication named, and writes every
// request the sandbox sent to the service (hook calls and feedback), with the service's answer,
// as JSON fixtures: the FHIR server's and the service's URLs become {{fhirServer}} and
// {{service}}. See README.md beside this file.
//
// Usage: node capture.mjs --sandbox http://127.0.0.1:8081 --service http://127.0.0.1:8080 \
//          --bundle record.json --out DIR [--chromium /usr/bin/chromium] \
//          [--medication fingolimod --medication tofacitinib --medication methotrexate]
// Needs puppeteer-core installed in the folder it is run from (npm install puppeteer-core).

import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';

// puppeteer-core is found from the folder the script is run in (installed there, outside the
// repository), not from the script's own folder.
const puppeteer = createRequire(path.join(process.cwd(), 'capture.cjs'))('puppeteer-core');

function options(argv) {
  const found = { medication: [] };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (key === 'medication') found.medication.push(argv[i + 1]);
    else found[key] = argv[i + 1];
  }
  for (const need of ['sandbox', 'service', 'bundle', 'out']) {
    if (!found[need]) throw new Error(`--${need} is required`);
  }
  if (!found.medication.length) {
    found.medication = [
      'fingolimod 0.5 MG Oral Capsule',
      'tofacitinib 5 MG Oral Tablet',
      'methotrexate 2.5 MG Oral Tablet',
    ];
  }
  found.chromium = found.chromium || '/usr/bin/chromium';
  return found;
}

// -- a tiny FHIR server on loopback ----------------------------------------------------------

function fhirServer(bundle) {
  const resources = bundle.entry.map((entry) => entry.resource);
  const patient = resources.find((r) => r.resourceType === 'Patient');
  const send = (res, status, body) => {
    res.writeHead(status, {
      'Content-Type': 'application/fhir+json',
      'Access-Control-Allow-Origin': '*',
      'Access-Control-Allow-Headers': '*',
      'Access-Control-Allow-Methods': 'GET, OPTIONS',
    });
    res.end(body === undefined ? '' : JSON.stringify(body));
  };
  const searchset = (found) => ({
    resourceType: 'Bundle',
    type: 'searchset',
    total: found.length,
    entry: found.map((resource) => ({ resource })),
  });
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const parts = url.pathname.split('/').filter(Boolean);
    if (req.method === 'OPTIONS') return send(res, 204);
    if (parts[0] === 'metadata') {
      return send(res, 200, {
        resourceType: 'CapabilityStatement',
        status: 'active',
        kind: 'instance',
        fhirVersion: '4.0.1',
        format: ['json'],
        date: '2026-01-01',
      });
    }
    if (parts[0] === 'Patient' && parts.length === 2) {
      if (parts[1] === patient.id) return send(res, 200, patient);
      return send(res, 404, { resourceType: 'OperationOutcome', issue: [] });
    }
    if (parts[0] === 'Patient' && parts.length === 1) return send(res, 200, searchset([patient]));
    if (parts.length === 1) {
      const wanted = (url.searchParams.get('patient') || url.searchParams.get('subject') || '')
        .replace(/^Patient\//, '');
      const found = resources.filter((r) => r.resourceType === parts[0]
        && wanted === patient.id);
      return send(res, 200, searchset(found));
    }
    return send(res, 404, { resourceType: 'OperationOutcome', issue: [] });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, patient, url: `http://127.0.0.1:${server.address().port}` }));
  });
}

// -- capture ---------------------------------------------------------------------------------

function decode(token) {
  const [header, payload] = token.split('.').slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
  return { header, payload };
}

async function main() {
  const opts = options(process.argv.slice(2));
  const bundle = JSON.parse(fs.readFileSync(opts.bundle, 'utf8'));
  const fhir = await fhirServer(bundle);
  fs.mkdirSync(opts.out, { recursive: true });
  const service = opts.service.replace(/\/$/, '');
  const browser = await puppeteer.launch({
    executablePath: opts.chromium,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
    ],
  });
  const captured = [];
  const pending = new Map();
  const page = await browser.newPage();
  page.on('request', (request) => {
    if (!request.url().startsWith(`${service}/cds-services/`) || request.method() !== 'POST') return;
    const entry = {
      path: request.url().slice(service.length),
      authorization: request.headers().authorization || null,
      body: JSON.parse(request.postData() || 'null'),
    };
    pending.set(request, entry);
    captured.push(entry);
  });
  page.on('response', async (response) => {
    const entry = pending.get(response.request());
    if (!entry) return;
    entry.status = response.status();
    try { entry.answer = await response.json(); } catch { entry.answer = null; }
  });
  page.on('console', (message) => {
    if (message.type() === 'error') process.stderr.write(`sandbox: ${message.text()}\n`);
  });
  const query = (hook, screen) => {
    const params = new URLSearchParams({
      fhirServiceUrl: fhir.url,
      patientId: fhir.patient.id,
      serviceDiscoveryURL: `${service}/cds-services`,
      hook,
    });
    if (screen) params.set('screen', screen);
    return `${opts.sandbox.replace(/\/$/, '')}/?${params}`;
  };
  const settle = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

  await page.goto(query('patient-view'), { waitUntil: 'networkidle0', timeout: 60000 });
  await settle(3000);
  await page.screenshot({ path: path.join(opts.out, 'patient-view.png'), fullPage: true });

  for (const name of opts.medication) {
    await page.goto(query('order-select', 'rx-view'), { waitUntil: 'networkidle0', timeout: 60000 });
    await settle(2000);
    const input = await page.waitForSelector('input[name="medication-input"]', { timeout: 30000 });
    // The box is a controlled input that can drop a key under load: type until it holds the word.
    const word = name.split(' ')[0];
    for (let attempt = 0; attempt < 4; attempt += 1) {
      await input.click({ clickCount: 3 });
      await page.keyboard.press('Backspace');
      for (const ch of word) { await page.keyboard.type(ch); await settle(250); }
      await settle(500);
      if (await input.evaluate((el) => el.value) === word) break;
    }
    // The list of drugs follows the typed text after a moment: wait for the drug to appear.
    const find = (wanted) => {
      const items = [...document.querySelectorAll('.MuiListItemButton-root, [role="button"], li')]
        .filter((el) => el.textContent.toLowerCase().includes(wanted.split(' ')[0].toLowerCase()));
      return items.find((el) => el.textContent.trim().toLowerCase() === wanted.toLowerCase())
        || items.find((el) => /Oral (Capsule|Tablet)/.test(el.textContent)) || null;
    };
    await page.waitForFunction(find, { timeout: 20000 }, name).catch(() => null);
    const picked = await page.evaluate((wanted, finder) => {
      // eslint-disable-next-line no-new-func
      const item = new Function(`return (${finder})`)()(wanted);
      if (!item) return null;
      item.click();
      return item.textContent;
    }, name, find.toString());
    process.stderr.write(`picked for ${name}: ${picked}\n`);
    await settle(4000);
    await page.screenshot({ path: path.join(opts.out, `order-select-${name.split(' ')[0]}.png`), fullPage: true });
    // Act on a card, so that the sandbox sends feedback: take a suggestion (accepted), dismiss
    // with the first override reason offered (overridden, with a reason), or dismiss (overridden).
    const act = ['accept', 'reason', 'dismiss'][opts.medication.indexOf(name) % 3];
    const done = await page.evaluate(async (how) => {
      const buttons = [...document.querySelectorAll('button')];
      if (how === 'accept') {
        const take = buttons.find((b) => b.textContent.startsWith('Remove the selected order'));
        if (take) { take.click(); return 'took a suggestion'; }
      }
      if (how === 'reason') {
        const menu = buttons.find((b) => b.getAttribute('aria-label') === 'select dismiss reason');
        if (menu) {
          menu.click();
          await new Promise((resolve) => { setTimeout(resolve, 800); });
          const item = document.querySelector('[role="menuitem"]');
          if (item) { item.click(); return `dismissed with a reason: ${item.textContent}`; }
        }
      }
      const dismiss = buttons.find((b) => b.textContent.trim() === 'Dismiss');
      if (dismiss) { dismiss.click(); return 'dismissed'; }
      return 'no card to act on';
    }, act);
    process.stderr.write(`${name}: ${done}\n`);
    await settle(3000);
  }
  await browser.close();
  fhir.server.close();

  const clean = (value) => JSON.parse(JSON.stringify(value)
    .split(fhir.url).join('{{fhirServer}}')
    .split(service).join('{{service}}'));
  const stable = (value) => {
    if (Array.isArray(value)) return value.map(stable);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.keys(value).sort().map((key) => [key, stable(value[key])]));
    }
    return value;
  };
  // The same prefetch (the patient's record) is stored once and named by the fixtures.
  const prefetches = [];
  captured.forEach((entry, number) => {
    const token = entry.authorization && entry.authorization.replace(/^Bearer /, '');
    const body = clean(entry.body);
    if (body && body.prefetch) {
      const text = JSON.stringify(stable(body.prefetch));
      let index = prefetches.indexOf(text);
      if (index < 0) {
        prefetches.push(text);
        index = prefetches.length - 1;
        fs.writeFileSync(path.join(opts.out, `prefetch-${index + 1}.json`), `${JSON.stringify(JSON.parse(text), null, 1)}\n`);
      }
      body.prefetch = `{{prefetch-${index + 1}.json}}`;
    }
    const cards = entry.answer && entry.answer.cards;
    const fixture = {
      captured: new Date().toISOString().slice(0, 10),
      path: clean(entry.path),
      token: token ? clean(decode(token)) : null,
      status: entry.status,
      body,
      // the service's answer, in short: what each card says and the ids feedback names
      answer: cards ? cards.map((card) => ({
        indicator: card.indicator,
        summary: card.summary,
        uuid: card.uuid,
        suggestions: (card.suggestions || []).map((suggestion) => suggestion.uuid),
      })) : entry.answer,
    };
    const kind = entry.path.endsWith('/feedback') ? 'feedback' : entry.body.hook;
    const file = path.join(opts.out, `${String(number + 1).padStart(2, '0')}-${kind}.json`);
    fs.writeFileSync(file, `${JSON.stringify(fixture, null, 1)}\n`);
    process.stdout.write(`${file}: ${entry.path} -> ${entry.status}\n`);
  });
}

main().catch((error) => { process.stderr.write(`${error.stack}\n`); process.exit(1); });
