// Drives headless Chromium for the ChatApp tests (BrowserDriver.cs). It launches Debian's /usr/bin/chromium with
// playwright-core (never a downloaded browser), then reads one JSON command per line on stdin and answers each with
// one JSON line on stdout: {"id":n,"ok":true,"result":…} or {"id":n,"ok":false,"error":"…"}.
// Every page lives in its own browser context, so pages don't share storage, as two people wouldn't.
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const executablePath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const browser = await chromium.launch({
  executablePath,
  headless: true,
  // As root, Chromium needs --no-sandbox; the rest keeps it off the network, which is closed here.
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
  ],
});

/** @type {Map<string, { context: import("playwright-core").BrowserContext, page: import("playwright-core").Page, log: string[] }>} */
const pages = new Map();

function get(name) {
  const entry = pages.get(name);
  if (!entry) {
    throw new Error(`No page named '${name}'.`);
  }
  return entry;
}

const commands = {
  async open({ page: name, url, timeout }) {
    const context = await browser.newContext({ viewport: { width: 1200, height: 760 } });
    const page = await context.newPage();
    const log = [];
    page.on("console", (m) => log.push(`console.${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => log.push(`pageerror: ${e.message}`));
    pages.set(name, { context, page, log });
    await page.goto(url, { timeout });
  },
  async fill({ page, selector, value, timeout }) {
    await get(page).page.locator(selector).fill(value, { timeout });
  },
  async press({ page, selector, key, timeout }) {
    await get(page).page.locator(selector).press(key, { timeout });
  },
  async click({ page, selector, timeout }) {
    await get(page).page.locator(selector).click({ timeout });
  },
  /** Waits until an element matching the selector (and containing hasText, if given) is in the given state. */
  async waitFor({ page, selector, hasText, state, timeout }) {
    let locator = get(page).page.locator(selector);
    if (hasText !== undefined && hasText !== null) {
      locator = locator.filter({ hasText });
    }
    await locator.first().waitFor({ state: state ?? "visible", timeout });
  },
  /** Waits until a JavaScript expression, evaluated in the page, is truthy; returns its value. */
  async waitForFunction({ page, expression, timeout }) {
    const handle = await get(page).page.waitForFunction(expression, undefined, { timeout, polling: 100 });
    return await handle.jsonValue();
  },
  async evaluate({ page, expression }) {
    return await get(page).page.evaluate(expression);
  },
  async texts({ page, selector }) {
    return await get(page).page.locator(selector).allTextContents();
  },
  async screenshot({ page, path }) {
    await get(page).page.screenshot({ path });
  },
  async log({ page }) {
    return get(page).log;
  },
  async close({ page }) {
    const entry = pages.get(page);
    if (entry) {
      pages.delete(page);
      await entry.context.close();
    }
  },
};

function reply(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

reply({ id: 0, ok: true, result: { version: browser.version() } });

const input = createInterface({ input: process.stdin });
input.on("line", async (line) => {
  let request;
  try {
    request = JSON.parse(line);
  } catch {
    reply({ id: -1, ok: false, error: `Not JSON: ${line}` });
    return;
  }

  const command = commands[request.cmd];
  if (!command) {
    reply({ id: request.id, ok: false, error: `Unknown command '${request.cmd}'.` });
    return;
  }

  try {
    const result = await command(request);
    reply({ id: request.id, ok: true, result: result ?? null });
  } catch (error) {
    reply({ id: request.id, ok: false, error: String(error?.message ?? error) });
  }
});

// stdin closes when the test process ends or disposes the driver: close the browser and exit.
input.on("close", async () => {
  await browser.close().catch(() => {});
  process.exit(0);
});
