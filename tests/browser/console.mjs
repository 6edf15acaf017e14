// The web console in a real browser: Debian's Chromium, driven by playwright-core, against
// a real `silo serve` on a loopback port with a fresh data directory. Logs in, looks at the
// overview, creates a company (with markup in a field: it must show as text and never run),
// searches the list, opens the company, deactivates and activates it, deletes it with its
// slug typed, is refused as a company admin, and logs out. Any page error, dialog or
// Content-Security-Policy violation fails the run. Screenshots of each page go to
// $SILO_SCREENSHOTS (default: a new temporary directory), printed at the end.
//
//   node tests/browser/console.mjs [path/to/silo]

import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const SILO = resolve(process.argv[2] ?? "target/debug/silo");
const CHROMIUM = process.env.SILO_CHROMIUM ?? "/usr/bin/chromium";
const PASSWORD = "console-test-password-1";
const work = mkdtempSync(join(tmpdir(), "silo-console-"));
const shots = process.env.SILO_SCREENSHOTS ?? join(work, "screenshots");
mkdirSync(shots, { recursive: true });

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.on("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const server = spawn(SILO, ["serve", "--listen", `127.0.0.1:${port}`, "--embedder", "lexical"], {
  env: {
    ...process.env,
    SILO_DATA_DIR: join(work, "data"),
    SILO_ADMIN_EMAIL: "root@console.test",
    SILO_ADMIN_PASSWORD: PASSWORD,
    RUST_LOG: "warn",
  },
  stdio: ["ignore", "inherit", "inherit"],
});
let browser;
try {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) break;
    } catch {}
    check(i < 300, "silo serve answers /readyz within 30 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  // A company admin for the refusal below, made through the API.
  const api = async (path, token, body) => {
    const res = await fetch(`${base}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    check(res.ok, `POST ${path} answered ${res.status}`);
    return res.json();
  };
  const root = await api("/api/auth/login", null, { email: "root@console.test", password: PASSWORD });
  const globex = await api("/api/admin/companies", root.access_token, { name: "Globex" });
  await api("/api/admin/users", root.access_token, {
    email: "ann@globex.test", password: PASSWORD, role: "admin", company_id: globex.id,
  });

  // A fresh profile directory (playwright passes it as --user-data-dir).
  browser = await chromium.launchPersistentContext(join(work, "chromium-profile"), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  const context = browser;
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("dialog", (d) => { problems.push(`a dialog opened: ${d.message()}`); d.dismiss(); });
  page.on("console", (m) => {
    // A refusal's status (401, 403, 422) is logged as a failed load; the checks below
    // look at those pages themselves. Anything else (a CSP violation, a script error) fails.
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
      problems.push(`console error: ${m.text()}`);
    }
  });
  const shot = async (name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

  // Log in.
  await page.goto(`${base}/admin`);
  check(page.url().endsWith("/admin/login"), "an anonymous visit goes to the login page");
  await shot("01-login");
  await page.fill("input[name=email]", "root@console.test");
  await page.fill("input[name=password]", "not-the-password");
  await page.click("button[type=submit]");
  check((await page.textContent(".error")).includes("wrong email or password"), "a wrong password is said");
  await page.fill("input[name=email]", "root@console.test");
  await page.fill("input[name=password]", PASSWORD);
  await page.click("button[type=submit]");
  await page.waitForURL(`${base}/admin`);
  check((await page.textContent("main")).includes("active companies"), "the overview shows");
  await shot("02-overview");

  // Create a company with markup in its industry.
  await page.click("nav >> text=Companies");
  await page.waitForURL(`${base}/admin/companies`);
  await page.fill("input[name=name]", "Initech");
  await page.fill("input[name=slug]", "initech");
  await page.fill("input[name=industry]", "<img src=x onerror=alert(1)><script>alert(2)</script>");
  await page.click("text=Create company");
  await page.waitForURL(/\/admin\/companies\/[0-9a-f-]{36}$/);
  const industry = await page.textContent("dl.facts");
  check(industry.includes("<img src=x onerror=alert(1)><script>alert(2)</script>"), "the markup shows as text");
  check((await page.$$("dl.facts img, dl.facts script")).length === 0, "no element was made from it");
  await shot("04-company");

  // Search the list (htmx swaps the rows in place).
  await page.click("text=← Companies");
  await page.waitForURL(`${base}/admin/companies`);
  await shot("03-companies");
  await page.fill("#q", "init");
  await page.waitForFunction(() => document.querySelector("#rows")?.textContent.includes("matching"));
  const rows = await page.textContent("#rows");
  check(rows.includes("Initech") && !rows.includes("Globex"), "the search narrows the list");
  check(page.url().includes("q=init"), "the search is in the address");
  await shot("05-companies-search");

  // Deactivate, activate, then delete with the slug typed (a wrong one first).
  await page.click("#rows >> text=Initech");
  await page.click("text=Deactivate");
  check((await page.textContent(".notice")).includes("deactivated"), "deactivated");
  await shot("06-company-deactivated");
  await page.click("button:has-text('Activate')");
  check((await page.textContent(".notice")).includes("active"), "activated");
  await page.fill("input[name=confirm]", "initec");
  await page.click("text=Delete company");
  check((await page.textContent(".error")).includes("type the slug initech exactly"), "a wrong slug is refused");
  await shot("07-company-delete-refused");
  await page.fill("input[name=confirm]", "initech");
  await page.click("text=Delete company");
  await page.waitForURL(`${base}/admin/companies`);
  check(!(await page.textContent("#rows")).includes("Initech"), "the company is gone");

  // Log out: the console is closed again.
  await page.click("text=Log out");
  await page.waitForURL(`${base}/admin/login`);
  await page.goto(`${base}/admin/companies`);
  check(page.url().endsWith("/admin/login"), "after logout the pages send to the login page");

  // A company admin is refused.
  await page.fill("input[name=email]", "ann@globex.test");
  await page.fill("input[name=password]", PASSWORD);
  await page.click("button[type=submit]");
  check((await page.textContent("h1")).includes("Not for this account"), "a company admin is refused");
  await shot("08-refused");

  check(problems.length === 0, `no page errors, dialogs or CSP violations: ${problems.join("; ")}`);
  console.log(`browser test of the console passed; screenshots in ${shots}`);
} finally {
  if (browser) await browser.close();
  server.kill("SIGTERM");
  await new Promise((r) => server.once("exit", r));
  if (!process.env.SILO_SCREENSHOTS) {
    // The screenshots stay for a look; the data directory and profile go.
    rmSync(join(work, "data"), { recursive: true, force: true });
    rmSync(join(work, "chromium-profile"), { recursive: true, force: true });
  }
}
