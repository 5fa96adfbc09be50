// A small driver for the VS Code workbench in Chromium, for UI scenarios (test/ui/*.test.ts).
// scripts/tiers/ui.js starts code-server (with the packaged extension installed) and Chromium, and
// passes them here through the environment; each scenario gets a fresh browser context and saves a
// numbered screenshot per step under test-results/ui/<scenario>/.
import * as fs from 'fs';
import * as path from 'path';
import { chromium, type Browser, type BrowserContext, type FrameLocator, type Locator, type Page } from 'playwright-core';

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

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The tier's workbench URL, opening `folder` instead of the tier's workspace when given (code-server's `?folder=`). */
function workbenchUrl(folder?: string): string {
  if (!folder) return env('BATCH_PROMPT_UI_URL');
  const url = new URL(env('BATCH_PROMPT_UI_URL'));
  url.searchParams.set('folder', folder);
  return url.toString();
}

export class Workbench {
  private step = 0;

  private constructor(
    readonly scenario: string,
    readonly page: Page,
    private readonly browser: Browser,
    private readonly context: BrowserContext,
    readonly screenshotDir: string,
  ) {}

  /**
   * Opens the workbench in a fresh browser context and waits until it is usable: on the tier's test
   * workspace, or on `folder` (an absolute path code-server can read).
   */
  static async open(scenario: string, folder?: string): Promise<Workbench> {
    const dir = path.join(env('BATCH_PROMPT_UI_RESULTS'), scenario);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const browser = await chromium.connect(env('BATCH_PROMPT_UI_BROWSER'), { timeout: 30000 });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(30000);
    const page = await context.newPage();
    const wb = new Workbench(scenario, page, browser, context, dir);
    await page.goto(workbenchUrl(folder), { timeout: 60000 });
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
   * F1, type the command's title ("Category: Title"), check it is the selected row, Enter. When the
   * palette selects another row (it sorts by label: "Markdown: Open Locked Preview to the Side" comes
   * before "Markdown: Open Preview"), the row with exactly that title is clicked instead. Retries while
   * the palette does not list it yet: installed extensions register their contributions a few seconds
   * after the workbench appears.
   */
  async runCommand(title: string, timeoutMs = 45000): Promise<void> {
    const focused = this.page.locator('.quick-input-list .monaco-list-row.focused', { hasText: title });
    const exact = this.page.locator('.quick-input-list .monaco-list-row', { has: this.page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(title)}$`) }) }).first();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const input = await this.openCommandPalette();
      await input.fill(`>${title}`);
      try {
        await focused.or(exact).first().waitFor({ state: 'visible', timeout: 5000 });
        break;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await this.page.keyboard.press('Escape');
        await sleep(1000);
      }
    }
    await this.screenshot(`palette-${title}`);
    if (await focused.isVisible()) await this.page.keyboard.press('Enter');
    else await exact.click();
  }

  /** Waits for a notification toast containing `text`, with its fade-in animation finished. */
  async waitForNotification(text: string | RegExp, timeoutMs = 15000): Promise<Locator> {
    const toast = this.page.locator('.notifications-toasts .notification-toast.notification-fade-in-done', { hasText: text }).first();
    await toast.waitFor({ state: 'visible', timeout: timeoutMs });
    return toast;
  }

  /** A notification toast containing `text`, as a locator (not waited for). */
  notification(text: string | RegExp): Locator {
    return this.page.locator('.notifications-toasts .notification-toast', { hasText: text }).first();
  }

  /** Clicks the button `name` of a notification toast. */
  async clickNotificationButton(toast: Locator, name: string): Promise<void> {
    await toast.hover();
    await toast.locator('.notification-list-item-buttons-container .monaco-button', { hasText: name }).first().click();
  }

  /** The quick input widget: the palette, quick picks and input boxes. */
  get quickInput(): Locator {
    return this.page.locator('.quick-input-widget');
  }

  /** Waits for a quick pick or input box whose title contains `title`; returns its text field. */
  /**
   * Starts **Run Prompt on Files…** on the files `glob` matches, up to the prompt picker (which is then
   * open): the first steps every run scenario shares.
   */
  async runOnFiles(glob: string): Promise<void> {
    await this.runCommand('Batch Prompt: Run Prompt on Files…');
    const box = await this.waitForQuickInput('Batch Prompt: run on files');
    await box.fill(glob);
    await box.press('Enter');
    await this.waitForQuickInput('Batch Prompt: choose a prompt');
  }

  async waitForQuickInput(title: string | RegExp, timeoutMs = 15000): Promise<Locator> {
    await this.quickInput.locator('.quick-input-title', { hasText: title }).waitFor({ state: 'visible', timeout: timeoutMs });
    return this.quickInput.locator('input.input');
  }

  /** The message under a quick input's field (an input box's prompt or validation message). */
  get quickInputMessage(): Locator {
    return this.quickInput.locator('.quick-input-message');
  }

  /**
   * In the open quick pick, types `filter` (default: none) and accepts the row whose label contains
   * `label`. The row is clicked, as a user would.
   */
  async pickQuickItem(label: string | RegExp, filter?: string): Promise<void> {
    if (filter !== undefined) await this.quickInput.locator('input.input').fill(filter);
    const row = this.quickInput.locator('.quick-input-list .monaco-list-row', { has: this.page.locator('.label-name, .monaco-highlighted-label', { hasText: label }) }).first();
    await row.waitFor({ state: 'visible' });
    await row.click();
  }

  /** A modal dialog's box, containing `text`. */
  dialog(text: string | RegExp): Locator {
    return this.page.locator('.monaco-dialog-box', { hasText: text }).first();
  }

  /** The status-bar entry whose text matches. */
  statusBarItem(text: string | RegExp): Locator {
    return this.page.locator('#workbench\\.parts\\.statusbar .statusbar-item', { hasText: text }).first();
  }

  /**
   * A row of the Explorer, by the file or folder name shown, also as one segment of a compact row
   * (`.batch-prompt/runs`): the Explorer folds a folder whose only child is a folder into one row once
   * it knows its children, and may redraw a row that way at any time (a run writing its folder).
   */
  explorerRow(name: string): Locator {
    const segment = new RegExp(`(^|/)\\s*${escapeRegExp(name)}\\s*(/|$)`);
    return this.page.locator('.explorer-folders-view .monaco-list-row', { has: this.page.locator('.monaco-icon-name-container', { hasText: segment }) }).first();
  }

  /**
   * Right-clicks `row` and clicks the context menu's item `label`. Retries while the menu lacks it: an
   * open menu does not change, and installed extensions add their items a few seconds after the
   * workbench appears.
   */
  async contextMenu(row: Locator, label: string, timeoutMs = 30000): Promise<void> {
    const item = this.page.locator('.monaco-menu .action-item', { hasText: label }).first();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await row.click({ button: 'right' });
      try {
        await item.waitFor({ state: 'visible', timeout: 3000 });
        break;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await this.page.keyboard.press('Escape');
        await sleep(1000);
      }
    }
    // The menu fades in: a click during the animation can land on nothing and just close it (seen on a
    // loaded machine). Let it settle, point at the item, click, and check the menu went away.
    await sleep(400);
    await this.screenshot(`context-menu-${label}`);
    await item.hover();
    await item.click();
    await item.waitFor({ state: 'hidden', timeout: 5000 });
  }

  /** Opens the view container of the activity bar whose title starts with `title` (e.g. "Batch Prompt"). */
  async openActivity(title: string): Promise<void> {
    // The item itself, not its label: a badge (e.g. the Failed Chunks count) covers part of the label.
    const item = this.page.locator('.activitybar .action-item', { has: this.page.locator(`.action-label[aria-label^="${title}"]`) }).first();
    await item.click();
    await this.page.locator('#workbench\\.parts\\.sidebar .composite.title', { hasText: title }).or(this.page.locator('#workbench\\.parts\\.sidebar .pane-header', { hasText: title })).first().waitFor({ state: 'visible' });
  }

  /** The rows of the tree views in the side bar. */
  get sideBarRows(): Locator {
    return this.page.locator('#workbench\\.parts\\.sidebar .monaco-list-row');
  }

  /** The rows of one view of the side bar, by the title of its pane ("Runs", "Unfinished Chunks"). */
  viewRows(title: string): Locator {
    const header = this.page.locator('.pane-header', { has: this.page.locator('.title', { hasText: new RegExp(`^${escapeRegExp(title)}$`, 'i') }) });
    return this.page.locator('#workbench\\.parts\\.sidebar .pane', { has: header }).locator('.monaco-list-row');
  }

  /** Hovers `row` and clicks its inline action `name` (e.g. Retry in the Failed Chunks view). */
  async clickInlineAction(row: Locator, name: string): Promise<void> {
    await row.hover();
    const action = row.locator(`.actions .action-label[aria-label="${name}"], .actions .action-label[title="${name}"]`).first();
    await action.waitFor({ state: 'visible' });
    await this.screenshot(`inline-${name}`);
    await action.click();
  }

  /** The Markdown preview shown in the editor area (a webview); keep one open at a time. */
  get markdownPreview(): FrameLocator {
    return this.page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
  }

  /**
   * The rows of the table that follows the heading `heading` in the Markdown preview, as cell texts
   * (header row excluded). Waits for the table.
   */
  async previewTable(heading: string): Promise<string[][]> {
    const table = this.markdownPreview.locator(`xpath=//*[self::h1 or self::h2 or self::h3][normalize-space()=${JSON.stringify(heading)}]/following-sibling::table[1]`);
    await table.waitFor({ state: 'visible', timeout: 15000 });
    const rows = table.locator('tbody tr');
    const out: string[][] = [];
    for (let i = 0, n = await rows.count(); i < n; i++) {
      out.push((await rows.nth(i).locator('td').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim()));
    }
    return out;
  }

  /** The text of the active editor's visible lines (Monaco renders spaces as non-breaking ones). */
  async activeEditorText(): Promise<string> {
    const lines = this.page.locator('.editor-group-container.active .monaco-editor .view-lines').first();
    await lines.waitFor({ state: 'visible' });
    return (await lines.innerText()).replace(/\u00a0/g, ' ');
  }

  /** Closes the editor tab whose label matches, with the tab's close button, and waits until it is gone. */
  async closeTab(label: string | RegExp): Promise<void> {
    const tab = this.page.locator('.tabs-container .tab', { hasText: label }).first();
    await tab.hover();
    await tab.locator('.tab-actions .action-label').first().click();
    await tab.waitFor({ state: 'detached' });
  }

  /**
   * The number of unsaved files, as the Explorer's activity-bar badge shows it (VS Code's dirty-files
   * indicator; 0 when there is no badge). Changes applied from the Refactor Preview land in documents a
   * moment after the panel closes: wait for this before saving.
   */
  async waitForUnsavedFiles(count: number, timeout = 15000): Promise<void> {
    // The Explorer's own badge: other containers (Batch Prompt's unfinished chunks) carry numbers too.
    const badge = this.page.locator('.part.activitybar .action-item:has(.codicon-explorer-view-icon) .badge .badge-content').filter({ hasText: /^\d+$/ });
    if (count === 0) {
      await badge.first().waitFor({ state: 'detached', timeout }).catch(async () => {
        if (await badge.first().isVisible()) throw new Error(`still ${await badge.first().innerText()} unsaved file(s) after ${timeout} ms`);
      });
      return;
    }
    await badge.filter({ hasText: new RegExp(`^${count}$`) }).first().waitFor({ state: 'visible', timeout });
  }

  /**
   * File: Save All Files, until no file is unsaved. Under load the palette may take the Enter before its
   * list caught up with the typed title, so the command is run once more if files are still unsaved.
   */
  async saveAll(): Promise<void> {
    await this.runCommand('File: Save All Files');
    try {
      await this.waitForUnsavedFiles(0);
    } catch {
      await this.runCommand('File: Save All Files');
      await this.waitForUnsavedFiles(0);
    }
  }

  /** What is on screen, for the log of a failed scenario: toasts, quick input, status bar. */
  async describeState(): Promise<string> {
    const texts = async (l: Locator) => (await l.allInnerTexts().catch(() => [])).map((t) => t.replace(/\s+/g, ' ').trim()).filter(Boolean);
    const lines = [
      `notifications: ${JSON.stringify(await texts(this.page.locator('.notifications-toasts .notification-toast')))}`,
      `quick input: ${JSON.stringify(await texts(this.page.locator('.quick-input-widget:visible')))}`,
      `dialogs: ${JSON.stringify(await texts(this.page.locator('.monaco-dialog-box')))}`,
      `status bar: ${JSON.stringify(await texts(this.page.locator('#workbench\\.parts\\.statusbar .statusbar-item')))}`,
      `side bar rows: ${JSON.stringify(await texts(this.sideBarRows))}`,
    ];
    return lines.join('\n');
  }

  async close(): Promise<void> {
    await this.context.close().catch(() => undefined);
    await this.browser.close().catch(() => undefined);
  }
}

/**
 * Call inside a `describe`: opens a fresh workbench before the scenario's tests (after `prepare`, which
 * may write settings or files; `folder`, when given, names the folder to open instead of the tier's
 * workspace), saves a screenshot and the state of the screen when a test fails, and
 * closes the workbench afterwards. Returns a getter for the tests.
 */
export function useWorkbench(scenario: string, options: { prepare?: () => void | Promise<void>; folder?: () => string } = {}): () => Workbench {
  let wb: Workbench | undefined;
  before(async function () {
    this.timeout(120000);
    // Unsaved documents a failed scenario left behind are restored from these backups by the next window.
    fs.rmSync(path.join(path.dirname(env('BATCH_PROMPT_UI_USER_SETTINGS')), 'Backups'), { recursive: true, force: true });
    await options.prepare?.();
    wb = await Workbench.open(scenario, options.folder?.());
  });
  afterEach(async function () {
    if (wb && this.currentTest?.state === 'failed') {
      await wb.screenshot('failed').catch(() => undefined);
      console.log((await wb.describeState().catch((e: unknown) => String(e))).replace(/^/gm, '      '));
    }
  });
  after(async () => {
    await wb?.close();
  });
  return () => {
    if (!wb) throw new Error(`the workbench for ${scenario} did not open`);
    return wb;
  };
}
