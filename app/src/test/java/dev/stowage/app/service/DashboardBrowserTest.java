package dev.stowage.app.service;

import static dev.stowage.app.service.TestApi.json;
import static org.assertj.core.api.Assertions.assertThat;

import dev.stowage.engine.Resources;
import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Level;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard in a real browser: Debian's headless Chromium driven by its ChromeDriver, against
 * the real service (embedded PostgreSQL, real processes). Screenshots of each page go to {@code
 * target/dashboard-screenshots}. Without Chromium installed the test is skipped, unless {@code
 * STOWAGE_REQUIRE_BROWSER} is set (as CI sets it, after installing Chromium): then it fails.
 */
class DashboardBrowserTest {
  static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
  static final Path SHOTS = Path.of("target", "dashboard-screenshots");

  @TempDir static Path browserHome;
  @TempDir Path tmp;
  private ChromeDriverService driverService;
  private StowageService service;
  private String admin;
  private TestApi api;
  private WebDriver browser;
  private final List<String> consoleErrors = new ArrayList<>();

  @BeforeAll
  static void browserInstalled() throws Exception {
    boolean installed = Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER);
    if (System.getenv("STOWAGE_REQUIRE_BROWSER") != null) {
      assertThat(installed)
          .as(
              "STOWAGE_REQUIRE_BROWSER is set but Debian's chromium and chromium-driver are not"
                  + " installed (apt-get install chromium chromium-driver)")
          .isTrue();
    }
    Assumptions.assumeTrue(installed, "Chromium is not installed: the browser tests need it");
    Files.createDirectories(SHOTS);
  }

  @BeforeEach
  void start() throws Exception {
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    startService();
    var options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    // As this machine's closed network needs: no background connections, no sandbox as root.
    options.addArguments(
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1366,1400",
        "--user-data-dir=" + Files.createTempDirectory(browserHome, "profile"));
    var logs = new LoggingPreferences();
    logs.enable(LogType.BROWSER, Level.ALL);
    options.setCapability("goog:loggingPrefs", logs);
    driverService =
        new ChromeDriverService.Builder()
            .usingDriverExecutable(CHROMEDRIVER.toFile())
            .usingAnyFreePort()
            .build();
    browser = new ChromeDriver(driverService, options);
  }

  private void startService() throws Exception {
    service =
        StowageService.builder(tmp.resolve("data"))
            .interval(Duration.ofMillis(100))
            .cluster(new StowageService.Cluster.Local(new Resources(4000, 8192, 100_000, 0)))
            .start();
    admin = Files.readString(service.adminTokenFile()).strip();
    api = new TestApi(service);
  }

  @AfterEach
  void stop() {
    if (browser != null) {
      browser.quit();
    }
    if (driverService != null) {
      driverService.stop();
    }
    if (service != null) {
      service.close();
    }
  }

  private void open(String path) {
    browser.get(service.url() + path);
    collectConsole();
  }

  private void collectConsole() {
    for (LogEntry e : browser.manage().logs().get(LogType.BROWSER)) {
      if (e.getLevel().intValue() >= Level.SEVERE.intValue()) {
        consoleErrors.add(e.getMessage());
      }
    }
  }

  /** Clicks what {@code by} finds, again if a live update replaced it before the click landed. */
  private void clickLive(By by) {
    waitUpTo(10)
        .until(
            d -> {
              d.findElement(by).click();
              return true;
            });
  }

  /** A wait that reads again when a live update replaced what it read. */
  private WebDriverWait waitUpTo(int seconds) {
    var wait = new WebDriverWait(browser, Duration.ofSeconds(seconds));
    wait.ignoring(org.openqa.selenium.StaleElementReferenceException.class);
    return wait;
  }

  /** The page's accessibility violations by axe-core's rules (WCAG 2 A and AA), one line each. */
  private List<String> accessibilityViolations() {
    var results =
        new com.deque.html.axecore.selenium.AxeBuilder()
            .withTags(List.of("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"))
            .analyze(browser);
    // The rules ran: they found things that pass.
    assertThat(results.getPasses()).as("axe-core's passed rules").isNotEmpty();
    var out = new ArrayList<String>();
    for (var v : results.getViolations()) {
      out.add(
          browser.getCurrentUrl()
              + ": "
              + v.getId()
              + " ("
              + v.getImpact()
              + "): "
              + v.getHelp()
              + " at "
              + v.getNodes().stream().map(n -> String.valueOf(n.getTarget())).toList());
    }
    return out;
  }

  private final List<String> violations = new ArrayList<>();

  private void shot(String name) throws Exception {
    violations.addAll(accessibilityViolations());
    File f = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE);
    Files.copy(f.toPath(), SHOTS.resolve(name + ".png"), StandardCopyOption.REPLACE_EXISTING);
  }

  private void signIn(String token) {
    open("/tasks");
    assertThat(browser.getCurrentUrl()).endsWith("/sign-in");
    browser.findElement(By.id("token")).sendKeys(token);
    browser.findElement(By.cssSelector("form button[type=submit]")).click();
    waitUpTo(10)
        .withMessage(() -> browser.getCurrentUrl() + ": " + browser.getPageSource())
        .until(d -> d.getTitle().startsWith("Overview"));
  }

  /** The text of the first element {@code css} selects, read in one script (live pages). */
  private String text(String css) {
    return (String)
        ((JavascriptExecutor) browser)
            .executeScript("return document.querySelector(arguments[0]).innerText", css);
  }

  private static String encoded(String id) {
    return id.replace("/", "%2F");
  }

  @Test
  void theDagTurnsSucceededLiveLogsShowTheSumCancelWorksAndCyclesShowTheirSixPhases()
      throws Exception {
    signIn(admin);
    var cookie = browser.manage().getCookieNamed("stowage_session");
    assertThat(cookie.isHttpOnly()).isTrue();
    assertThat(cookie.getSameSite()).isEqualTo("Strict");
    shot("overview-empty");

    String dag = Files.readString(Path.of("..", "examples", "etl-dag.yaml"));
    var submitted =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(URI.create(service.url() + "/api/tasks"))
                    .header("Authorization", "Bearer " + admin)
                    .header("Content-Type", "application/yaml")
                    .POST(HttpRequest.BodyPublishers.ofString(dag))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    assertThat(submitted.statusCode()).as(submitted.body()).isEqualTo(201);

    // The DAG page, left open: its table turns to succeeded without the page being loaded again.
    open("/dag/" + encoded("example/load"));
    ((JavascriptExecutor) browser).executeScript("window.stowageNotReloaded = true;");
    waitUpTo(60)
        .until(
            d ->
                d.findElements(By.cssSelector("#dag-table td.state")).size() == 4
                    && d.findElements(By.cssSelector("#dag-table td.state")).stream()
                        .allMatch(e -> e.getText().equals("succeeded")));
    assertThat(
            ((JavascriptExecutor) browser)
                .executeScript("return window.stowageNotReloaded === true"))
        .isEqualTo(true);
    assertThat(browser.findElements(By.cssSelector("#dag canvas"))).isNotEmpty();
    shot("dag");

    open("/tasks/" + encoded("example/sum"));
    waitUpTo(30).until(d -> d.findElement(By.id("log")).getText().contains("sum is 5000050000"));
    // Its attempt's steps, as the store keeps them.
    assertThat(text("ol.timeline"))
        .containsPattern("attempt 1 on local: placed .* → launched \\+\\d+ ms .*→ succeeded");
    shot("task");

    // Cancel from the page: a long task, cancelled by its button, is cancelled.
    var created =
        api.send(
            "POST",
            "/api/tasks",
            "{\"tasks\": [{\"id\": \"long\", \"command\": [\"sleep\", \"120\"], \"cpuMillis\": 100}]}",
            admin);
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    api.await("/api/tasks/long", "state", "running", admin);
    open("/tasks/long");
    clickLive(By.cssSelector("button[data-action$='/cancel']"));
    api.await("/api/tasks/long", "state", "cancelled", admin);
    waitUpTo(30).until(d -> d.findElement(By.id("task-state")).getText().equals("cancelled"));
    // Without a reload, the button is now the one for its new state, and has the keyboard's focus
    // (the clicked button had it).
    waitUpTo(30)
        .until(d -> d.findElement(By.id("task-action")).getText().equals("Retry this task"));
    assertThat(browser.findElements(By.cssSelector("button[data-action$='/cancel']"))).isEmpty();
    assertThat(
            ((JavascriptExecutor) browser)
                .executeScript("return document.activeElement && document.activeElement.id"))
        .isEqualTo("task-action");
    // Retry from the page: the cancelled task runs again, as its second attempt. Clicked, and
    // clicked again on a copy put in its place while the first is at work, as a live update
    // would: one request.
    ((JavascriptExecutor) browser)
        .executeScript(
            """
            window.stowagePosts = 0;
            const send = window.fetch;
            window.fetch = (url, init) => {
              if (init && init.method === "POST") window.stowagePosts++;
              return send(url, init);
            };
            const clicked = document.getElementById("task-action");
            clicked.click();
            const fresh = clicked.cloneNode(true);
            fresh.removeAttribute("aria-disabled");
            clicked.replaceWith(fresh);
            fresh.click();
            """);
    waitUpTo(10).until(d -> d.findElement(By.id("action-result")).getText().equals("long: queued"));
    assertThat(((JavascriptExecutor) browser).executeScript("return window.stowagePosts"))
        .isEqualTo(1L);
    api.await("/api/tasks/long", "state", "running", admin);
    waitUpTo(30).until(d -> d.findElement(By.id("task-state")).getText().equals("running"));
    waitUpTo(30)
        .until(d -> d.findElement(By.id("task-action")).getText().equals("Cancel this task"));
    assertThat(json(api.send("GET", "/api/tasks/long", null, admin)).get("attempt").asInt())
        .isEqualTo(2);
    // The cancelled attempt, then the one running now.
    open("/tasks/long");
    assertThat(text("ol.timeline"))
        .containsPattern("attempt 1 on local: placed .* → launched \\+\\d+ ms .*→ cancelled \\+")
        .containsPattern("attempt 2 on local: placed .* → running for \\d+ s");
    assertThat(api.send("POST", "/api/tasks/long/cancel", "{}", admin).statusCode()).isEqualTo(202);
    api.await("/api/tasks/long", "state", "cancelled", admin);

    // Cancel a whole DAG from its page.
    var pair =
        api.send(
            "POST",
            "/api/tasks",
            """
            {"tasks": [
              {"id": "pair/first", "command": ["sleep", "120"], "cpuMillis": 100},
              {"id": "pair/then", "command": ["true"], "cpuMillis": 100, "dependsOn": ["pair/first"]}
            ]}
            """,
            admin);
    assertThat(pair.statusCode()).as(pair.body()).isEqualTo(201);
    api.await("/api/tasks/" + encoded("pair/first"), "state", "running", admin);
    open("/dag/" + encoded("pair/first"));
    // In the live table.
    clickLive(By.xpath("//button[text()='Cancel the 2 unfinished tasks']"));
    api.await("/api/tasks/" + encoded("pair/first"), "state", "cancelled", admin);
    // Its dependant ends too: cancelled by its own request, or failed upstream if the first's
    // cancel doomed it before that request came.
    waitUpTo(30)
        .until(
            d -> {
              try {
                String state =
                    json(api.send("GET", "/api/tasks/" + encoded("pair/then"), null, admin))
                        .get("state")
                        .asText();
                return state.equals("cancelled") || state.equals("upstream_failed");
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });
    assertThat(browser.findElement(By.id("action-result")).getText()).contains("pair/first: ");

    open("/tasks?state=succeeded");
    assertThat(browser.findElements(By.cssSelector("#tasks-table tr[data-task]"))).hasSize(4);
    // A filter change answers in place.
    var prefix = browser.findElement(By.name("prefix"));
    prefix.sendKeys("example/s");
    waitUpTo(10)
        .until(d -> d.findElements(By.cssSelector("#tasks-table tr[data-task]")).size() == 1);
    assertThat(text("#tasks-table tr[data-task]")).contains("example/sum");
    assertThat(browser.getCurrentUrl()).contains("prefix=example%2Fs");
    shot("tasks");

    open("/cycles");
    // Read in one script: the list is replaced as cycles run.
    assertThat(
            (List<Object>)
                ((JavascriptExecutor) browser)
                    .executeScript(
                        "return Array.from(document.querySelector('ol.cycles svg.waterfall')"
                            + ".querySelectorAll('g[data-phase]')).map(g => g.dataset.phase)"))
        .containsExactlyElementsOf(dev.stowage.scheduler.SchedulingCycle.PHASES);
    shot("cycles");
    clickLive(By.cssSelector("ol.cycles a"));
    waitUpTo(10).until(d -> d.getTitle().startsWith("Cycle "));

    open("/nodes");
    assertThat(browser.findElements(By.cssSelector("meter"))).isNotEmpty();
    shot("nodes");

    open("/");
    waitUpTo(20).until(d -> d.findElements(By.cssSelector(".uplot")).size() == 4);
    // The phases chart is drawn from the samples (one every 10 s), not from the last cycles
    // kept: once a sample holds cycles, it has a bar, and its legend names the six phases.
    var js = (JavascriptExecutor) browser;
    waitUpTo(40)
        .until(
            d ->
                Boolean.TRUE.equals(
                    js.executeAsyncScript(
                        "const done = arguments[arguments.length - 1];"
                            + "fetch('/ui/data/history').then(r => r.json()).then(h => done("
                            + "Object.values(h.phaseMs).some(v => v.some(x => x !== null))))")));
    browser.navigate().refresh();
    waitUpTo(20).until(d -> d.findElements(By.cssSelector(".uplot")).size() == 4);
    assertThat(
            (List<Object>)
                js.executeScript(
                    "return Array.from(document.querySelectorAll("
                        + "'[data-chart=phases] .u-legend .u-series .u-label'))"
                        + ".slice(1).map(e => e.textContent)")) // the first is the time axis
        .containsExactlyInAnyOrderElementsOf(dev.stowage.scheduler.SchedulingCycle.PHASES);
    shot("overview");

    collectConsole();
    assertThat(consoleErrors).as("console errors").isEmpty();
    assertThat(violations).as("accessibility violations").isEmpty();
  }

  @Test
  void aPageLeftOpenIsUpdatedByTheServerAndDoesNotGrow() throws Exception {
    signIn(admin);
    // By keyboard: the first Tab reaches the skip link, the next ones the navigation.
    var keys = new org.openqa.selenium.interactions.Actions(browser);
    keys.sendKeys(org.openqa.selenium.Keys.TAB).perform();
    assertThat(browser.switchTo().activeElement().getText()).isEqualTo("Skip to content");
    keys.sendKeys(org.openqa.selenium.Keys.TAB).perform();
    assertThat(browser.switchTo().activeElement().getText()).isEqualTo("Overview");
    keys.sendKeys(org.openqa.selenium.Keys.TAB, org.openqa.selenium.Keys.TAB).perform();
    assertThat(browser.switchTo().activeElement().getText()).isEqualTo("Tasks");
    browser.switchTo().activeElement().sendKeys(org.openqa.selenium.Keys.ENTER);
    waitUpTo(10)
        .withMessage(() -> browser.getCurrentUrl() + " " + browser.getTitle())
        .until(d -> d.getTitle().startsWith("Tasks"));
    for (String page : List.of("/", "/cycles", "/tasks", "/nodes")) {
      open(page);
      var js = (JavascriptExecutor) browser;
      js.executeScript(
          "window.stowageEvents = 0; window.stowageNotReloaded = true;"
              + " document.addEventListener('htmx:sseMessage', e => {"
              + " if (e.detail.type === 'cycle') window.stowageEvents++; });");
      waitUpTo(20)
          .withMessage(() -> page + ": " + js.executeScript("return window.stowageEvents"))
          .until(d -> ((Long) js.executeScript("return window.stowageEvents")) >= 3);
      long early = (Long) js.executeScript("return document.getElementsByTagName('*').length");
      int streams = service.liveDashboardPages();
      waitUpTo(30).until(d -> ((Long) js.executeScript("return window.stowageEvents")) >= 7);
      long later = (Long) js.executeScript("return document.getElementsByTagName('*').length");
      assertThat(later).as(page + ": elements after 3 and after 7 updates").isEqualTo(early);
      assertThat(js.executeScript("return window.stowageNotReloaded === true")).isEqualTo(true);
      // The page's updates open no further event streams on the server.
      assertThat(service.liveDashboardPages())
          .as(page + ": open streams")
          .isLessThanOrEqualTo(streams);
    }
    collectConsole();
    // Leaving the dashboard: the server drops the last page's stream (at its next write), even
    // though the browser keeps the page in its back/forward cache; and the page works on Back.
    assertThat(service.liveDashboardPages()).isPositive();
    browser.get("about:blank");
    waitUpTo(20)
        .withMessage(() -> service.liveDashboardPages() + " streams still open")
        .until(d -> service.liveDashboardPages() == 0);
    browser.navigate().back();
    waitUpTo(20)
        .withMessage(() -> service.liveDashboardPages() + " streams open after Back")
        .until(d -> service.liveDashboardPages() == 1);
    assertThat(consoleErrors).as("console errors").isEmpty();
  }

  /**
   * What a live update leaves behind in the page, measured where a day of them would show: each
   * page's live parts are updated a few hundred times at once, and the page's heap (V8's and
   * Blink's objects, from a heap snapshot after a garbage collection) must hold no kind of object
   * that many more than before. A leak of one object per update cannot hide in the noise of a byte
   * count.
   */
  @Test
  void aLiveUpdateLeavesNothingBehindInThePage() throws Exception {
    var r =
        api.send(
            "POST",
            "/api/tasks",
            "{\"tasks\": [{\"id\": \"kept/one\", \"command\": [\"true\"], \"cpuMillis\": 100}]}",
            admin);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    signIn(admin);
    browser.manage().timeouts().scriptTimeout(Duration.ofSeconds(120));
    int updates = 200;
    for (String page : List.of("/", "/cycles", "/tasks", "/nodes", "/tasks/kept%2Fone")) {
      open(page);
      try (var heap = PageHeap.of((ChromeDriver) browser)) {
        updateLiveParts(updates / 2); // the script compiled, the browser's own buffers filled
        var before = heap.objectsByKind();
        updateLiveParts(updates);
        var after = heap.objectsByKind();
        assertThat(PageHeap.grown(before, after, updates / 2))
            .as(page + ": objects more after " + updates + " updates")
            .isEmpty();
      }
    }
    collectConsole();
    assertThat(consoleErrors).as("console errors").isEmpty();
  }

  /** Has htmx update each of the page's live parts {@code times} times, one round after another. */
  private void updateLiveParts(int times) {
    Object outcome =
        ((JavascriptExecutor) browser)
            .executeAsyncScript(
                "const [times, done] = [arguments[0], arguments[arguments.length - 1]];"
                    + "let settled = 0;"
                    + "document.addEventListener('htmx:afterSettle', () => settled++);"
                    + "(async () => {"
                    + "  for (let i = 0; i < times; i++) {"
                    + "    const live = document.querySelectorAll('[hx-trigger=\"sse:cycle\"]');"
                    + "    if (!live.length) return 'no live part';"
                    + "    const goal = settled + live.length, until = Date.now() + 10000;"
                    + "    live.forEach((el) => htmx.trigger(el, 'sse:cycle'));"
                    + "    while (settled < goal) {"
                    + "      if (Date.now() > until) return 'an update did not settle';"
                    + "      await new Promise((r) => setTimeout(r, 2));"
                    + "    }"
                    + "  }"
                    // A part swapped whole leaves its old element's listener on the stream, which
                    // lets go of it at the stream's next event: as in use, one is let go at a time.
                    + "  const event = await new Promise((r) => {"
                    + "    setTimeout(() => r(false), 15000);"
                    + "    document.addEventListener('htmx:sseMessage', (e) => {"
                    + "      if (e.detail && e.detail.type === 'cycle') r(true); });"
                    + "  });"
                    + "  if (!event) return 'no event from the stream within 15 s';"
                    + "  await new Promise((r) => setTimeout(r, 500));"
                    + "  return 'done';"
                    + "})().then(done, (e) => done(String(e)));",
                times);
    assertThat(outcome).isEqualTo("done");
  }

  /**
   * The overview left open for STOWAGE_SOAK_MINUTES while tasks keep coming, a day of samples
   * stored first: opt-in, as it takes that long. Each minute, after a garbage collection in the
   * page, it prints the page's script heap, its DOM nodes and event listeners (Chromium's own
   * counts) and the server's open streams; at the end these must be where they were after the first
   * two minutes (up to noise), the page never reloaded, and updates still arriving.
   */
  @Test
  @org.junit.jupiter.api.condition.EnabledIfEnvironmentVariable(
      named = "STOWAGE_SOAK_MINUTES",
      matches = "[1-9][0-9]*")
  void theOverviewLeftOpenForALongTimeKeepsWorkingAndDoesNotGrow() throws Exception {
    int minutes = Integer.parseInt(System.getenv("STOWAGE_SOAK_MINUTES"));
    // The charts' data at its bound from the start: a day of samples, of 20 queues, stored, and
    // the service started again on it.
    service.close();
    try (var pg =
            dev.stowage.store.EmbeddedPostgres.start(tmp.resolve("data").resolve("postgres"));
        var db = dev.stowage.store.Database.open(pg)) {
      var kept = new dev.stowage.store.PostgresClusterHistory(db.dataSource());
      var shares = new java.util.TreeMap<String, Double>();
      for (int q = 0; q < 20; q++) {
        shares.put("team-" + q, 0.01 * q);
      }
      java.time.Instant now = java.time.Instant.now();
      for (int i = 8_640; i > 0; i--) {
        kept.append(
            new dev.stowage.scheduler.history.ClusterSample(
                now.minusSeconds(10L * i),
                List.of(0.5, 0.25, 0.1, 0.0),
                shares,
                i % 7,
                i % 5,
                i % 2,
                100,
                java.util.Map.of("launch", 1.0 + i % 3)),
            now.minus(Duration.ofDays(1)));
      }
    }
    startService();
    signIn(admin);
    var js = (JavascriptExecutor) browser;
    js.executeScript(
        "window.stowageEvents = 0; window.stowageNotReloaded = true;"
            + " document.addEventListener('htmx:sseMessage', e => {"
            + " if (e.detail.type === 'cycle') window.stowageEvents++; });");
    var chrome = (ChromeDriver) browser;
    chrome.executeCdpCommand("Performance.enable", java.util.Map.of());
    var submitter =
        Thread.ofPlatform()
            .daemon()
            .start(
                () -> {
                  // Work arriving all the time: a few short tasks every 5 s.
                  for (int batch = 0; !Thread.currentThread().isInterrupted(); batch++) {
                    try {
                      var tasks = new StringBuilder("{\"tasks\": [");
                      for (int i = 0; i < 5; i++) {
                        tasks
                            .append(i == 0 ? "" : ",")
                            .append("{\"id\": \"soak/")
                            .append(batch)
                            .append('-')
                            .append(i)
                            .append("\", \"command\": [\"true\"], \"cpuMillis\": 100}");
                      }
                      api.send("POST", "/api/tasks", tasks.append("]}").toString(), admin);
                      Thread.sleep(5_000);
                    } catch (InterruptedException e) {
                      return;
                    } catch (Exception e) {
                      // The next batch tries again; the page's checks say whether it mattered.
                    }
                  }
                });
    var heap = PageHeap.of(chrome);
    java.util.Map<String, Long> settledObjects = null;
    java.util.Map<String, Long> lastObjects = null;
    var rows = new ArrayList<double[]>();
    System.out.printf(
        "%6s %10s %8s %10s %8s %8s%n",
        "minute", "heap KB", "nodes", "listeners", "events", "streams");
    try {
      for (int minute = 0; minute <= minutes; minute++) {
        if (minute > 0) {
          Thread.sleep(60_000);
        }
        chrome.executeCdpCommand("HeapProfiler.collectGarbage", java.util.Map.of());
        var metrics = new java.util.HashMap<String, Double>();
        @SuppressWarnings("unchecked")
        var list =
            (List<java.util.Map<String, Object>>)
                chrome
                    .executeCdpCommand("Performance.getMetrics", java.util.Map.of())
                    .get("metrics");
        for (var m : list) {
          metrics.put((String) m.get("name"), ((Number) m.get("value")).doubleValue());
        }
        double[] row = {
          minute,
          metrics.get("JSHeapUsedSize") / 1024,
          metrics.get("Nodes"),
          metrics.get("JSEventListeners"),
          ((Number) js.executeScript("return window.stowageEvents")).doubleValue(),
          service.liveDashboardPages()
        };
        rows.add(row);
        if (minute == Math.min(2, minutes)) {
          settledObjects = heap.objectsByKind();
        } else if (minute == minutes) {
          lastObjects = heap.objectsByKind();
        }
        System.out.printf(
            "%6.0f %10.0f %8.0f %10.0f %8.0f %8.0f%n",
            row[0], row[1], row[2], row[3], row[4], row[5]);
      }
    } finally {
      submitter.interrupt();
      heap.close();
    }
    double[] settled = rows.get(Math.min(2, rows.size() - 1));
    double[] last = rows.getLast();
    double[] before = rows.get(rows.size() - 2);
    assertThat(js.executeScript("return window.stowageNotReloaded === true")).isEqualTo(true);
    assertThat(last[4]).as("updates in the last minute").isGreaterThan(before[4]);
    assertThat(last[1]).as("script heap, KB").isLessThanOrEqualTo(settled[1] * 1.25 + 512);
    assertThat(last[2]).as("DOM nodes").isLessThanOrEqualTo(settled[2] * 1.1 + 50);
    assertThat(last[3]).as("event listeners").isLessThanOrEqualTo(settled[3] + 20);
    assertThat(last[5]).as("open streams").isEqualTo(1);
    // No kind of object (V8's or Blink's) kept per update: half as many more as updates is one
    // kept by every other update. The page's content itself (which tasks, which rows) moves a
    // kind's count by a few hundred from one minute to the next, so fewer than 500 more is not
    // taken for a leak: a long run is what tells.
    double updates = last[4] - settled[4];
    assertThat(PageHeap.grown(settledObjects, lastObjects, Math.max(500, updates / 2)))
        .as("objects more after " + updates + " updates")
        .isEmpty();
    collectConsole();
    assertThat(consoleErrors).as("console errors").isEmpty();
  }

  @Test
  void aOneTimeLinkSignsInOnceAndASessionHasOnlyItsTokensRole() throws Exception {
    String reader = api.token("viewer", "reader", admin);
    var link = api.send("POST", "/api/sign-in-links", null, reader);
    assertThat(link.statusCode()).as(link.body()).isEqualTo(201);
    String url = json(link).get("url").asText();

    browser.get(url);
    waitUpTo(10)
        .withMessage(() -> browser.getCurrentUrl() + ": " + browser.getPageSource())
        .until(d -> d.getTitle().startsWith("Overview"));
    assertThat(browser.findElement(By.className("who")).getText()).isEqualTo("viewer (reader)");

    var created =
        api.send(
            "POST",
            "/api/tasks",
            "{\"tasks\": [{\"id\": \"held\", \"command\": [\"sleep\", \"120\"], \"cpuMillis\": 100}]}",
            admin);
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    open("/tasks/held");
    clickLive(By.cssSelector("button[data-action$='/cancel']"));
    waitUpTo(10)
        .until(d -> d.findElement(By.id("action-result")).getText().startsWith("refused (403)"));
    assertThat(json(api.send("GET", "/api/tasks/held", null, admin)).get("state").asText())
        .isNotEqualTo("cancelled");

    // Revoking the token ends its sessions at once. The page is left first: its refresh on the
    // next cycle would be refused too, and logged, before the page below is opened.
    browser.get("about:blank");
    assertThat(api.send("POST", "/api/tokens/viewer/revoke", null, admin).statusCode())
        .isEqualTo(200);
    open("/tasks");
    assertThat(browser.getCurrentUrl()).endsWith("/sign-in");

    // The link was used up.
    browser.manage().deleteAllCookies();
    browser.get(url);
    assertThat(browser.findElement(By.cssSelector("p.error")).getText())
        .contains("used already or has expired");
    collectConsole();
    // The refused cancel, which the browser logs as a failed request, and nothing else.
    assertThat(consoleErrors)
        .as("console errors")
        .singleElement()
        .asString()
        .contains("/api/tasks/held/cancel", "403");
  }

  @Test
  void aChangeByCookieWithoutAnOriginAndASignInFromAnotherSiteAreRefused() throws Exception {
    signIn(admin);
    String session = browser.manage().getCookieNamed("stowage_session").getValue();
    var http = HttpClient.newHttpClient();
    var pause =
        http.send(
            HttpRequest.newBuilder(URI.create(service.url() + "/api/scheduling/pause"))
                .header("Cookie", "stowage_session=" + session)
                .POST(HttpRequest.BodyPublishers.noBody())
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(pause.statusCode()).as(pause.body()).isEqualTo(403);
    assertThat(json(pause).get("error").asText()).contains("Origin");
    var read =
        http.send(
            HttpRequest.newBuilder(URI.create(service.url() + "/api/scheduling"))
                .header("Cookie", "stowage_session=" + session)
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(read.statusCode()).as(read.body()).isEqualTo(200);
    assertThat(json(read).get("paused").asBoolean()).isFalse();

    var forged =
        http.send(
            HttpRequest.newBuilder(URI.create(service.url() + "/sign-in"))
                .header("Origin", "http://evil.example")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("token=" + admin))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(forged.statusCode()).isEqualTo(403);
    assertThat(forged.headers().firstValue("Set-Cookie")).isEmpty();

    var page =
        http.send(
            HttpRequest.newBuilder(URI.create(service.url() + "/tasks")).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(page.statusCode()).isEqualTo(303);
    assertThat(page.headers().firstValue("Location")).hasValue("/sign-in");
  }
}
