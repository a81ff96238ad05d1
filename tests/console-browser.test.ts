/**
 * The web console in a real browser: playwright-core driving Debian's Chromium against a real node
 * (a child process on 127.0.0.1) that requires tokens, so the browser signs in with HTTP Basic and
 * its forms carry the browser's own Origin and Sec-Fetch-Site. It clicks through create, edit, a
 * conflict (the record changed behind the page's back, then the stale form sent), delete and
 * paging with JavaScript on, and reading and a form with JavaScript off. A screenshot is kept under
 * a temp folder (its path printed) for CI to keep; MINSTORE_CONSOLE_SCREENSHOT=path writes one more
 * copy (how docs/console.png is made).
 *
 * Without Chromium the file skips with one line, except under CI=true, where it fails: CI installs
 * it (.ci/run) and must never pass by skipping.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { newToken } from "../src/auth/token.ts";
import { freePorts, type ServerProcess, startServer, tempNodeDir } from "./helpers/server-process.ts";

const CHROMIUM = process.env.MINSTORE_TEST_CHROMIUM ?? "/usr/bin/chromium";
const IN_CI = process.env.CI === "true" || process.env.CI === "1";
// Without the background-networking flags Chromium dials out at start, which a closed network refuses.
const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];
const HOSTILE = "<script>alert(1)</script>";

if (!existsSync(CHROMIUM)) {
  const why = `Chromium is not at ${CHROMIUM} (apt-get install -y chromium, or set MINSTORE_TEST_CHROMIUM)`;
  if (IN_CI) test("Chromium is installed for the console's browser test", () => assert.fail(`CI=true but ${why}`));
  else test("the console in a real browser", (t) => t.skip(why));
} else {
  consoleInBrowser();
}

function consoleInBrowser(): void {
  describe("the web console in Chromium", { timeout: 180_000 }, () => {
    let server: ServerProcess;
    let dirs: Awaited<ReturnType<typeof tempNodeDir>>;
    let artifacts: string;
    const admin = newToken(["admin"], (bytes) => crypto.getRandomValues(bytes), "console");
    const auth = { authorization: `Bearer ${admin.token}` };
    const url = (path: string) => `${server.url}${path}`;
    const api = (path: string, init: RequestInit = {}) => fetch(url(path), { ...init, headers: { ...auth, ...(init.headers as object) } });
    const put = (path: string, value: unknown) => api(path, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ value }) });
    const post = (path: string, value: unknown) => api(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ value }) });

    before(async () => {
      dirs = await tempNodeDir("minstore-console-");
      artifacts = await mkdtemp(join(tmpdir(), "minstore-console-artifacts-"));
      // A peer that is never up: its outbox queue is what the console's peers table shows.
      const [downPort] = await freePorts(1);
      await writeFile(dirs.serversList, `http://127.0.0.1:${downPort}\n`);
      const tokens = join(dirs.root, "tokens");
      await writeFile(tokens, `${admin.line}\n`);
      server = await startServer({ runtime: "node", serversList: dirs.serversList, dataDir: dirs.dataDir, args: ["--tokens", tokens] });
    });
    after(async () => {
      await server?.stop("SIGTERM");
      await dirs?.remove();
    });

    /** A fresh profile per context, signed in with the token as Basic's password; dialogs are accepted and noted. */
    async function withBrowser(javaScriptEnabled: boolean, body: (page: Page, dialogs: string[]) => Promise<void>): Promise<void> {
      const profile = await mkdtemp(join(tmpdir(), "minstore-chromium-"));
      let context: BrowserContext | undefined;
      try {
        context = await chromium.launchPersistentContext(profile, {
          executablePath: CHROMIUM,
          headless: true,
          args: CHROMIUM_ARGS,
          javaScriptEnabled,
          httpCredentials: { username: "console", password: admin.token },
          viewport: { width: 1000, height: 900 },
        });
        const page = context.pages()[0] ?? (await context.newPage());
        page.setDefaultTimeout(15_000);
        const dialogs: string[] = [];
        page.on("dialog", (dialog) => {
          dialogs.push(dialog.message());
          void dialog.accept();
        });
        await body(page, dialogs);
      } finally {
        await context?.close();
        await rm(profile, { recursive: true, force: true });
      }
    }

    const textOf = async (page: Page, selector: string) => (await page.locator(selector).first().textContent())?.trim() ?? "";

    test("create, edit, a conflict, delete and paging, with JavaScript on", async () => {
      await withBrowser(true, async (page, dialogs) => {
        await page.goto(url("/"));
        assert.equal(await textOf(page, "h1"), "Collections");

        // Create from the home page, with a value that would run if it were not escaped.
        const create = page.locator("form.create");
        await create.locator('input[name="collection"]').fill("notes");
        await create.locator('input[name="uid"]').fill("first");
        await create.locator('textarea[name="value"]').fill(JSON.stringify({ text: HOSTILE }));
        await create.locator('button[type="submit"]').click();
        await page.waitForURL(/done=created/);
        assert.match(await textOf(page, ".notice"), /^Created\./);
        assert.ok((await textOf(page, "#record-json")).includes(HOSTILE), "the value shows as text");
        const created = await textOf(page, "#version");
        assert.equal(created, (await (await api("/notes/first")).json()).version);

        // The value box refuses what is not JSON before anything is sent.
        const box = page.locator("form.edit textarea");
        await box.fill("not json");
        await page.locator("form.edit button").click();
        assert.match(await box.evaluate((element: HTMLTextAreaElement) => element.validationMessage), /must be JSON/);
        assert.match(page.url(), /done=created/, "the form was not sent");

        // Edit.
        await box.fill('{"text": "edited"}');
        await page.locator("form.edit button").click();
        await page.waitForURL(/done=updated/);
        const edited = await textOf(page, "#version");
        assert.ok(edited > created, `${edited} after ${created}`);
        assert.deepEqual((await (await api("/notes/first")).json()).value, { text: "edited" });

        // A conflict: the record changes behind the page's back, then the page's form is sent.
        const behind = await (await put("/notes/first", { text: "changed elsewhere" })).json();
        await box.fill('{"text": "mine"}');
        await page.locator("form.edit button").click();
        await page.waitForSelector("#current-version");
        assert.match(await textOf(page, "h1"), /^Conflict on/);
        assert.match(await textOf(page, ".problem"), /precondition_failed/);
        assert.equal(await textOf(page, "#current-version"), behind.version);
        assert.deepEqual((await (await api("/notes/first")).json()).value, { text: "changed elsewhere" }, "the stale form wrote nothing");
        assert.match(await page.locator("form.edit textarea").inputValue(), /"mine"/, "the edit is kept");
        await page.screenshot({ path: join(artifacts, "console-conflict.png"), fullPage: true });
        await page.locator("form.edit button").click();
        await page.waitForURL(/done=updated/);
        assert.deepEqual((await (await api("/notes/first")).json()).value, { text: "mine" });

        // Delete, confirmed in the dialog the page's script opens.
        await page.locator("form.delete button").click();
        await page.waitForURL(/done=deleted/);
        assert.match(await textOf(page, ".notice"), /Deleted/);
        assert.equal((await api("/notes/first")).status, 404);
        assert.deepEqual(dialogs, ["Delete this record?"], "no script of the record's ran");

        // Paging through a collection with a cursor, then a prefix filter.
        const uids = ["p-1", "p-2", "p-3", "p-4", "p-5", "q-1"];
        for (const uid of uids) assert.equal((await post(`/pages/${uid}`, { uid })).status, 200);
        await page.goto(url("/pages?limit=2"));
        const seen: string[] = [];
        for (;;) {
          seen.push(...(await page.locator("#uids td.uid a").allTextContents()));
          const next = page.locator('a[rel="next"]');
          if ((await next.count()) === 0) break;
          await next.click();
          await page.waitForLoadState();
        }
        assert.deepEqual(seen, uids);
        await page.locator('form.filter input[name="prefix"]').fill("q-");
        await page.locator("form.filter button").click();
        await page.waitForURL(/prefix=q-/);
        assert.deepEqual(await page.locator("#uids td.uid a").allTextContents(), ["q-1"]);

        // The home page: the collections, and the peer that is down with its queue.
        await page.goto(url("/"));
        assert.deepEqual(await page.locator("#collections a").allTextContents(), ["pages"]);
        const peer = page.locator("#peers tbody tr").first();
        assert.match((await peer.locator("td").first().textContent()) ?? "", /^http:\/\/127\.0\.0\.1:\d+$/);
        assert.ok(Number.parseInt((await peer.locator("td").nth(1).textContent()) ?? "", 10) >= 1, "writes wait in the peer's queue");
        const shot = join(artifacts, "console-home.png");
        await page.screenshot({ path: shot, fullPage: true });
        if (process.env.MINSTORE_CONSOLE_SCREENSHOT) await copyFile(shot, process.env.MINSTORE_CONSOLE_SCREENSHOT);
        await page.goto(url("/pages?limit=3"));
        await page.screenshot({ path: join(artifacts, "console-collection.png"), fullPage: true });
        console.log(`console screenshots: ${artifacts}`);
      });
    });

    test("reading and a form with JavaScript off", async () => {
      assert.equal((await post("/plain/doc", { n: 1 })).status, 200);
      await withBrowser(false, async (page) => {
        await page.goto(url("/"));
        await page.locator('#collections a:text-is("plain")').click();
        await page.locator('#uids a:text-is("doc")').click();
        assert.match(await textOf(page, "#record-json"), /"n": 1/);

        // Nothing checks the value in the page: the node refuses it, and gives the form back.
        await page.locator("form.edit textarea").fill("not json");
        await page.locator("form.edit button").click();
        await page.waitForSelector("code.error");
        assert.equal(await textOf(page, "code.error"), "invalid_json");
        assert.equal(await page.locator("form.edit textarea").inputValue(), "not json");
        await page.locator("form.edit textarea").fill('{"n": 2}');
        await page.locator("form.edit button").click();
        await page.waitForURL(/done=updated/);
        assert.deepEqual((await (await api("/plain/doc")).json()).value, { n: 2 });

        // With no script, a delete has no confirmation step: the form is sent as it is.
        await page.locator("form.delete button").click();
        await page.waitForURL(/done=deleted/);
        assert.equal((await api("/plain/doc")).status, 404);
      });
    });
  });
}
