using Hangfire;
using Hangfire.States;
using Microsoft.Playwright;
using OfflineTasks.Hangfire;
using OfflineTasks.Host.Examples;
using OfflineTasks.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace OfflineTasks.Tests.Dashboard;

/// <summary>A MariaDB master-master pair in containers of the browser tests' own, shard users-1 of the host.</summary>
public sealed class BrowserPair() : ContainerPairFixture("browser");

/// <summary>
/// The dashboard in a real browser (Debian's chromium, driven by Playwright) against the host executable, a real
/// PostgreSQL and a real MariaDB pair: what an operator sees and clicks. Screenshots go to <c>TestResults/</c>.
/// </summary>
public sealed class DashboardBrowserTests(BrowserPair fixture) : IClassFixture<BrowserPair>, IAsyncLifetime
{
    private const string Chromium = "/usr/bin/chromium";
    private const string Shard = "users-1";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static readonly LocatorAssertionsToHaveTextOptions Soon = new() { Timeout = 30_000 };
    private readonly ContainerMariaDbPair _pair = fixture.Pair;
    private readonly TestSchema _schema = new();
    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public async Task InitializeAsync()
    {
        if (!File.Exists(Chromium))
        {
            throw new InvalidOperationException($"The browser tests drive Debian's chromium at {Chromium}, which is not installed: run scripts/setup.sh (apt-get install chromium).");
        }

        await _schema.InitializeAsync();
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox", "--disable-gpu"] });
    }

    public async Task DisposeAsync()
    {
        await _pair.SqlAsync("b", "START SLAVE");
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
        await _schema.DisposeAsync();
    }

    [Fact]
    public async Task An_operator_sees_the_stressed_shard_close_its_parked_jobs_grow_forces_it_open_with_a_reason_and_clears_the_switch()
    {
        var shard = _pair.GateKeys(Shard).Select(k => (k.Key.Replace(":", "__", StringComparison.Ordinal), k.Value!));
        using var host = HostProcess.Start(HostProcess.Environment(_schema, [.. shard, ("OfflineTasks__Gate__ProbeInterval", "00:00:00.25"), ("OfflineTasks__Gate__HoldTime", "00:00:01")]));
        var dashboard = (await host.MetricsUrlAsync(Timeout)).Replace("/metrics", "/hangfire", StringComparison.Ordinal);
        var page = await _browser!.NewPageAsync(new() { ViewportSize = new() { Width = 1400, Height = 900 } });

        // The Shards page, from the navigation bar.
        await page.GotoAsync(dashboard + "/");
        await page.GetByRole(AriaRole.Link, new() { Name = "Shards", Exact = true }).ClickAsync();
        var row = page.Locator($"tr[data-shard='{Shard}']");
        await Expect(row.Locator(".offlinetasks-mode")).ToHaveTextAsync("open", Soon);

        // Stress the pair: browser-b stops replicating. The page, refreshing itself, shows the shard closed, with the
        // signal and the master in the reason and in the master's row.
        await _pair.SqlAsync("b", "STOP SLAVE");
        await Expect(row.Locator(".offlinetasks-mode")).ToHaveTextAsync("closed", Soon);
        await Expect(row.Locator(".offlinetasks-reason")).ToContainTextAsync("replication IO thread not running on browser-b");
        await Expect(row.Locator("tr[data-master='browser-b']")).ToContainTextAsync("replication stopped");

        // Jobs enqueued now are parked; the count grows on the page without a reload.
        var ids = Enumerable.Range(0, 3).Select(i => _schema.Client.Enqueue<IPhotoIndexer>(x => x.ReindexAsync(1, 10 + i, CancellationToken.None))).ToList();
        await Expect(row.Locator(".offlinetasks-parked")).ToHaveTextAsync("3", Soon);
        Assert.All(ids, id => Assert.Equal(ParkedState.StateName, _schema.StateOf(id)));
        await page.ScreenshotAsync(new() { Path = Screenshot("shards-page-closed.png"), FullPage = true });

        // "Why isn't this job running?": its page says, and its Requeue button parks it again (the page reloads to show it).
        var jobPage = await _browser.NewPageAsync();
        await jobPage.GotoAsync(dashboard + "/jobs/details/" + ids[0]);
        await Expect(jobPage.Locator("h3.offlinetasks-waiting")).ToHaveTextAsync("Waiting for shard " + Shard);
        await Expect(jobPage.Locator(".offlinetasks-waiting + .alert")).ToContainTextAsync("replication IO thread not running on browser-b");
        var parkedEntries = jobPage.Locator(".state-card-title", new() { HasTextString = "Parked" });
        await Expect(parkedEntries).ToHaveCountAsync(1);
        await jobPage.GetByRole(AriaRole.Button, new() { Name = "Requeue" }).ClickAsync();
        await Expect(parkedEntries).ToHaveCountAsync(2);
        Assert.Equal(ParkedState.StateName, _schema.StateOf(ids[0]));
        await jobPage.CloseAsync();

        // Force it open from the shard's page, with a reason: the audit log shows who and why, and the jobs run.
        await row.GetByRole(AriaRole.Link, new() { Name = Shard, Exact = true }).ClickAsync();
        await Expect(page.Locator("h1.page-header")).ToHaveTextAsync("Shard " + Shard);
        await page.Locator("#offlinetasks-reason").FillAsync("failover drill <b>bold</b>");
        await page.GetByRole(AriaRole.Button, new() { Name = "Force open" }).ClickAsync();
        await Expect(page.Locator(".offlinetasks-done")).ToContainTextAsync("Shard users-1 forced open by local");
        var audit = page.Locator("table.offlinetasks-audit tbody tr").First;
        await Expect(audit).ToContainTextAsync("local");
        await Expect(audit).ToContainTextAsync("force open");
        await Expect(audit).ToContainTextAsync("failover drill <b>bold</b>"); // the operator's text, as text
        var live = page.Locator($".offlinetasks-live tr[data-shard='{Shard}'] .offlinetasks-mode");
        await Expect(live).ToHaveTextAsync("forced open", Soon);
        await _schema.WaitForStateAsync(ids, SucceededState.StateName, Timeout);
        await page.ReloadAsync();
        await Expect(page.Locator("table.offlinetasks-events")).ToContainTextAsync("Released 3 parked jobs of shard users-1");
        await page.ScreenshotAsync(new() { Path = Screenshot("shard-page-forced-open.png"), FullPage = true });

        // Clear the switch: the gate's own decision (closed: browser-b still does not replicate) returns.
        await page.GetByRole(AriaRole.Button, new() { Name = "Clear the switch" }).ClickAsync();
        await Expect(page.Locator(".offlinetasks-done")).ToContainTextAsync("cleared by local");
        await Expect(live).ToHaveTextAsync("closed", Soon);
        await Expect(page.Locator("table.offlinetasks-audit tbody tr").First).ToContainTextAsync("cleared");
        Assert.Empty(await _schema.Store.GetSwitchesAsync());
    }

    /// <summary>A path under the repository's <c>TestResults/</c> (made if need be), for a person to look at.</summary>
    private static string Screenshot(string name)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "OfflineTasks.sln")))
        {
            dir = dir.Parent;
        }

        var results = Path.Combine(dir?.FullName ?? AppContext.BaseDirectory, "TestResults");
        Directory.CreateDirectory(results);
        return Path.Combine(results, name);
    }
}
