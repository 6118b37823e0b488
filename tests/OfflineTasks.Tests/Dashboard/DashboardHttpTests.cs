using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Hangfire;
using Hangfire.States;
using OfflineTasks.Gate;
using OfflineTasks.Hangfire;
using OfflineTasks.Host.Examples;
using OfflineTasks.Tests.Infrastructure;

namespace OfflineTasks.Tests.Dashboard;

/// <summary>
/// OfflineTasks' dashboard pages and the switch command over HTTP, against the host executable on a real PostgreSQL:
/// antiforgery, local-only access, encoding, the parked list, the alerts, the event stream, and the job page's own
/// Requeue and Delete on a parked job.
/// </summary>
public sealed partial class DashboardHttpTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_switch_needs_the_antiforgery_token_then_forces_the_shard_open_with_its_reason_encoded_and_clearing_it_returns_the_gate_s_decision()
    {
        await using var schema = new TestSchema();
        await schema.InitializeAsync();
        using var host = HostProcess.Start(HostProcess.Environment(schema, HostProcess.UnreachableShard));
        var dashboard = await DashboardAsync(host);
        var id = schema.Client.Enqueue<IPhotoIndexer>(x => x.ReindexAsync(7, 42, CancellationToken.None));
        await schema.WaitForStateAsync([id], ParkedState.StateName, Timeout);

        using var operator_ = new Browserless(dashboard);
        var page = await operator_.GetStringAsync("/offlinetasks/shard/users-7");
        Assert.Contains("<h1 class=\"page-header\">Shard users-7</h1>", page, StringComparison.Ordinal);
        Assert.Contains("No switch: the gate decides", page, StringComparison.Ordinal);
        var token = Token().Match(page).Groups[1].Value;
        Assert.NotEmpty(token);

        // No token, then a wrong one: refused, and nothing changed.
        using (var stranger = new Browserless(dashboard))
        {
            var refused = await stranger.PostAsync("/offlinetasks/shard/users-7/switch", ("action", "force_open"), ("reason", "no token"));
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        }

        var wrong = await operator_.PostAsync("/offlinetasks/shard/users-7/switch", ("__RequestVerificationToken", "wrong"), ("action", "force_open"), ("reason", "bad token"));
        Assert.Equal(HttpStatusCode.Forbidden, wrong.StatusCode);
        Assert.Empty(await schema.Store.GetSwitchesAsync());
        Assert.Empty(await schema.Store.GetSwitchAuditAsync());

        // A missing reason comes back to the page, saying so.
        var noReason = await operator_.PostAsync("/offlinetasks/shard/users-7/switch", ("__RequestVerificationToken", token), ("action", "force_open"), ("reason", " "));
        Assert.Equal(HttpStatusCode.SeeOther, noReason.StatusCode);
        var again = await operator_.GetStringAsync(noReason.Headers.Location!.OriginalString.Replace("/hangfire", "", StringComparison.Ordinal));
        Assert.Contains("Nothing changed: A switch on shard users-7 needs a reason", again, StringComparison.Ordinal);
        Assert.Empty(await schema.Store.GetSwitchesAsync());

        // With the token and a reason: forced open by "local" (no authenticated user), and the parked job runs.
        const string reason = "<script>alert(1)</script> failover drill";
        var forced = await operator_.PostAsync("/offlinetasks/shard/users-7/switch", ("__RequestVerificationToken", token), ("action", "force_open"), ("reason", reason), ("minutes", "30"));
        Assert.Equal(HttpStatusCode.SeeOther, forced.StatusCode);
        var sw = Assert.Single(await schema.Store.GetSwitchesAsync());
        Assert.Equal(("users-7", ShardMode.Open, reason, "local"), (sw.Shard, sw.Mode, sw.Reason, sw.Actor));
        Assert.InRange((sw.Until!.Value - sw.SetAt).TotalMinutes, 29.99, 30.01);
        await schema.WaitForStateAsync([id], SucceededState.StateName, Timeout);

        page = await Eventually.Until(() => operator_.GetStringAsync("/offlinetasks/shard/users-7"), p => p.Contains("data-kind=\"switch\"", StringComparison.Ordinal),
            Timeout, "the switch in the shard's events");
        Assert.DoesNotContain("<script>alert(1)", page, StringComparison.Ordinal);
        Assert.Contains("Forced open by local", page, StringComparison.Ordinal);
        Assert.Matches(@"<td>local</td><td>force open</td><td>&lt;script&gt;alert\(1\)&lt;/script&gt; failover drill</td>", page); // the audit log
        Assert.Contains("forced open by local until ", page, StringComparison.Ordinal); // the state, refreshed in place

        // The event stream, as JSON: the same fields chat got.
        var events = JsonDocument.Parse(await operator_.GetStringAsync("/offlinetasks/events.json?shard=users-7")).RootElement;
        var switched = events.EnumerateArray().First(e => e.GetProperty("kind").GetString() == "switch");
        Assert.Equal(("forced_open", "local", reason, "offlinetasks"),
            (switched.GetProperty("state").GetString(), switched.GetProperty("actor").GetString(), switched.GetProperty("reason").GetString(), switched.GetProperty("source").GetString()));
        Assert.StartsWith("Switch on shard users-7: forced open by local until ", switched.GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.True(switched.GetProperty("id").GetInt64() > 0);
        Assert.Contains(events.EnumerateArray(), e => e.GetProperty("kind").GetString() == "release" && e.GetProperty("released").GetInt32() == 1);

        // Cleared: the gate's own decision (closed: the masters are unreachable) returns.
        var cleared = await operator_.PostAsync("/offlinetasks/shard/users-7/switch", ("__RequestVerificationToken", token), ("action", "clear"), ("reason", "drill over"));
        Assert.Equal(HttpStatusCode.SeeOther, cleared.StatusCode);
        Assert.Empty(await schema.Store.GetSwitchesAsync());
        await Eventually.Until(() => schema.Store.GetShardStatesAsync(), s => s.Single().Mode == ShardMode.Closed && !s.Single().Reason.Contains("forced", StringComparison.Ordinal),
            Timeout, "users-7 closed by the gate again");
        Assert.Equal(["cleared", "force_open"], (await schema.Store.GetSwitchAuditAsync("users-7")).Select(a => a.Action));
    }

    [Fact]
    public async Task A_remote_client_behind_a_local_proxy_is_refused_without_an_authorization_policy_and_changes_nothing()
    {
        await using var schema = new TestSchema();
        await schema.InitializeAsync();
        using var host = HostProcess.Start(HostProcess.Environment(schema, HostProcess.UnreachableShard));
        var dashboard = await DashboardAsync(host);

        // A reverse proxy on this machine forwards a remote client's requests: they come from a loopback address, and
        // only the forwarding header says who asked. The host takes the client's address from a loopback proxy's
        // header, so Hangfire's local-requests-only filter sees the remote client, not the proxy.
        using var proxy = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false });
        proxy.DefaultRequestHeaders.Add("X-Forwarded-For", "203.0.113.7");
        Assert.Equal(HttpStatusCode.Unauthorized, (await proxy.GetAsync(dashboard + "/offlinetasks/shards")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await proxy.GetAsync(dashboard + "/")).StatusCode);
        using var form = new FormUrlEncodedContent([new("action", "force_open"), new("reason", "from afar")]);
        Assert.Equal(HttpStatusCode.Unauthorized, (await proxy.PostAsync(dashboard + "/offlinetasks/shard/users-7/switch", form)).StatusCode);
        Assert.Empty(await schema.Store.GetSwitchAuditAsync());

        // The same page for a client on this machine is served.
        using var local = new HttpClient();
        Assert.Equal(HttpStatusCode.OK, (await local.GetAsync(dashboard + "/offlinetasks/shards")).StatusCode);
    }

    [Fact]
    public async Task Parked_jobs_are_listed_with_paging_the_job_page_s_Requeue_parks_again_and_Delete_leaves_the_shard_s_set()
    {
        await using var schema = new TestSchema();
        await schema.InitializeAsync();
        using var host = HostProcess.Start(HostProcess.Environment(schema, HostProcess.UnreachableShard));
        var dashboard = await DashboardAsync(host);
        var ids = Enumerable.Range(0, 3).Select(i => schema.Client.Enqueue<IPhotoIndexer>(x => x.ReindexAsync(7, 100 + i, CancellationToken.None))).ToList();
        await schema.WaitForStateAsync(ids, ParkedState.StateName, Timeout);

        using var operator_ = new Browserless(dashboard);
        var all = await operator_.GetStringAsync("/offlinetasks/parked");
        Assert.All(ids, id => Assert.Contains($"<tr data-job=\"{id}\">", all, StringComparison.Ordinal));
        Assert.Contains("<a href=\"/hangfire/offlinetasks/shard/users-7\">users-7</a>", all, StringComparison.Ordinal);
        Assert.Contains("users-7a unreachable", all, StringComparison.Ordinal);
        Assert.Matches(@"Parked\s*<span class=""pull-right"">\s*<span data-metric=""offlinetasks:parked"" class=""metric metric-info\s*"">3</span>", all); // in the jobs' sidebar, counted

        var first = await operator_.GetStringAsync("/offlinetasks/parked/users-7?from=0&count=2");
        var second = await operator_.GetStringAsync("/offlinetasks/parked/users-7?from=2&count=2");
        Assert.Equal(2, Rows().Count(first));
        Assert.Equal(1, Rows().Count(second));
        Assert.Equal(ids.Order(), Rows().Matches(first).Concat(Rows().Matches(second)).Select(m => m.Groups[1].Value).Order());
        Assert.Contains("<a href=\"/hangfire/offlinetasks/parked/users-7?from=2&amp;count=2\" class=\"btn btn-default btn-sm \">", first, StringComparison.Ordinal); // Next

        // Hangfire's own buttons on the job page: Requeue parks the job again (its shard is closed; the history says
        // why), Delete takes it out of the shard's set. Both are POSTs with the antiforgery header the dashboard's script sends.
        var jobPage = await operator_.GetStringAsync("/jobs/details/" + ids[0]);
        var header = Meta("csrf-header").Match(jobPage).Groups[1].Value;
        var token = Meta("csrf-token").Match(jobPage).Groups[1].Value;
        Assert.Equal(HttpStatusCode.Forbidden, (await operator_.PostAsync("/jobs/actions/requeue/" + ids[0])).StatusCode); // no header
        // Hangfire answers 422 ("not requeued"): the job did not end up Enqueued, the gate parked it again.
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await operator_.PostAsync("/jobs/actions/requeue/" + ids[0], header, token)).StatusCode);
        var history = schema.HistoryOf(ids[0]);
        Assert.Equal([ParkedState.StateName, EnqueuedState.StateName, ParkedState.StateName], history.TakeLast(3).Select(h => h.StateName));
        Assert.Equal(3, Parked(schema));

        Assert.Equal(HttpStatusCode.NoContent, (await operator_.PostAsync("/jobs/actions/delete/" + ids[1], header, token)).StatusCode);
        Assert.Equal(DeletedState.StateName, schema.StateOf(ids[1]));
        Assert.Equal(2, Parked(schema));
        Assert.DoesNotContain($"data-job=\"{ids[1]}\"", await operator_.GetStringAsync("/offlinetasks/parked"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_alerts_page_shows_each_rule_s_value_marks_and_state_and_the_events_page_shows_the_stream()
    {
        await using var schema = new TestSchema();
        await schema.InitializeAsync();
        using var host = HostProcess.Start(HostProcess.Environment(schema, [.. HostProcess.UnreachableShard,
            ("OfflineTasks__Telemetry__Alerts__Rules__5__Name", "users-7-parked"), ("OfflineTasks__Telemetry__Alerts__Rules__5__Kind", "ShardParked"),
            ("OfflineTasks__Telemetry__Alerts__Rules__5__Shard", "users-7"), ("OfflineTasks__Telemetry__Alerts__Rules__5__High", "1"),
            ("OfflineTasks__Telemetry__Alerts__Rules__5__Low", "0.5"), ("OfflineTasks__Telemetry__Alerts__Rules__5__For", "00:00:00")]));
        var dashboard = await DashboardAsync(host);
        var id = schema.Client.Enqueue<IPhotoIndexer>(x => x.ReindexAsync(7, 1, CancellationToken.None));
        await schema.WaitForStateAsync([id], ParkedState.StateName, Timeout);

        using var operator_ = new Browserless(dashboard);
        var alerts = await Eventually.Until(() => operator_.GetStringAsync("/offlinetasks/alerts"), p => p.Contains(">firing</span>", StringComparison.Ordinal),
            Timeout, "the rule firing on the alerts page");
        Assert.Matches(@"<tr data-rule=""users-7-parked""><td><strong>users-7-parked</strong></td><td><a href=""/hangfire/offlinetasks/shard/users-7"">shard users-7 parked jobs</a></td><td>1</td><td>1 / 0.5</td><td>0 s</td>", alerts);
        Assert.Matches(@"<li class=""active"">\s*<a href=""/hangfire/offlinetasks/alerts"">\s*Alerts", alerts);

        var events = await Eventually.Until(() => operator_.GetStringAsync("/offlinetasks/events"), p => p.Contains("ALERT users-7-parked FIRING", StringComparison.Ordinal),
            Timeout, "the alert in the event stream");
        Assert.Matches(@"<tr data-kind=""shard"">.*<span class=""label label-danger"">shard</span></td><td><a href=""/hangfire/offlinetasks/shard/users-7"">users-7</a></td><td class=""offlinetasks-event-text"">Shard users-7 closed: ", events);
        var stored = await schema.Store.GetEventsAsync();
        Assert.Contains(stored, e => e.Kind == "alert" && e.Shard == "users-7");
        Assert.Contains(stored, e => e.Kind == "shard" && e.Shard == "users-7" && e.Text.StartsWith("Shard users-7 closed: ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_forced_switch_survives_a_host_restart_and_the_next_leader_keeps_it()
    {
        await using var schema = new TestSchema();
        await schema.InitializeAsync();
        var environment = HostProcess.Environment(schema, [.. HostProcess.UnreachableShard, ("OfflineTasks__Gate__LeaderLease", "00:00:01")]);
        using (var first = HostProcess.Start(environment))
        {
            await first.MetricsUrlAsync(Timeout);
            await Eventually.Until(() => schema.Store.GetShardStatesAsync(), s => s.Count == 1 && s[0].Mode == ShardMode.Closed, Timeout, "users-7 closed");
            await schema.Store.SetSwitchAsync("users-7", ShardMode.Open, "maintenance on the replica", "ops", DateTimeOffset.UtcNow);
            await Eventually.Until(() => schema.Store.GetShardStatesAsync(), s => s[0].Mode == ShardMode.Open, Timeout, "users-7 forced open");
        }

        // The first host is gone (killed: it did not resign); the next one takes the prober's role once the lease ends.
        var restarted = DateTimeOffset.UtcNow;
        using var second = HostProcess.Start(environment);
        await second.MetricsUrlAsync(Timeout);
        var state = await Eventually.Until(async () => (await schema.Store.GetShardStatesAsync()).Single(), s => s.UpdatedAt > restarted.AddSeconds(1.5),
            Timeout, "the new leader's first write");
        Assert.Equal(ShardMode.Open, state.Mode);
        Assert.StartsWith("forced open by ops: maintenance on the replica (measured: closed: ", state.Reason, StringComparison.Ordinal);
        Assert.Single(await schema.Store.GetSwitchesAsync());
    }

    private static async Task<string> DashboardAsync(HostProcess host) => (await host.MetricsUrlAsync(Timeout)).Replace("/metrics", "/hangfire", StringComparison.Ordinal);

    private static long Parked(TestSchema schema)
    {
        using var connection = (global::Hangfire.Storage.JobStorageConnection)schema.Storage.GetConnection();
        return connection.GetSetCount(ParkedState.SetKey("users-7", false));
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex Token();

    [GeneratedRegex("<tr data-job=\"([^\"]+)\">")]
    private static partial Regex Rows();

    private static Regex Meta(string name) => new($"<meta name=\"{name}\" content=\"([^\"]+)\"");

    /// <summary>An HTTP client that keeps cookies (the antiforgery cookie) and does not follow redirects.</summary>
    private sealed class Browserless(string dashboard) : IDisposable
    {
        private readonly HttpClient _http = new(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false });

        public Task<string> GetStringAsync(string path) => _http.GetStringAsync(dashboard + path);

        public async Task<HttpResponseMessage> PostAsync(string path, params (string Key, string Value)[] form)
        {
            using var content = new FormUrlEncodedContent(form.Select(f => new KeyValuePair<string, string>(f.Key, f.Value)));
            return await _http.PostAsync(dashboard + path, content);
        }

        public async Task<HttpResponseMessage> PostAsync(string path, string header, string token)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, dashboard + path) { Content = new FormUrlEncodedContent([]) };
            request.Headers.Add(header, token);
            return await _http.SendAsync(request);
        }

        public void Dispose() => _http.Dispose();
    }
}
