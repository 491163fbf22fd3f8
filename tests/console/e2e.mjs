// The admin console in a real browser (headless Chromium driven by
// playwright-core). Started by tests/console_browser.rs, which runs the
// gateway, the fake providers and the upstream, and hands over:
//   ADMIN_URL, GATEWAY_URL        where the admin listener and the gateway listen
//   GOOD_TOKEN, BAD_TOKEN         a token the provider accepts (for GOOD_USER), one it refuses
//   GOOD_USER, ROUTE_USER         the good token's user; the user of the traffic step
//   EVICT_USER                    the user whose cache entries the evict step drops
//   REFUSED_REASON                the reason of the route refusal the traffic step makes
//   SERVICE_ACCOUNT               who a client-credentials token acts as
//   DOWN_PROVIDER, UP_PROVIDER    the provider the harness breaks, and the one that works
//   SCREENSHOT_DIR, CHROMIUM      where the PNGs go; the browser binary
// Steps the harness must act on are printed as `STEP <name>`; the harness
// answers `ok` on stdin once done (or `fail <why>`). Other lines are log.
// No token is ever printed.

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

import { chromium } from "playwright-core";

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (this script is started by tests/console_browser.rs)`);
  return v;
}

const ADMIN = env("ADMIN_URL");
const GATEWAY = env("GATEWAY_URL");
const GOOD_TOKEN = env("GOOD_TOKEN");
const BAD_TOKEN = env("BAD_TOKEN");
const GOOD_USER = env("GOOD_USER");
const ROUTE_USER = env("ROUTE_USER");
const EVICT_USER = env("EVICT_USER");
const REFUSED_REASON = env("REFUSED_REASON");
const SERVICE_ACCOUNT = env("SERVICE_ACCOUNT");
const DOWN_PROVIDER = env("DOWN_PROVIDER");
const UP_PROVIDER = env("UP_PROVIDER");
const SHOTS = env("SCREENSHOT_DIR");
const CHROMIUM = env("CHROMIUM");

// === Talking to the harness ===

const stdin = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

/** Asks the harness to act, and waits until it has. */
async function step(name) {
  console.log(`STEP ${name}`);
  const { value, done } = await stdin.next();
  if (done) throw new Error(`the harness went away during step ${name}`);
  if (value !== "ok") throw new Error(`step ${name}: ${value}`);
}

const started = Date.now();

async function scenario(name, body) {
  const t0 = Date.now();
  await body();
  console.log(`# ok ${name} (${Date.now() - t0} ms)`);
}

/** The page's HTML must not hold any of the tokens handed to this script. */
async function assertNoToken(page, where) {
  const html = await page.content();
  for (const [label, token] of [["good token", GOOD_TOKEN], ["bad token", BAD_TOKEN]]) {
    // The message names the token's role, never the token.
    assert.ok(!html.includes(token), `${where}: the page holds the ${label}`);
  }
}

/** Tokens masked, for a failure message. */
function masked(text) {
  return [GOOD_TOKEN, BAD_TOKEN].reduce((t, token) => t.split(token).join("<a token>"), text);
}

/** Clicks a form's button and waits for the page it answers with, which must be a 200. */
async function submit(page, button) {
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.request().isNavigationRequest() && r.frame() === page.mainFrame()),
    page.click(button),
  ]);
  if (res.status() !== 200) {
    const body = await res.text().catch(() => "");
    assert.fail(`${res.request().method()} ${new URL(res.url()).pathname} answered ${res.status()}: ${masked(body).slice(0, 300)}`);
  }
  await page.waitForLoadState();
}

async function shot(page, name) {
  // No button left in its hover colour by the last click.
  await page.mouse.move(0, 0);
  await page.screenshot({ path: join(SHOTS, name), fullPage: true });
}

// === The scenarios ===

async function overview(page) {
  await page.goto(`${ADMIN}/`);
  assert.match(await page.textContent("#auth-state"), /on/);
  await page.waitForSelector("#config-state");
  assert.match(await page.textContent("#cache-state"), /\d+ entr(y|ies)/);
  assert.match(await page.textContent("#cluster-state"), /not configured/);
  // Every provider has a row, with its state.
  const rows = await page.$$eval("table#providers tbody tr", (trs) =>
    trs.map((tr) => [tr.dataset.provider, tr.dataset.state]),
  );
  const names = rows.map(([n]) => n).sort();
  assert.deepEqual(names, [DOWN_PROVIDER, UP_PROVIDER].sort(), "one row per provider");
  const state = Object.fromEntries(rows);
  assert.equal(state[UP_PROVIDER], "up", `${UP_PROVIDER} answered the traffic step`);
  assert.equal(state[DOWN_PROVIDER], "unknown", `${DOWN_PROVIDER} was not asked yet`);
  // The charts: requests by outcome, and the provider call time.
  assert.ok(await page.$("svg#chart-requests rect.o-authenticated"), "an authenticated bar");
  assert.ok(await page.$("svg#chart-requests rect.o-refused"), "a refused bar");
  assert.ok(await page.$(`svg#chart-latency polyline`), "a provider call time line");

  // The provider fails; the page shows it without being reloaded (its own
  // 3 s refresh): a mark on the window would not survive a reload.
  await page.evaluate(() => {
    window.__notReloaded = true;
  });
  await step("provider-down");
  const t0 = Date.now();
  await page.waitForSelector(
    `table#providers tr[data-provider="${DOWN_PROVIDER}"][data-state="down"]`,
    { timeout: 10_000 },
  );
  console.log(`# ${DOWN_PROVIDER} shown down ${Date.now() - t0} ms after it failed`);
  assert.equal(await page.evaluate(() => window.__notReloaded), true, "shown without a reload");
  const cell = `table#providers tr[data-provider="${DOWN_PROVIDER}"] td.state`;
  assert.equal((await page.textContent(cell)).trim(), "down");
  assert.equal(
    await page.getAttribute(`table#providers tr[data-provider="${UP_PROVIDER}"]`, "data-state"),
    "up",
    "the other provider stays up",
  );
  await shot(page, "overview.png");
}

async function decisions(page) {
  await page.goto(`${ADMIN}/decisions`);
  // The route refusal is listed with its reason and the user it was for.
  const refused = page.locator(`table#decisions tr.outcome-refused[data-reason="${REFUSED_REASON}"]`);
  assert.ok((await refused.count()) >= 1, `a refusal with reason ${REFUSED_REASON}`);
  assert.equal((await refused.first().locator("td.user").textContent()).trim(), ROUTE_USER);
  assert.equal(await refused.first().getAttribute("data-status"), "403");

  // Filtering by user, through the form.
  await page.fill('form#filter input[name="user"]', ROUTE_USER);
  await submit(page, 'form#filter button[type="submit"]');
  assert.equal(new URL(page.url()).searchParams.get("user"), ROUTE_USER, "a GET form: the filter is in the URL");
  const rows = await page.$$eval("table#decisions tbody tr", (trs) =>
    trs.map((tr) => ({
      user: tr.querySelector("td.user").textContent.trim(),
      outcome: tr.className,
      reason: tr.dataset.reason,
    })),
  );
  assert.ok(rows.length >= 2, `the accepted and the refused request of ${ROUTE_USER}`);
  assert.ok(rows.every((r) => r.user === ROUTE_USER), "only that user's decisions");
  assert.ok(rows.some((r) => r.outcome === "outcome-authenticated"), "the accepted one");
  assert.ok(
    rows.some((r) => r.outcome === "outcome-refused" && r.reason === REFUSED_REASON),
    "the refused one, with its reason",
  );
  const count = await page.textContent("p#count");
  assert.match(count, new RegExp(`^${rows.length} of the last \\d+ decisions`));
  assert.equal(await page.inputValue('form#filter input[name="user"]'), ROUTE_USER, "the filter is kept");
  await shot(page, "decisions.png");

  // Filtering by reason, through the select.
  await page.selectOption('form#filter select[name="reason"]', REFUSED_REASON);
  await page.fill('form#filter input[name="user"]', "");
  await submit(page, 'form#filter button[type="submit"]');
  assert.equal(new URL(page.url()).searchParams.get("reason"), REFUSED_REASON);
  const reasons = await page.$$eval("table#decisions tbody tr", (trs) => trs.map((tr) => tr.dataset.reason));
  assert.ok(reasons.length >= 1 && reasons.every((r) => r === REFUSED_REASON), "only that reason");
}

async function testGoodToken(page) {
  await page.goto(`${ADMIN}/test-token`);
  await page.fill("textarea#credential", GOOD_TOKEN);
  await submit(page, '#token-form button[type="submit"]');
  await page.waitForSelector("section#result");
  assert.match(await page.textContent("p#verdict"), /^ACCEPTED: acts as /);
  assert.match(await page.textContent("dd#identity"), new RegExp(`^${GOOD_USER} \\(`));
  assert.match(await page.textContent("dd#forwarded"), new RegExp(`${GOOD_USER}$`));
  assert.equal(await page.inputValue("textarea#credential"), "", "the form comes back empty");
  await assertNoToken(page, "test-token (good)");

  // Every attribute path of the provider's answer is listed.
  const answer = page.locator(`section.provider-answer[data-provider="${UP_PROVIDER}"]`);
  assert.match(await answer.locator("pre.json").textContent(), /"username"/);
  const paths = await answer.locator("table.attributes a.attr").evaluateAll((as) => as.map((a) => a.dataset.path));
  for (const p of ["username", "email", "client_id", "scope", "sub", "exp", "ext.login", "groups[0]"]) {
    assert.ok(paths.includes(p), `attribute ${p} is listed (got ${paths.join(", ")})`);
  }
  // Each TOML line is hidden until its attribute is picked.
  assert.equal(await page.locator("div.toml:visible").count(), 0, "no TOML line before a pick");
  const link = answer.locator('a.attr[data-path="username"]');
  const target = (await link.getAttribute("href")).slice(1);
  await link.click();
  const box = page.locator(`div.toml#${target}`);
  await box.waitFor({ state: "visible", timeout: 2_000 });
  const line = box.locator("pre", { hasText: "username_attribute" });
  assert.equal((await line.textContent()).trim(), 'username_attribute = "username"');
  assert.ok(await line.isVisible(), "the TOML line is visible");
  assert.equal(await page.locator("div.toml:visible").count(), 1, "only the picked one");
  // The mark shows which attribute the config uses.
  const mark = answer.locator('tr:has(a.attr[data-path="username"]) td.mark');
  assert.match(await mark.textContent(), /username_attribute/);
  await shot(page, "test-token.png");

  // Picking another replaces it; a nested path gets its dotted form.
  const nested = answer.locator('a.attr[data-path="ext.login"]');
  const nestedId = (await nested.getAttribute("href")).slice(1);
  await nested.click();
  await page.locator(`div.toml#${nestedId}`).waitFor({ state: "visible", timeout: 2_000 });
  assert.equal(
    (await page.locator(`div.toml#${nestedId} pre`, { hasText: "username_attribute" }).textContent()).trim(),
    'username_attribute = "ext.login"',
  );
  assert.ok(!(await box.isVisible()), "the first pick is hidden again");
}

async function testBadToken(page) {
  await page.goto(`${ADMIN}/test-token`);
  await page.fill("textarea#credential", BAD_TOKEN);
  await submit(page, '#token-form button[type="submit"]');
  await page.waitForSelector("section#result.refused");
  assert.equal((await page.textContent("p#verdict")).trim(), "REFUSED: 401 invalid_token: inactive");
  assert.equal(await page.$("dd#identity"), null, "no identity for a refused token");
  await assertNoToken(page, "test-token (bad)");
}

async function testProvider(page) {
  await page.goto(`${ADMIN}/test-provider`);
  const rows = await page.$$eval("table#provider-tests tbody tr", (trs) => trs.map((tr) => tr.dataset.provider));
  assert.deepEqual(rows.sort(), [DOWN_PROVIDER, UP_PROVIDER].sort());
  assert.equal(await page.$(`button#test-${DOWN_PROVIDER}`), null, `${DOWN_PROVIDER} has no token endpoint`);
  await submit(page, `button#test-${UP_PROVIDER}`);
  await page.waitForSelector("section#provider-result");
  const verdict = (await page.textContent("section#provider-result > p#verdict")).trim();
  assert.match(
    verdict,
    new RegExp(`^OK: token accepted as ${SERVICE_ACCOUNT} \\(client credentials, expires in \\d+s\\)$`),
  );
  assert.ok(await page.$("section#provider-result.accepted"), "marked accepted");
  // The token the provider issued is never shown (the fake's are cc-token-N-TIME).
  assert.ok(!/cc-token-\d+-\d+/.test(await page.content()), "the issued token is not in the page");
  await shot(page, "test-provider.png");
}

async function evict(page) {
  await step("evict-prepare");
  await page.goto(`${ADMIN}/evict`);
  await page.fill('form#evict-user input[name="user"]', EVICT_USER);
  await submit(page, 'form#evict-user button[type="submit"]');
  assert.equal((await page.textContent("p#result")).trim(), `Evicted user ${EVICT_USER} on this replica.`);
  assert.ok(await page.$("p#result.ok"));
  await shot(page, "evict.png");
  await step("evict-check");
}

async function security(context, page) {
  // The console is the admin listener's, never the gateway's: there the
  // path is the product's (the recording upstream answers JSON).
  const res = await page.goto(`${GATEWAY}/test-token`);
  assert.match(res.headers()["content-type"] ?? "", /^application\/json/, "no console on the gateway port");
  assert.ok(!(await page.content()).includes('id="token-form"'), "no console on the gateway port");
  // Every console answer carries its guarding headers.
  const admin = await page.goto(`${ADMIN}/`);
  const h = admin.headers();
  assert.match(h["content-security-policy"] ?? "", /script-src 'self'/);
  assert.equal(h["x-frame-options"], "DENY");
  assert.equal(h["cache-control"], "no-store");
  // Another site cannot drive a state-changing form through the admin's
  // browser: a form on a foreign page posting to /evict is refused.
  const foreign = await context.newPage();
  await foreign.setContent(
    `<form method="post" action="${ADMIN}/evict"><input name="user" value="${EVICT_USER}"><button>go</button></form>`,
  );
  const [answer] = await Promise.all([
    foreign.waitForResponse((r) => r.url() === `${ADMIN}/evict`),
    foreign.click("button"),
  ]);
  assert.equal(answer.status(), 403, "a cross-site POST is refused");
  assert.match(await answer.text(), /cross_origin/);
  await foreign.close();
}

// === Main ===

let browser;
let page;
let failed = false;
try {
  mkdirSync(SHOTS, { recursive: true });
  const t0 = Date.now();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
  console.log(`# browser ${browser.version()} started in ${Date.now() - t0} ms`);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  // A script error or a blocked resource (the CSP) fails the run.
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  });
  page.setDefaultTimeout(15_000);

  await step("traffic");
  await scenario("overview: every provider with its state, and one shown down without a reload", () =>
    overview(page),
  );
  await scenario("decisions: a refusal with its reason, found by filtering on the user", () =>
    decisions(page),
  );
  await scenario("test a token: the user, the attribute paths and the TOML line", () => testGoodToken(page));
  await scenario("test a token: a bad token's refusal", () => testBadToken(page));
  await scenario("test a provider: the OK verdict", () => testProvider(page));
  await scenario("evict: the next request asks the provider again", () => evict(page));
  await scenario("security: headers, no console on the gateway, no cross-site form", () =>
    security(context, page),
  );
  assert.deepEqual(problems, [], "no script error or blocked resource on any console page");
  console.log(`# all scenarios passed in ${Date.now() - started} ms`);
} catch (e) {
  failed = true;
  console.log(`# FAILED: ${e?.stack ?? e}`);
  if (page) {
    // Where the browser was, for the failure message, tokens masked.
    const text = await page
      .evaluate(() => document.body?.innerText ?? "")
      .catch((why) => `(unreadable: ${why})`);
    console.log(`# the page was ${page.url()}:`);
    for (const line of masked(text).split("\n").slice(0, 60)) console.log(`#   ${line}`);
  }
} finally {
  if (browser) await browser.close().catch(() => {});
}
process.exit(failed ? 1 : 0);
