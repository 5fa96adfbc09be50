// A small driver for the VS Code workbench in Chromium, for UI scenarios (test/ui/*.test.ts).
// scripts/tiers/ui.js starts code-server (with the packaged extension installed) and Chromium, and
// passes them here through the environment; each scenario gets a fresh browser context and saves a
// numbered screenshot per step under test-results/ui/<scenario>/.
import * as fs from 'fs';
import * as path from 'path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run UI scenarios through \`npm run test:ui\``);
  return value;
}

/** The project's package.json (the extension's manifest). */
export function manifest(): { name: string; publisher: string; version: string } {
  const root = process.env.BATCH_PROMPT_ROOT || process.cwd();
  return JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Workbench {
  private step = 0;

  private constructor(
    readonly scenario: string,
    readonly page: Page,
    private readonly browser: Browser,
    private readonly context: BrowserContext,
    readonly screenshotDir: string,
  ) {}

  /** Opens the workbench on the test workspace in a fresh browser context and waits until it is usable. */
  static async open(scenario: string): Promise<Workbench> {
    const dir = path.join(env('BATCH_PROMPT_UI_RESULTS'), scenario);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const browser = await chromium.connect(env('BATCH_PROMPT_UI_BROWSER'), { timeout: 30000 });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(30000);
    const page = await context.newPage();
    const wb = new Workbench(scenario, page, browser, context, dir);
    await page.goto(env('BATCH_PROMPT_UI_URL'), { timeout: 60000 });
    await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 60000 });
    // The status bar and the explorer appear once the workbench has restored its parts.
    await page.locator('#workbench\\.parts\\.statusbar').waitFor({ state: 'visible', timeout: 60000 });
    await page.locator('.explorer-folders-view, .explorer-viewlet').first().waitFor({ state: 'visible', timeout: 60000 });
    await wb.screenshot('workbench-open');
    return wb;
  }

  /** Saves `NN-<name>.png` in this scenario's folder and prints its path. */
  async screenshot(name: string): Promise<string> {
    this.step++;
    const file = path.join(this.screenshotDir, `${String(this.step).padStart(2, '0')}-${name.replace(/[^\w.-]+/g, '-')}.png`);
    await this.page.screenshot({ path: file });
    console.log(`      screenshot: ${path.relative(process.cwd(), file)}`);
    return file;
  }

  /**
   * Opens the command palette with F1 and waits for it. Retries: right after loading, the workbench
   * may not handle keys yet.
   */
  async openCommandPalette(): Promise<Locator> {
    const input = this.page.locator('.quick-input-widget input.input');
    const deadline = Date.now() + 30000;
    for (;;) {
      await this.page.keyboard.press('F1');
      try {
        await input.waitFor({ state: 'visible', timeout: 3000 });
        return input;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await sleep(500);
      }
    }
  }

  /**
   * F1, type the command's title ("Category: Title"), check it is the selected row, Enter. Retries
   * while the palette does not list it yet: installed extensions register their contributions a few
   * seconds after the workbench appears.
   */
  async runCommand(title: string, timeoutMs = 45000): Promise<void> {
    const row = this.page.locator('.quick-input-list .monaco-list-row.focused', { hasText: title });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const input = await this.openCommandPalette();
      await input.fill(`>${title}`);
      try {
        await row.waitFor({ state: 'visible', timeout: 5000 });
        break;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await this.page.keyboard.press('Escape');
        await sleep(1000);
      }
    }
    await this.screenshot(`palette-${title}`);
    await this.page.keyboard.press('Enter');
  }

  /** Waits for a notification toast containing `text`, with its fade-in animation finished. */
  async waitForNotification(text: string, timeoutMs = 15000): Promise<Locator> {
    const toast = this.page.locator('.notifications-toasts .notification-toast.notification-fade-in-done', { hasText: text }).first();
    await toast.waitFor({ state: 'visible', timeout: timeoutMs });
    return toast;
  }

  async close(): Promise<void> {
    await this.context.close().catch(() => undefined);
    await this.browser.close().catch(() => undefined);
  }
}

/**
 * Call inside a `describe`: opens a fresh workbench before the scenario's tests, saves a screenshot
 * of a failed test, and closes the workbench afterwards. Returns a getter for the tests.
 */
export function useWorkbench(scenario: string): () => Workbench {
  let wb: Workbench | undefined;
  before(async function () {
    this.timeout(120000);
    wb = await Workbench.open(scenario);
  });
  afterEach(async function () {
    if (wb && this.currentTest?.state === 'failed') await wb.screenshot('failed').catch(() => undefined);
  });
  after(async () => {
    await wb?.close();
  });
  return () => {
    if (!wb) throw new Error(`the workbench for ${scenario} did not open`);
    return wb;
  };
}
